"""Fixtures for the portal: a deployment on the session anvil with a patient, a lab that wrote a
lab result (and read it, logged on chain), a clinic with no consent that broke the glass once, a
guardian of the patient, spread over a week and a half of chain time;
records on the real IPFS daemon; keystores and an address book on disk.

Built once per module (chain state reverted at its end); each test gets its own index database,
its own portal (sessions, download directory) and a chain snapshot reverted after it."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from medledger.addressbook import AddressBook
from medledger.chain.accounts import Signer, anvil_account
from medledger.chain.connection import Chain
from medledger.chain.deploy import Deployment, deploy, save_deployment
from medledger.devnet.anvil import AnvilNode
from medledger.devnet.ipfs import IpfsDaemon
from medledger.devnet.ports import free_loopback_port
from medledger.flows import Session
from medledger.flows.consent import grant, setup_account
from medledger.flows.records import publish
from medledger.ledger import MedLedger, ProviderKind
from medledger.ledger.emergency import EmergencyReason
from medledger.portal import PortalConfig, PortalThread
from medledger.scopes import Category, Permission, Purpose
from medledger.storage import KuboStore

PASSWORD = "correct horse battery staple"
ADMIN, REGISTRAR, CLINIC, LAB, PATIENT, GUARDIAN, STRANGER = 0, 1, 2, 3, 4, 5, 6
LAB_NAME, CLINIC_NAME, GUARDIAN_NAME = "Northside Lab", "Lakeside Clinic", "Sam Rivera"
LAB_RESULT = json.dumps({"resourceType": "Observation", "code": {"text": "HbA1c"}, "valueQuantity": {"value": 6.1}})
DAY = 86400
YEAR = 365 * DAY


def account(index: int) -> Signer:
    return anvil_account(index)


def write_keystore(directory: Path, signer: Signer, name: str) -> Path:
    """A keystore v3 file (pbkdf2 with few rounds: a test unlocks it in milliseconds)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(Account.encrypt(signer.private_key_bytes(), PASSWORD, kdf="pbkdf2", iterations=1000)))
    return path


@dataclass
class PortalWorld:
    anvil: AnvilNode
    chain: Chain
    deployment: Deployment
    store: KuboStore
    files: Path  # deployments/, keystores/, names.toml
    digest: bytes  # the lab result's digest

    @property
    def deployments(self) -> Path:
        return self.files / "deployments"

    @property
    def keystores(self) -> Path:
        return self.files / "keystores"

    @property
    def names_file(self) -> Path:
        return self.files / "names.toml"

    def ledger(self, index: int | None = None) -> MedLedger:
        return MedLedger.from_deployment(
            self.chain, self.deployment, signer=account(index) if index is not None else None
        )

    def session(self, index: int, home: Path) -> Session:
        return Session.open(self.ledger(index), self.store, home, self.deployment)


@pytest.fixture(scope="module")
def portal_world(
    tmp_path_factory: pytest.TempPathFactory, anvil: AnvilNode, anvil_chain: Chain, ipfs_daemon: IpfsDaemon
) -> Iterator[PortalWorld]:
    snapshot = anvil.snapshot()
    try:
        files = tmp_path_factory.mktemp("portal-world")
        deployment = deploy(anvil_chain, account(ADMIN))
        save_deployment(files / "deployments", deployment)
        world = PortalWorld(anvil, anvil_chain, deployment, KuboStore(ipfs_daemon.api_url), files, b"")
        world.ledger(ADMIN).providers.add_registrar(account(REGISTRAR).address)
        registrar = world.ledger(REGISTRAR).providers
        registrar.register(account(CLINIC).address, ProviderKind.CLINICIAN)
        registrar.register(account(LAB).address, ProviderKind.ORGANIZATION)
        homes = files / "homes"
        sessions = {i: world.session(i, homes / str(i)) for i in (PATIENT, LAB, CLINIC)}
        for session in sessions.values():
            setup_account(session)
        # A history spread over days, as a patient's would be: a grant, a record, its read, a
        # guardian, a break-glass window (the timeline's chart draws each).
        grant(
            sessions[PATIENT],
            account(LAB).address,
            categories=1 << Category.LABS,
            purposes=1 << Purpose.TREAT,
            permissions=Permission.READ | Permission.WRITE,
            expiry=anvil_chain.now() + YEAR,
        )
        anvil_chain.increase_time(2 * DAY)
        source = files / "hba1c.json"
        source.write_text(LAB_RESULT)
        result = publish(sessions[LAB], account(PATIENT).address, Category.LABS, source)
        world.digest = result.digest
        anvil_chain.increase_time(DAY)
        world.ledger(LAB).records.log_access(account(PATIENT).address, result.digest, Purpose.TREAT)
        anvil_chain.increase_time(3 * DAY)
        patient = account(PATIENT).address
        world.ledger(PATIENT).guardians.appoint(patient, account(GUARDIAN).address, until=anvil_chain.now() + YEAR)
        anvil_chain.increase_time(2 * DAY)
        world.ledger(CLINIC).emergency.break_glass(patient, EmergencyReason.UNCONSCIOUS)
        anvil_chain.increase_time(DAY)
        write_keystore(world.keystores, account(PATIENT), "patient")
        write_keystore(world.keystores, account(GUARDIAN), "guardian")
        book = AddressBook.load(world.names_file)
        book.set(account(LAB).address, LAB_NAME)
        book.set(account(CLINIC).address, CLINIC_NAME)
        book.set(account(GUARDIAN).address, GUARDIAN_NAME)
        yield world
    finally:
        anvil.revert(snapshot)


