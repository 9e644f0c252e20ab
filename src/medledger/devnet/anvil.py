"""A local anvil node on loopback, for tests, benchmarks and `medledger devnet`.

The binary ships in npm `@foundry-rs/anvil-linux-amd64`; it is run directly (its Node wrapper
adds nothing) and is ready in well under a second.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import subprocess
import time
from pathlib import Path

import httpx

from medledger.devnet.ports import free_loopback_port
from medledger.errors import MedLedgerError

ANVIL_CHAIN_ID = 31337


class AnvilError(MedLedgerError, RuntimeError):
    """anvil could not be found or started."""


def find_anvil(start: str | os.PathLike[str] | None = None) -> Path:
    """The anvil binary from node_modules, searching up from `start`, the cwd and this package."""
    machine = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), platform.machine())
    relative = Path("node_modules") / "@foundry-rs" / f"anvil-linux-{machine}" / "bin" / "anvil"
    starts = [Path(start)] if start is not None else [Path.cwd(), Path(__file__).resolve().parent]
    for origin in starts:
        for directory in (origin.resolve(), *origin.resolve().parents):
            if (directory / relative).is_file():
                return directory / relative
    raise AnvilError(f"{relative} not found: run `npm ci` in the project root (package.json pins @foundry-rs/anvil)")


class AnvilNode:
    """anvil on a free 127.0.0.1 port; stopped by its process id.

    `state_file` keeps the chain across restarts (`--state`), for `medledger devnet`.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        chain_id: int = ANVIL_CHAIN_ID,
        state_file: Path | None = None,
        automine: bool = True,
        block_time: float | None = None,
        binary: Path | None = None,
        log_file: Path | None = None,
    ):
        self.port = port or free_loopback_port()
        self.chain_id = chain_id
        self.state_file = state_file
        self.automine = automine
        self.block_time = block_time
        self.binary = binary or find_anvil()
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def command(self) -> list[str]:
        command = [
            str(self.binary),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
            "--silent",
        ]
        if self.state_file is not None:
            command += ["--state", str(self.state_file)]
        if self.block_time:
            command += ["--block-time", str(self.block_time)]
        elif not self.automine:
            command += ["--no-mining"]
        return command

    def start(self, timeout: float = 15.0) -> AnvilNode:
        # The child keeps its own descriptor of the log; this process closes its copy at once.
        with contextlib.ExitStack() as stack:
            output = stack.enter_context(open(self.log_file, "ab")) if self.log_file else subprocess.DEVNULL
            self.process = subprocess.Popen(
                self.command(), stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AnvilError(f"anvil exited with code {self.process.returncode} on port {self.port}")
            if self.is_ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise AnvilError(f"anvil did not answer on {self.rpc_url} within {timeout:.0f} s")

    def is_ready(self) -> bool:
        try:
            self.rpc("eth_chainId")
            return True
        except (httpx.HTTPError, AnvilError):
            return False

    def rpc(self, method: str, params: list[object] | None = None) -> object:
        response = httpx.post(
            self.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=10
        )
        body = response.json()
        if "error" in body:
            raise AnvilError(f"{method} failed: {body['error'].get('message')}")
        return body["result"]

    def snapshot(self) -> str:
        return str(self.rpc("evm_snapshot"))

    def revert(self, snapshot_id: str) -> None:
        if self.rpc("evm_revert", [snapshot_id]) is not True:
            raise AnvilError(f"snapshot {snapshot_id} could not be restored")

    def set_automine(self, enabled: bool) -> None:
        self.rpc("evm_setAutomine", [enabled])

    def stop(self, timeout: float = 10.0) -> None:
        """Stop by process group (SIGTERM, then SIGKILL); with --state, anvil writes its state on SIGTERM."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
