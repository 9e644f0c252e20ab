"""Fixtures for the key-release tests: one deployment with a 3-of-5 service set on the session's
anvil, five real services (`medledger keyservice serve` subprocesses on loopback, stopped by pid)
shared by the whole module, and a snapshot of the chain reverted after each test.

Records are written here directly as threshold containers (format version 3: sealed to the
patient, bound to the patient as author, the key split 3-of-5 over the set), stored in the
embedded block store, and registered on chain by the patient.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from eth_utils import keccak

from medledger.chain.accounts import Signer
from medledger.chain.connection import Chain
from medledger.chain.deploy import Deployment, LedgerSettings, deploy
from medledger.crypto.container import AccountRecipient, ServiceRecipient, ThresholdPolicy, encrypt_stream
from medledger.crypto.keys import derive_encryption_keypair
from medledger.devnet.anvil import AnvilNode
from medledger.devnet.ports import free_loopback_port
from medledger.flows import Session
from medledger.ledger import MedLedger, ProviderKind
from medledger.scopes import Category, Permission, Purpose, mask
from medledger.storage import Cid, LocalBlockStore

SERVICE_COUNT = 5
THRESHOLD = 3
KEY_VARIABLE = "MEDLEDGER_TEST_SERVICE_KEY"
FAULTY = Path(__file__).with_name("faulty_service.py")
READY_TIMEOUT = 120.0  # a cap for a loaded 2-core machine, not a measurement
ADMIN_DELAY = 60  # seconds before a proposed service set activates


def service_signer(index: int) -> Signer:
    """Service `index` (1-based): a fixed test key, no role, not a provider."""
    return Signer.from_private_key(keccak(text=f"medledger test key-release service {index}"))


@dataclass
class ServiceProcess:
    index: int
    signer: Signer
    port: int
    config: Path
    logs: Path
    process: subprocess.Popen | None = None
    paused: bool = False
    faulty: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.config.parent / f"releases-{self.index}.sqlite"


@dataclass
class Fleet:
    """The five services: start, stop (SIGTERM, by pid), pause (SIGSTOP) and resume them."""

    services: list[ServiceProcess] = field(default_factory=list)

    def __getitem__(self, index: int) -> ServiceProcess:
        return self.services[index - 1]

    def start(self, index: int, *, faulty: bool = False, wait: bool = True) -> None:
        service = self[index]
        assert service.process is None, f"service {index} is already running"
        program = (
            [sys.executable, str(FAULTY), str(service.config)]
            if faulty
            else [sys.executable, "-m", "medledger.cli", "keyservice", "serve", "--config", str(service.config)]
        )
        env = {**os.environ, KEY_VARIABLE: "0x" + service.signer.private_key_bytes().hex()}
        with service.logs.open("ab") as log:
            service.process = subprocess.Popen(program, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        service.faulty = faulty
        if wait:
            self._wait_ready(service)

    def stop(self, index: int) -> int | None:
        """SIGTERM, then wait; the exit code (None if it was not running)."""
        service = self[index]
        if service.process is None:
            return None
        if service.paused:
            self.resume(index)
        service.process.send_signal(signal.SIGTERM)
        try:
            service.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()
        code = service.process.returncode
        service.process = None
        return code

    def pause(self, index: int) -> None:
        service = self[index]
        assert service.process is not None
        os.kill(service.process.pid, signal.SIGSTOP)
        service.paused = True

    def resume(self, index: int) -> None:
        service = self[index]
        if service.process is not None and service.paused:
            os.kill(service.process.pid, signal.SIGCONT)
        service.paused = False

    def restore(self) -> None:
        """Every service up, honest and running (after a test stopped, paused or faked one)."""
        for service in self.services:
            if service.paused:
                self.resume(service.index)
            if service.faulty:
                self.stop(service.index)
            if service.process is not None and service.process.poll() is not None:
                service.process = None
            if service.process is None:
                self.start(service.index, wait=False)  # start them all, then wait: startup is mostly imports
        for service in self.services:
            self._wait_ready(service)

    def stop_all(self) -> None:
        for service in self.services:
            self.stop(service.index)

    def _wait_ready(self, service: ServiceProcess) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert service.process is not None
            if service.process.poll() is not None:
                raise RuntimeError(f"service {service.index} exited: {service.logs.read_text()[-2000:]}")
            try:
                httpx.get(service.url + "/health", timeout=2.0)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"service {service.index} did not answer within {READY_TIMEOUT:.0f} s")


@dataclass
class KeyWorld:
    chain: Chain
    anvil: AnvilNode
    deployment: Deployment
    set_version: int
    fleet: Fleet
    store: LocalBlockStore
    home: Path
    admin: Signer
    registrar: Signer
    clinic: Signer  # active clinician
    researcher: Signer  # another active provider
    patient: Signer
    stranger: Signer
    guardian: Signer

    def ledger(self, signer: Signer | None = None) -> MedLedger:
        return MedLedger.from_deployment(self.chain, self.deployment, signer=signer)

    def session(self, signer: Signer) -> Session:
        return Session.open(self.ledger(signer), self.store, self.home / signer.address, self.deployment)

    def now(self) -> int:
        return self.chain.now()

    def warp(self, seconds: int) -> None:
        self.chain.increase_time(seconds)

    def grant(
        self,
        grantee: Signer,
        categories: list[Category],
        purposes: list[Purpose] | None = None,
        expiry: timedelta = timedelta(days=30),
    ) -> None:
        self.ledger(self.patient).consent.grant(
            grantee.address,
            categories=mask(categories),
            purposes=mask(purposes or [Purpose.TREAT]),
            permissions=Permission.READ,
            expiry=expiry,
        )

    def publish(self, category: Category, content: bytes) -> bytes:
        """A threshold record of the patient's, stored and registered; its digest."""
        cid = self.seal(category, content)
        self.ledger(self.patient).records.add(self.patient.address, cid.digest, cid.codec, int(category))
        return cid.digest

    def seal(self, category: Category, content: bytes) -> Cid:
        """A threshold container of the patient's (the patient its author), stored, not registered."""
        policy = ThresholdPolicy(
            self.set_version,
            THRESHOLD,
            tuple(
                ServiceRecipient(s.index, derive_encryption_keypair(s.signer.private_key_bytes()).public)
                for s in self.fleet.services
            ),
        )
        session = self.session(self.patient)
        out = io.BytesIO()
        encrypt_stream(
            io.BytesIO(content),
            out,
            binding=session.binding(self.patient.address, category, author=self.patient.address),
            recipients=[AccountRecipient(session.keypair.public)],
            threshold_policy=policy,
        )
        return self.store.put(io.BytesIO(out.getvalue()))