@pytest.fixture
def world(portal_world: PortalWorld, tmp_path: Path) -> Iterator[PortalWorld]:
    """The module's world; chain state reverted after the test."""
    snapshot = portal_world.anvil.snapshot()
    try:
        yield portal_world
    finally:
        portal_world.anvil.revert(snapshot)


def make_config(world: PortalWorld, home: Path, **overrides: object) -> PortalConfig:
    names = home / "names.toml"
    if not names.exists():
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(world.names_file, names)
    settings: dict[str, object] = dict(
        chain=world.chain,
        deployment=world.deployment,
        store=world.store,
        home=home,
        index_db=str(home / "index.sqlite"),
        names=AddressBook.load(names),
        keystores={
            account(PATIENT).address: world.keystores / "patient.json",
            account(GUARDIAN).address: world.keystores / "guardian.json",
        },
    )
    settings.update(overrides)
    return PortalConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
def config(world: PortalWorld, tmp_path: Path) -> PortalConfig:
    return make_config(world, tmp_path / "home")


@pytest.fixture
def server(config: PortalConfig) -> Iterator[PortalThread]:
    """The portal, served by uvicorn on a free loopback port in a thread of the test process."""
    thread = PortalThread(config).start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture
def client(server: PortalThread) -> Iterator[httpx.Client]:
    """A browser-like HTTP client of the real server (keeps cookies), not logged in."""
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=60) as http:
        yield http


def csrf_of(html: str) -> str:
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def login(client: httpx.Client, index: int = PATIENT) -> str:
    """Sign in with the keystore password; returns the CSRF token of the logged-in session."""
    token = csrf_of(client.get("/login").text)
    reply = client.post("/login", data={"csrf": token, "account": account(index).address, "password": PASSWORD})
    assert reply.status_code == 303 and reply.headers["location"] == "/", reply.text
    return csrf_of(client.get("/").text)


@contextmanager
def portal_process(world: PortalWorld, tmp_path: Path, *args: str) -> Iterator[tuple[str, str]]:
    """`medledger portal ARGS` as a user starts it (the installed console script, a subprocess)
    on a free port, on the test chain and IPFS daemon; yields (its URL, what it printed so far)."""
    port = free_loopback_port()
    argv = [
        str(Path(sys.executable).parent / "medledger"),
        "--home",
        str(tmp_path / "home"),
        "portal",
        "--port",
        str(port),
        "--rpc-url",
        world.anvil.rpc_url,
        "--deployments",
        str(world.deployments),
        "--ipfs-api",
        world.store.api_url,
        "--names",
        str(world.names_file),
        *args,
    ]
    env = {key: value for key, value in os.environ.items() if not key.startswith("MEDLEDGER_")}
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, bufsize=0
    )
    try:
        url = f"http://127.0.0.1:{port}"
        yield url, _wait_until_serving(process, url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(process: subprocess.Popen[bytes], url: str, timeout: float = 60) -> str:
    """Wait for both the two lines the command prints and an answer from the page."""
    deadline = time.monotonic() + timeout
    output = b""
    assert process.stdout is not None
    while time.monotonic() < deadline:
        if select.select([process.stdout], [], [], 0.05)[0]:
            output += os.read(process.stdout.fileno(), 65536)
        if process.poll() is not None:
            pytest.fail(f"medledger portal exited {process.returncode}:\n{output.decode()}{process.stdout.read()}")
        try:
            if b"sign in" in output and httpx.get(f"{url}/login", timeout=1).status_code == 200:
                return output.decode()
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"medledger portal did not answer at {url} within {timeout}s:\n{output.decode()}")
