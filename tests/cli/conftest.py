"""Fixtures for the CLI tests: the real `medledger` entry point, run in-process with click's
CliRunner (cheap cases) or as the installed console script in a subprocess (demo, devnet, a
walkthrough), against the session anvil (snapshot/revert per test) and the real IPFS daemon.

Every test gets its own --home and deployments directory under tmp_path, and no MEDLEDGER_*
variable leaks in from the environment running the tests. Deployments that readers read from get
three real key-release services (2 of 3: HTTP servers on loopback in threads of the test process,
started and stopped by the fixtures) as their current service set."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from eth_utils import keccak

from medledger.chain.accounts import Signer, anvil_account
from medledger.chain.connection import connect
from medledger.cli import main
from medledger.crypto import derive_encryption_keypair
from medledger.devnet.anvil import AnvilNode
from medledger.devnet.ipfs import IpfsDaemon
from medledger.flows import release
from medledger.keyservice.config import ServiceConfig
from medledger.keyservice.server import ServiceThread
from medledger.keyservice.service import ReleaseService
from medledger.ledger import MedLedger

# The cast, by anvil dev account index.
ADMIN, REGISTRAR, CLINIC, PATIENT, LAB, STRANGER = 0, 1, 2, 3, 4, 5
SUBPROCESS_TIMEOUT = 120
ADMIN_DELAY = 2 * 86400  # `medledger deploy`'s default --admin-delay
SERVICES, THRESHOLD = 3, 2


def address(index: int) -> str:
    return anvil_account(index).address


def medledger_executable() -> str:
    """The installed console script (there is no `python -m medledger.cli`)."""
    beside = Path(sys.executable).parent / "medledger"
    if beside.is_file():
        return str(beside)
    found = shutil.which("medledger")
    if found is None:
        pytest.fail("the `medledger` console script is not installed in this environment")
    return found


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """os.environ without any MEDLEDGER_* setting, plus `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MEDLEDGER_")}
    env.update(extra or {})
    return env


def one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{text}"
    return lines[0]


def assert_clear_failure(result: Result | subprocess.CompletedProcess, code: int) -> str:
    """The command failed with `code`, printed exactly one line on stderr and no traceback; returns it."""
    stdout, stderr = result.stdout, result.stderr
    assert "Traceback" not in stdout + stderr, stdout + stderr
    if isinstance(result, Result):
        assert isinstance(result.exception, SystemExit), repr(result.exception)
        assert result.exit_code == code, (result.exit_code, stdout + stderr)
    else:
        assert result.returncode == code, (result.returncode, stdout + stderr)
    return one_line(stderr)


@pytest.fixture(autouse=True)
def _no_medledger_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("MEDLEDGER_"):
            monkeypatch.delenv(key)


@pytest.fixture(autouse=True)
def _fresh_key_release_client() -> Iterator[None]:
    """In-process commands read with a new client per test: no directory cached from another."""
    yield
    with release._default_lock:
        if release._default_client is not None:
            release._default_client.close()
            release._default_client = None


def service_signer(index: int) -> Signer:
    """Key-release service `index` (1-based): a fixed test key with no role and no credential."""
    return Signer.from_private_key(keccak(text=f"medledger cli test key-release service {index}"))


class KeyServices:
    """A current 2-of-3 service set on a deployment, each service a ServiceThread."""

    def __init__(self, anvil: AnvilNode, ledger_address: str, directory: Path):
        self.threads: list[ServiceThread] = []
        chain = connect(anvil.rpc_url)
        signers = [service_signer(i) for i in range(1, SERVICES + 1)]
        ledger = MedLedger(chain, ledger_address, signer=anvil_account(ADMIN))
        for signer in signers:
            anvil.rpc("anvil_setBalance", [signer.address, hex(10**20)])
        keys = [derive_encryption_keypair(s.private_key_bytes()).public for s in signers]
        ledger.services.propose([s.address for s in signers], keys, THRESHOLD)
        chain.increase_time(ADMIN_DELAY + 1)
        directory.mkdir(parents=True, exist_ok=True)
        try:
            for index, signer in enumerate(signers, start=1):
                config = ServiceConfig(
                    rpc_url=anvil.rpc_url,
                    ledger=ledger_address,
                    chain_id=chain.chain_id,
                    database=directory / f"releases-{index}.sqlite",
                    private_key_env="MEDLEDGER_UNUSED",
                    rate_limit=1000.0,
                    rate_burst=1000,
                )
                thread = ServiceThread(ReleaseService(config, signer=signer, chain=connect(anvil.rpc_url))).start()
                self.threads.append(thread)
                ledger.as_signer(signer).services.set_endpoint(thread.url)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for thread in self.threads:
            thread.stop()
        self.threads = []


def ledger_address(cli: Cli) -> str:
    return json.loads(next(cli.deployments.glob("*.json")).read_text())["contracts"]["MedLedger"]["address"]


@pytest.fixture
def chain_snapshot(anvil: AnvilNode) -> Iterator[AnvilNode]:
    """The session anvil, restored after the test."""
    snapshot = anvil.snapshot()
    try:
        yield anvil
    finally:
        anvil.revert(snapshot)


@dataclass
class Cli:
    """One user's `medledger`: its own home and deployments directory, pointed at the test nodes."""

    home: Path
    deployments: Path
    anvil: AnvilNode
    ipfs_api: str | None
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)

    # -- arguments ---------------------------------------------------------------------------
    def connection(
        self, account: int | None = None, *, rpc_url: str | None = None, ipfs_api: str | None = None
    ) -> list[str]:
        args = ["--rpc-url", rpc_url or self.anvil.rpc_url, "--deployments", str(self.deployments)]
        api = ipfs_api or self.ipfs_api
        if api:
            args += ["--ipfs-api", api]
        if account is not None:
            args += ["--dev-account", str(account)]
        return args

    def argv(self, args: Sequence[str], *, account: int | None, connect: bool, as_json: bool) -> list[str]:
        argv = ["--home", str(self.home)] + (["--json"] if as_json else []) + [str(a) for a in args]
        if connect:
            argv += self.connection(account)
        return argv

    # -- running -----------------------------------------------------------------------------
    def invoke(
        self,
        *args: object,
        account: int | None = None,
        connect: bool = True,
        as_json: bool = False,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
    ) -> Result:
        """Run in-process with CliRunner (stdin is not a terminal)."""
        runner = CliRunner()
        return runner.invoke(
            main,
            self.argv([str(a) for a in args], account=account, connect=connect, as_json=as_json),
            env={**self.env, **(env or {})},
            input=input,
            catch_exceptions=True,
        )

    def ok(self, *args: object, **kwargs) -> Result:
        result = self.invoke(*args, **kwargs)
        assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
        return result

    def json(self, *args: object, **kwargs) -> object:
        return json.loads(self.ok(*args, as_json=True, **kwargs).stdout)

    def grant(
        self, grantee: str, *, categories: str = "labs", purpose: str = "treatment", expires: str = "30d"
    ) -> Result:
        """The patient's confirmed `consent grant` (the scene most tests set before what they test)."""
        return self.ok(
            "consent",
            "grant",
            grantee,
            "--categories",
            categories,
            "--purpose",
            purpose,
            "--expires",
            expires,
            "--yes",
            account=PATIENT,
        )

    def run(
        self,
        *args: object,
        account: int | None = None,
        connect: bool = True,
        as_json: bool = False,
        env: Mapping[str, str] | None = None,
        timeout: float = SUBPROCESS_TIMEOUT,
    ) -> subprocess.CompletedProcess:
        """Run the installed console script in a subprocess (no terminal on stdin)."""
        argv = [
            medledger_executable(),
            *self.argv([str(a) for a in args], account=account, connect=connect, as_json=as_json),
        ]
        return subprocess.run(
            argv,
            cwd=self.workdir,
            env=clean_environ({**self.env, **(env or {})}),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def run_ok(self, *args: object, **kwargs) -> subprocess.CompletedProcess:
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
        return result

    # -- chain state -------------------------------------------------------------------------
    def nonce(self, index: int) -> int:
        return int(str(self.anvil.rpc("eth_getTransactionCount", [address(index), "latest"])), 16)

    def nonces(self) -> list[int]:
        return [self.nonce(i) for i in range(10)]


def new_cli(tmp_path: Path, anvil: AnvilNode, ipfs_api: str | None) -> Cli:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    return Cli(
        home=tmp_path / "home", deployments=tmp_path / "deployments", anvil=anvil, ipfs_api=ipfs_api, workdir=workdir
    )


@pytest.fixture
def cli(tmp_path: Path, chain_snapshot: AnvilNode, ipfs_daemon: IpfsDaemon) -> Cli:
    """A `medledger` with nothing deployed yet, on anvil (reverted after the test) and the IPFS daemon."""
    return new_cli(tmp_path, chain_snapshot, ipfs_daemon.api_url)


def _build_world(cli: Cli) -> Cli:
    cli.ok("deploy", "--registrar", address(REGISTRAR), account=ADMIN)
    cli.ok("provider", "register", address(CLINIC), "--kind", "clinician", account=REGISTRAR)
    cli.ok("keys", "publish", account=CLINIC)
    cli.ok("keys", "publish", account=PATIENT)
    return cli


@pytest.fixture(scope="module")
def world_template(
    tmp_path_factory: pytest.TempPathFactory, anvil: AnvilNode, ipfs_daemon: IpfsDaemon
) -> Iterator[Cli]:
    """Built once per module (chain state reverted at its end); each test gets copies of its files."""
    snapshot = anvil.snapshot()
    services = None
    try:
        built = _build_world(new_cli(tmp_path_factory.mktemp("world"), anvil, ipfs_daemon.api_url))
        services = KeyServices(anvil, ledger_address(built), tmp_path_factory.mktemp("services"))
        yield built
    finally:
        if services is not None:
            services.stop()
        anvil.revert(snapshot)


@pytest.fixture
def world(world_template: Cli, tmp_path: Path, chain_snapshot: AnvilNode) -> Cli:
    """Deployed with a registrar; the clinic registered; clinic and patient keys published; a
    current 2-of-3 key-release service set, served. Its own copy of home and deployments; chain
    state reverted after the test."""
    cli = new_cli(tmp_path, chain_snapshot, world_template.ipfs_api)
    for source, target in ((world_template.home, cli.home), (world_template.deployments, cli.deployments)):
        if source.exists():
            shutil.copytree(source, target)
    return cli


@pytest.fixture
def lab_result(tmp_path: Path) -> Path:
    path = tmp_path / "hba1c.json"
    path.write_text(
        json.dumps(
            {"resourceType": "Observation", "code": {"text": "HbA1c"}, "valueQuantity": {"value": 6.1, "unit": "%"}}
        )
    )
    return path
