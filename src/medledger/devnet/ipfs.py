"""A throwaway js-ipfs daemon on loopback, for tests and local development.

js-ipfs (npm `ipfs` 0.66.1) on Node 20 needs a `Promise.withResolvers` polyfill preloaded with
NODE_OPTIONS=--require, `init --profile test`, no swarm addresses and `daemon --offline`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from medledger.errors import MedLedgerError

from .ports import free_loopback_port

IPFS_CLI = Path("node_modules") / "ipfs" / "src" / "cli.js"
# Shipped inside the package, so the daemon starts from any checkout or installation.
POLYFILL = Path(__file__).resolve().parent / "ipfs-polyfill.cjs"


class IpfsDaemonError(MedLedgerError, RuntimeError):
    """The daemon could not be located, initialised or started."""


def find_project_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The nearest directory holding node_modules/ipfs, searching up from `start`, the
    current directory and this package's location."""
    starts = [Path(start)] if start is not None else [Path.cwd(), Path(__file__).resolve().parent]
    for origin in starts:
        for directory in (origin.resolve(), *origin.resolve().parents):
            if (directory / IPFS_CLI).is_file():
                return directory
    where = ", ".join(str(s) for s in starts)
    raise IpfsDaemonError(
        f"node_modules/ipfs not found above {where}: run `npm ci` in the project root (package.json pins ipfs 0.66.1)"
    )


class IpfsDaemon:
    """Start js-ipfs offline on free 127.0.0.1 ports; stop it by process group.

    Use as a context manager, or call start() and stop(). If `repo_dir` is None a temporary
    repo is created and deleted on stop(); a given `repo_dir` is initialised if empty and kept.
    """

    def __init__(
        self,
        repo_dir: str | os.PathLike[str] | None = None,
        *,
        project_root: str | os.PathLike[str] | None = None,
        node: str = "node",
        api_port: int | None = None,
        gateway_port: int | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        root = Path(project_root) if project_root is not None else find_project_root()
        self.cli = root / IPFS_CLI
        if not self.cli.is_file():
            raise IpfsDaemonError(f"{self.cli} is missing: run `npm ci` in {root}")
        self.project_root = root
        self.node = shutil.which(node) or node
        self._given_repo = Path(repo_dir) if repo_dir is not None else None
        self._fixed_ports = (api_port, gateway_port)
        self.startup_timeout = startup_timeout
        self.api_port: int | None = None
        self.gateway_port: int | None = None
        self.repo_dir: Path | None = None
        self.log_path: Path | None = None
        self._workdir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # -- public -------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        if self.api_port is None:
            raise IpfsDaemonError("daemon not started")
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def gateway_url(self) -> str:
        if self.gateway_port is None:
            raise IpfsDaemonError("daemon not started")
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> IpfsDaemon:
        if self.running:
            return self
        self._workdir = Path(tempfile.mkdtemp(prefix="medledger-ipfs-"))
        self.repo_dir = self._given_repo or self._workdir / "repo"
        self.log_path = self._workdir / "daemon.log"
        env = self._env()
        try:
            if not (self.repo_dir / "config").is_file():
                self._run_init(env)
            # Ports picked automatically can be taken by someone else before node binds them.
            attempts = 1 if all(self._fixed_ports) else 3
            for attempt in range(attempts):
                self._configure()
                self._spawn(env)
                try:
                    self._wait_ready()
                    return self
                except IpfsDaemonError:
                    log = self._log_tail()
                    self._kill()
                    if "EADDRINUSE" in log and attempt + 1 < attempts:
                        continue
                    raise
        except BaseException:
            self.stop()
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def init(self) -> None:
        """Initialise the repo (`init --profile test`) without starting the daemon."""
        if self._given_repo is None:
            raise IpfsDaemonError("init() needs a repo_dir (a temporary repo is made by start())")
        if (self._given_repo / "config").is_file():
            return
        self._workdir = Path(tempfile.mkdtemp(prefix="medledger-ipfs-"))
        self.repo_dir = self._given_repo
        try:
            self._run_init(self._env())
        finally:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def stop(self) -> None:
        self._kill()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)  # includes an owned temp repo
            self._workdir = None

    def __enter__(self) -> IpfsDaemon:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- steps --------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        assert self._workdir is not None and self.repo_dir is not None
        polyfill = POLYFILL
        env = dict(os.environ)
        env["IPFS_PATH"] = str(self.repo_dir)
        env["NODE_OPTIONS"] = f'{env.get("NODE_OPTIONS", "")} --require "{polyfill}"'.strip()
        return env

    def _run_init(self, env: dict[str, str]) -> None:
        assert self.repo_dir is not None
        self.repo_dir.mkdir(parents=True, exist_ok=True)
        try:
            result = subprocess.run(
                [self.node, str(self.cli), "init", "--profile", "test"],
                env=env,
                cwd=self._workdir,
                capture_output=True,
                timeout=self.startup_timeout,
            )
        except FileNotFoundError as exc:
            raise IpfsDaemonError(f"cannot run node ({self.node}): {exc}") from exc
        except subprocess.TimeoutExpired as exc:
            raise IpfsDaemonError(f"`jsipfs init` did not finish within {self.startup_timeout}s") from exc
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace")[-2000:]
            raise IpfsDaemonError(f"`jsipfs init --profile test` failed ({result.returncode}):\n{output}")

    def _configure(self) -> None:
        # Editing the JSON directly saves a Node start-up (~1 s) per `jsipfs config` call.
        assert self.repo_dir is not None
        api, gateway = self._fixed_ports
        self.api_port = api or free_loopback_port()
        self.gateway_port = gateway or free_loopback_port()
        path = self.repo_dir / "config"
        config = json.loads(path.read_text())
        addresses = config.setdefault("Addresses", {})
        addresses["Swarm"] = []
        addresses["API"] = f"/ip4/127.0.0.1/tcp/{self.api_port}"
        addresses["Gateway"] = f"/ip4/127.0.0.1/tcp/{self.gateway_port}"
        addresses["RPC"] = f"/ip4/127.0.0.1/tcp/{free_loopback_port()}"  # gRPC-over-websocket
        addresses["Delegates"] = []
        config["Bootstrap"] = []
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(config, indent=2))
        os.replace(tmp, path)

    def _spawn(self, env: dict[str, str]) -> None:
        assert self.log_path is not None
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [self.node, str(self.cli), "daemon", "--offline"],
                env=env,
                cwd=self._workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, so stop() reaches every child
            )

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        url = f"{self.api_url}/api/v0/id"
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise IpfsDaemonError(
                        f"js-ipfs daemon exited with {self._process.returncode}:\n" + self._log_tail()
                    )
                try:
                    if client.post(url).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise IpfsDaemonError(
            f"js-ipfs daemon not ready at {self.api_url} after {self.startup_timeout}s:\n" + self._log_tail()
        )

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        process.wait()

    def _log_tail(self, limit: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:] if self.log_path else ""
        except OSError:
            return ""


