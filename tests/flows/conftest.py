"""Fixtures for the flow tests: real anvil (snapshot per test), the real js-ipfs daemon, and one
Session per actor, each with its own home (journal, staging) under tmp_path."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from medledger.chain.accounts import Signer, anvil_account
from medledger.devnet.ipfs import IpfsDaemon
from medledger.flows import Session
from medledger.flows.consent import grant, setup_account
from medledger.flows.journal import Journal, JournalEntry
from medledger.ledger import ProviderKind
from medledger.scopes import Category, Permission, Purpose, mask
from medledger.storage import BlobStore, KuboStore, LocalBlockStore

KiB = 1024
MiB = 1024 * KiB
LABS = Category.LABS
LABS_MASK = mask([Category.LABS])
TREATMENT = mask([Purpose.TREAT])


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


def enrol(people: People, *, keyring: bool = True) -> People:
    """Everyone publishes a key; the patient creates a labs keyring and lets the lab write labs."""
    setup_account(people.patient, [LABS] if keyring else [])
    for session in (people.clinic, people.researcher, people.lab, people.stranger):
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