def _fund(anvil: AnvilNode, address: str) -> None:
    anvil.rpc("anvil_setBalance", [address, hex(10**20)])


@pytest.fixture(scope="module")
def keyworld(
    anvil: AnvilNode, anvil_chain: Chain, actors, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KeyWorld]:  # type: ignore[no-untyped-def]
    from medledger.chain.accounts import anvil_account

    root = tmp_path_factory.mktemp("keyservice")
    snapshot = anvil.snapshot()  # leave the session's chain as this module found it
    deployment = deploy(anvil_chain, actors.admin, settings=LedgerSettings(admin_delay_seconds=ADMIN_DELAY))
    admin_ledger = MedLedger.from_deployment(anvil_chain, deployment, signer=actors.admin)
    admin_ledger.providers.add_registrar(actors.registrar.address)
    registrar = admin_ledger.as_signer(actors.registrar).providers
    registrar.register(actors.provider.address, ProviderKind.CLINICIAN)
    registrar.register(actors.researcher.address, ProviderKind.RESEARCHER)
    fleet = Fleet()
    for index in range(1, SERVICE_COUNT + 1):
        signer = service_signer(index)
        _fund(anvil, signer.address)
        port = free_loopback_port()
        config = root / f"service-{index}.toml"
        fleet.services.append(ServiceProcess(index, signer, port, config, root / f"service-{index}.log"))
    members = [s.signer.address for s in fleet.services]
    keys = [derive_encryption_keypair(s.signer.private_key_bytes()).public for s in fleet.services]
    admin_ledger.services.propose(members, keys, THRESHOLD)
    version = admin_ledger.services.count()
    anvil_chain.increase_time(ADMIN_DELAY + 1)
    assert admin_ledger.services.current_version() == version
    for service in fleet.services:
        admin_ledger.as_signer(service.signer).services.set_endpoint(service.url)
        service.config.write_text(f"""
[chain]
rpc_url = "{anvil.rpc_url}"
ledger = "{deployment.ledger_address}"
chain_id = {anvil_chain.chain_id}
timeout = 5.0
confirmations = 1
[account]
private_key_env = "{KEY_VARIABLE}"
[server]
host = "127.0.0.1"
port = {service.port}
[policy]
max_access_age = 600
max_request_lifetime = 120
rate_limit = 200.0
rate_burst = 200
[log]
database = "{service.database.name}"
""")
    world = KeyWorld(
        anvil_chain,
        anvil,
        deployment,
        version,
        fleet,
        LocalBlockStore(root / "blocks", fsync=False),
        root / "homes",
        actors.admin,
        actors.registrar,
        actors.provider,
        actors.researcher,
        actors.patient,
        actors.stranger,
        anvil_account(8),
    )
    try:
        fleet.restore()
        yield world
    finally:
        fleet.stop_all()
        anvil.revert(snapshot)


@pytest.fixture
def kw(keyworld: KeyWorld) -> Iterator[KeyWorld]:
    """The key world with every service up and honest, its chain restored after the test."""
    keyworld.fleet.restore()
    snapshot = keyworld.anvil.snapshot()
    try:
        yield keyworld
    finally:
        keyworld.anvil.revert(snapshot)