class IpfsDaemons:
    """Several js-ipfs daemons, started in parallel (for replication tests and benchmarks).

    Each keeps its repo under `root` and its ports, so `daemons[i].stop()` then
    `daemons[i].start()` brings the same node back at the same URLs."""

    def __init__(self, count: int, root: str | os.PathLike[str], **options: object) -> None:
        self.daemons = [
            IpfsDaemon(
                Path(root) / f"ipfs-{index}",
                api_port=free_loopback_port(),
                gateway_port=free_loopback_port(),
                **options,  # type: ignore[arg-type]
            )
            for index in range(count)
        ]

    def start(self) -> IpfsDaemons:
        """Initialise the first repo, copy it to the others (js-ipfs's init costs far more than a
        start; the copies share its peer identity, harmless for offline daemons without swarm
        addresses), then start every daemon in parallel."""
        first = self.daemons[0]
        assert first._given_repo is not None
        if not (first._given_repo / "config").is_file():
            first.init()
        for daemon in self.daemons[1:]:
            assert daemon._given_repo is not None
            if not (daemon._given_repo / "config").is_file():
                shutil.copytree(first._given_repo, daemon._given_repo, dirs_exist_ok=True)
        errors: list[BaseException] = []

        def run(daemon: IpfsDaemon) -> None:
            try:
                daemon.start()
            except BaseException as exc:  # re-raised below, after every thread ended
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(daemon,)) for daemon in self.daemons]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            self.stop()
            raise errors[0]
        return self

    def stop(self) -> None:
        for daemon in self.daemons:
            daemon.stop()

    def __getitem__(self, index: int) -> IpfsDaemon:
        return self.daemons[index]

    def __iter__(self) -> Iterator[IpfsDaemon]:
        return iter(self.daemons)

    def __len__(self) -> int:
        return len(self.daemons)

    def __enter__(self) -> IpfsDaemons:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
