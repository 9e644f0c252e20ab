"""Fixtures for the flow tests: real anvil (snapshot per test), the real js-ipfs daemon, three
real key-release services (2 of 3: HTTP servers on loopback, in threads of the test process,
started and stopped here) forming the deployment's current service set, and one Session per
actor, each with its own home (journal, staging) under tmp_path."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from eth_utils import keccak

from medledger.chain.accounts import Signer, anvil_account
from medledger.chain.connection import connect
from medledger.crypto import derive_encryption_keypair
from medledger.devnet.anvil import AnvilNode
from medledger.devnet.ipfs import IpfsDaemon
from medledger.flows import Session, release
from medledger.flows.consent import grant, setup_account
from medledger.flows.journal import Journal, JournalEntry
from medledger.keyservice.config import ServiceConfig
from medledger.keyservice.server import ServiceThread
from medledger.keyservice.service import ReleaseService
from medledger.ledger import ProviderKind
from medledger.scopes import Category, Permission, Purpose, mask
from medledger.storage import BlobStore, KuboStore, LocalBlockStore

KiB = 1024
MiB = 1024 * KiB
LABS = Category.LABS
LABS_MASK = mask([Category.LABS])
TREATMENT = mask([Purpose.TREAT])


SERVICES, THRESHOLD = 3, 2
ADMIN_DELAY = 2 * 86400  # the root deployment's (deploy's default)


# -- key-release services ---------------------------------------------------------------------


def service_signer(index: int) -> Signer:
    """Key-release service `index` (1-based): a fixed test key with no role and no credential."""
    return Signer.from_private_key(keccak(text=f"medledger flows test key-release service {index}"))


def propose_and_activate(world, signers: list[Signer], threshold: int) -> int:  # type: ignore[no-untyped-def]
    """The admin proposes a service set of `signers`; chain time passes the admin delay. Its version."""
    admin = world.ledger(world.actors.admin)
    keys = [derive_encryption_keypair(s.private_key_bytes()).public for s in signers]
    admin.services.propose([s.address for s in signers], keys, threshold)
    version = admin.services.count()
    world.chain.increase_time(ADMIN_DELAY + 1)
    assert admin.services.current_version() == version
    return version


@pytest.fixture(scope="package")
def deployed_world(deployed_world, anvil: AnvilNode, tmp_path_factory: pytest.TempPathFactory) -> Iterator:  # type: ignore[no-untyped-def]
    """The session's deployment with a current 2-of-3 key-release service set whose services run
    for this package; the chain is restored when the package is done."""
    root = tmp_path_factory.mktemp("flows-keyservices")
    snapshot = anvil.snapshot()
    signers = [service_signer(i) for i in range(1, SERVICES + 1)]
    for signer in signers:
        anvil.rpc("anvil_setBalance", [signer.address, hex(10**20)])
    propose_and_activate(deployed_world, signers, THRESHOLD)
    threads: list[ServiceThread] = []
    try:
        for index, signer in enumerate(signers, start=1):
            config = ServiceConfig(
                rpc_url=anvil.rpc_url,
                ledger=deployed_world.deployment.ledger_address,
                chain_id=deployed_world.chain.chain_id,
                database=root / f"releases-{index}.sqlite",
                private_key_env="MEDLEDGER_UNUSED",
                rate_limit=1000.0,
                rate_burst=1000,
            )
            thread = ServiceThread(ReleaseService(config, signer=signer, chain=connect(anvil.rpc_url))).start()
            threads.append(thread)
            deployed_world.ledger(signer).services.set_endpoint(thread.url)
        yield deployed_world
    finally:
        for thread in threads:
            thread.stop()
        anvil.revert(snapshot)


@pytest.fixture(autouse=True)
def _fresh_key_release_client() -> Iterator[None]:
    """Each test reads with a new client: no service directory cached from another test."""
    yield
    with release._default_lock:
        if release._default_client is not None:
            release._default_client.close()
            release._default_client = None


# -- data -------------------------------------------------------------------------------------


def write_source(path: Path, size: int, seed: int = 0) -> str:
    """Write `size` deterministic pseudo-random bytes to `path` (1 MiB at a time); return their sha256."""
    digest = hashlib.sha256()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        index = 0
        remaining = size
        while remaining:
            piece = random.Random(seed * 1_000_003 + index).randbytes(min(MiB, remaining))
            out.write(piece)
            digest.update(piece)
            remaining -= len(piece)
            index += 1
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


# -- stores -----------------------------------------------------------------------------------


def kubo_store(url: str) -> KuboStore:
    return KuboStore(url, block_timeout=5.0, has_timeout=0.5, pin_timeout=5.0)


@pytest.fixture
def kubo(ipfs_daemon: IpfsDaemon) -> Iterator[KuboStore]:
    store = kubo_store(ipfs_daemon.api_url)
    yield store
    store.close()


@pytest.fixture
def embedded(tmp_path: Path) -> LocalBlockStore:
    return LocalBlockStore(tmp_path / "blocks", fsync=False)


@pytest.fixture(params=["embedded", "kubo"])
def any_store(request: pytest.FixtureRequest) -> BlobStore:
    """Both stores: the embedded block store and KuboStore on the real js-ipfs daemon."""
    return request.getfixturevalue(request.param)


# -- people -----------------------------------------------------------------------------------


@dataclass
class People:
    """One Session per actor on the same deployment and store, each with its own home."""

    patient: Session
    clinic: Session  # active clinician: READ grantee in the scenarios below
    researcher: Session  # second active provider: another READ grantee
    lab: Session  # an organization with WRITE-only consent
    stranger: Session  # no role, no consent
    store: BlobStore
    make: Callable[[Signer, str], Session]


def make_people(world, store: BlobStore, tmp_path: Path) -> People:  # type: ignore[no-untyped-def]
    lab = anvil_account(8)
    world.ledger(world.actors.registrar).providers.register(lab.address, ProviderKind.ORGANIZATION)

    def make(signer: Signer, name: str) -> Session:
        return Session.open(world.ledger(signer), store, tmp_path / "homes" / name, world.deployment)

    actors = world.actors
    return People(
        patient=make(actors.patient, "patient"),
        clinic=make(actors.provider, "clinic"),
        researcher=make(actors.researcher, "researcher"),
        lab=make(lab, "lab"),
        stranger=make(actors.stranger, "stranger"),
        store=store,
        make=make,
    )


def enrol(people: People) -> People:
    """Everyone publishes a key; the patient lets the lab write labs."""
    for session in (people.patient, people.clinic, people.researcher, people.lab, people.stranger):
        setup_account(session)
    grant(
        people.patient,
        people.lab.address,
        categories=LABS_MASK,
        purposes=TREATMENT,
        permissions=Permission.WRITE,
        expiry=timedelta(days=365),
    )
    return people


def grant_read(people: People, grantee: Session) -> None:
    grant(
        people.patient,
        grantee.address,
        categories=LABS_MASK,
        purposes=TREATMENT,
        permissions=Permission.READ,
        expiry=timedelta(days=30),
    )


@pytest.fixture
def people(world, kubo: KuboStore, tmp_path: Path) -> People:  # type: ignore[no-untyped-def]
    """Enrolled actors on the real IPFS daemon."""
    return enrol(make_people(world, kubo, tmp_path))


@pytest.fixture
def people_on_any_store(world, any_store: BlobStore, tmp_path: Path) -> People:  # type: ignore[no-untyped-def]
    """Enrolled actors, once on each store."""
    return enrol(make_people(world, any_store, tmp_path))


@pytest.fixture
def people_on_embedded(world, embedded: LocalBlockStore, tmp_path: Path) -> People:  # type: ignore[no-untyped-def]
    return enrol(make_people(world, embedded, tmp_path))


@pytest.fixture
def unenrolled_people(world, embedded: LocalBlockStore, tmp_path: Path) -> People:  # type: ignore[no-untyped-def]
    """Actors on the embedded store with nothing published yet."""
    return make_people(world, embedded, tmp_path)


# -- journal and chain helpers ----------------------------------------------------------------


class Crash(Exception):
    """What the injected fault raises: the process 'dies' after a step."""


def crash_after(step: str) -> Callable[[str], None]:
    def fault(name: str) -> None:
        if name == step:
            raise Crash(step)

    return fault


def journal_entries(home: Path) -> list[JournalEntry]:
    journal = Journal(home)
    if not journal.directory.exists():
        return []
    return [journal.load(path.stem) for path in sorted(journal.directory.glob("*.json"))]


def staging_files(home: Path) -> list[Path]:
    directory = Journal(home).staging_directory
    return sorted(directory.iterdir()) if directory.exists() else []


def pointers_added(session: Session, patient: str, digest: bytes | None = None) -> list:
    filters = {"patient": patient}
    if digest is not None:
        filters["digest"] = digest
    return session.ledger.events("RecordAdded", from_block=session.from_block, **filters)


def refused_after(  # type: ignore[no-untyped-def]
    session: Session,
    patient: str,
    digest: bytes,
    directory: Path,
    change: Callable[[], object],
    purpose: Purpose = Purpose.TREAT,
):
    """A read under way (blob fetched and verified, access logged while allowed) when `change`
    lands; the ReleaseFailedError the key-release services then answer with (the test fails if
    they release the key)."""
    from medledger.flows.release import fetch_blob, log_read, release_key
    from medledger.keyservice.errors import ReleaseFailedError

    blob = fetch_blob(session, patient, digest, directory, purpose)
    try:
        access_tx = log_read(session, blob, purpose)
        change()
        with pytest.raises(ReleaseFailedError) as failed:
            release_key(session, blob, access_tx, purpose)
    finally:
        blob.path.unlink(missing_ok=True)
    return failed.value
