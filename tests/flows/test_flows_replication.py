"""Publish, fetch, erase and resume over replicated storage: three real js-ipfs daemons, r = 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from medledger.devnet.anvil import AnvilNode
from medledger.devnet.ipfs import IpfsDaemons
from medledger.flows.journal import COPIED, DONE, ENCRYPTED, ROLLED_BACK, Journal, JournalEntry
from medledger.flows.records import erase_record, fetch, publish, resume
from medledger.storage import BlobNotFoundError, Cid, KuboStore, ReplicatedStore, StorageError
from medledger.storage.replicated import GONE, Member

from .conftest import LABS, Crash, People, crash_after, enrol, make_people, sha256_of, write_source

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]

NAMES = ("node-0", "node-1", "node-2")


@pytest.fixture(scope="module")
def daemons(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IpfsDaemons]:
    with IpfsDaemons(3, tmp_path_factory.mktemp("replicas")) as started:
        yield started


def node(url: str) -> KuboStore:
    return KuboStore(url, block_timeout=1.0, has_timeout=0.5, pin_timeout=2.0, retries=0)


def open_store(daemons: IpfsDaemons, r: int = 2) -> ReplicatedStore:
    return ReplicatedStore(tuple(Member(name, node(d.api_url)) for name, d in zip(NAMES, daemons, strict=True)), r)


@pytest.fixture
def store(daemons: IpfsDaemons) -> Iterator[ReplicatedStore]:
    """The three daemons, r = 2. The tests that stop daemons come last in this module and leave
    them stopped (a restart costs seconds)."""
    opened = open_store(daemons)
    yield opened
    opened.close()


@pytest.fixture
def people(world, store: ReplicatedStore, tmp_path: Path) -> People:  # type: ignore[no-untyped-def]
    return enrol(make_people(world, store, tmp_path))


def _pinned_on(store: ReplicatedStore, cid: Cid) -> list[str]:
    return [m.name for m in store.members if m.store.is_pinned(cid)]


def _publish(people: People, tmp_path: Path, seed: int, size: int = 3000) -> tuple[Cid, str]:
    source = tmp_path / f"record-{seed}.json"
    expected = write_source(source, size, seed=seed)
    result = publish(people.lab, people.patient.address, LABS, source)
    return Cid.parse(result.cid), expected


def test_publish_with_r_2_pins_on_two_stores_and_reports_and_journals_them(
    people: People, store: ReplicatedStore, tmp_path: Path
) -> None:
    source = tmp_path / "record.json"
    write_source(source, 3000, seed=1)

    result = publish(people.lab, people.patient.address, LABS, source)

    assert result.stores == ("node-0", "node-1")
    assert _pinned_on(store, Cid.parse(result.cid)) == ["node-0", "node-1"]
    assert Journal(people.lab.home).load(result.journal_id).stores == ["node-0", "node-1"]


def test_erase_unpins_and_collects_garbage_on_every_store(
    people: People, store: ReplicatedStore, tmp_path: Path
) -> None:
    cid, _ = _publish(people, tmp_path, seed=4, size=600 * 1024)

    erased = erase_record(people.patient, cid.digest)

    assert erased.pointer.erased
    assert [(o.store, o.state) for o in erased.stores] == [(name, GONE) for name in NAMES]
    for member in store.members:
        assert cid.digest not in member.store.local_blocks()


def test_a_crash_after_the_first_copy_is_resumed_to_r_copies(
    people: People, store: ReplicatedStore, tmp_path: Path
) -> None:
    source = tmp_path / "record.json"
    expected = write_source(source, 3000, seed=5)
    with pytest.raises(Crash):
        publish(people.lab, people.patient.address, LABS, source, fault=crash_after(COPIED))
    [entry] = Journal(people.lab.home).pending()
    assert entry.state == ENCRYPTED and entry.stores == ["node-0"]

    done = resume(people.lab, entry.id)

    assert done.state == DONE and done.stores == ["node-0", "node-1"]
    cid = Cid.parse(done.cid)  # type: ignore[arg-type]
    assert _pinned_on(store, cid) == ["node-0", "node-1"]
    out = fetch(people.patient, people.patient.address, cid.digest, tmp_path / "out.json")
    assert sha256_of(out.path) == expected


def test_a_rollback_after_the_first_copy_unpins_it(people: People, store: ReplicatedStore, tmp_path: Path) -> None:
    source = tmp_path / "record.json"
    write_source(source, 3000, seed=6)
    with pytest.raises(Crash):
        publish(people.lab, people.patient.address, LABS, source, fault=crash_after(COPIED))
    [entry] = Journal(people.lab.home).pending()
    cid = Cid.parse(entry.cid)  # type: ignore[arg-type]

    rolled = resume(people.lab, entry.id, rollback=True)

    assert rolled.state == ROLLED_BACK
    assert _pinned_on(store, cid) == []


def test_a_journal_entry_written_before_replication_still_loads(people: People) -> None:
    journal = Journal(people.lab.home)
    entry = journal.begin(
        author=people.lab.address, patient=people.patient.address, category=LABS, source=Path("/x"), supersedes=None
    )
    path = journal.directory / f"{entry.id}.json"
    data = json.loads(path.read_text())
    del data["stores"]
    path.write_text(json.dumps(data))

    loaded = journal.load(entry.id)

    assert isinstance(loaded, JournalEntry) and loaded.stores is None


# -- a real crash: SIGKILL between the first and the second copy --------------------------------

CHILD = """
import json, os, sys, time
from pathlib import Path
from medledger.chain.accounts import anvil_account
from medledger.chain.connection import connect
from medledger.chain.deploy import Deployment
from medledger.flows import Session
from medledger.flows.records import publish
from medledger.ledger import MedLedger
from medledger.storage import KuboStore, ReplicatedStore
from medledger.storage.replicated import Member

args = json.loads(sys.argv[1])
chain = connect(args["rpc_url"])
deployment = Deployment.from_json(args["deployment"])
ledger = MedLedger.from_deployment(chain, deployment, signer=anvil_account(args["account"]))
store = ReplicatedStore(tuple(Member(n, KuboStore(u)) for n, u in args["stores"]), 2)
session = Session.open(ledger, store, Path(args["home"]), deployment)

def fault(step):
    if step == "copied":  # the first copy is pinned and journaled: wait here to be killed
        Path(args["marker"]).write_text("copied")
        time.sleep(600)

publish(session, args["patient"], args["category"], args["source"], fault=fault)
"""


def test_a_publish_killed_by_sigkill_between_two_copies_is_resumed_to_r_copies(
    world,  # type: ignore[no-untyped-def]
    anvil: AnvilNode,
    people: People,
    store: ReplicatedStore,
    daemons: IpfsDaemons,
    tmp_path: Path,
) -> None:
    source = tmp_path / "record.json"
    expected = write_source(source, 3000, seed=8)
    marker = tmp_path / "copied"
    args = {
        "rpc_url": anvil.rpc_url,
        "deployment": world.deployment.to_json(),
        "account": 8,  # the lab (make_people registers anvil account 8 as an organization)
        "stores": [[name, d.api_url] for name, d in zip(NAMES, daemons, strict=True)],
        "home": str(people.lab.home),
        "patient": people.patient.address,
        "category": int(LABS),
        "source": str(source),
        "marker": str(marker),
    }
    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(args)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the child never made its first copy"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stderr.close()  # type: ignore[union-attr]
    assert child.returncode == -signal.SIGKILL
    [entry] = Journal(people.lab.home).pending()
    assert entry.state == ENCRYPTED and entry.stores == ["node-0"]
    cid = Cid.parse(entry.cid)  # type: ignore[arg-type]
    assert _pinned_on(store, cid) == ["node-0"]

    done = resume(people.lab, entry.id)

    assert done.state == DONE and done.stores == ["node-0", "node-1"]
    assert _pinned_on(store, cid) == ["node-0", "node-1"]
    out = fetch(people.patient, people.patient.address, cid.digest, tmp_path / "out.json")
    assert sha256_of(out.path) == expected


# -- stores stopped (last in this module: nothing is restarted after them) -----------------------


def test_with_one_holder_stopped_fetch_works_and_with_both_it_fails_naming_every_store_tried(
    people: People, daemons: IpfsDaemons, tmp_path: Path
) -> None:
    cid, expected = _publish(people, tmp_path, seed=2, size=600 * 1024)
    daemons[0].stop()

    out = fetch(people.patient, people.patient.address, cid.digest, tmp_path / "out.json")
    assert sha256_of(out.path) == expected

    daemons[1].stop()
    with pytest.raises(BlobNotFoundError) as failed:
        fetch(people.patient, people.patient.address, cid.digest, tmp_path / "again.json")

    message = str(failed.value)
    assert f"blob {cid} could not be read from any of the 3 stores" in message
    for name in NAMES:
        assert f"{name} (http://127.0.0.1:" in message
    assert message.count("): unreachable: ") == 2 and message.count("): does not have it: ") == 1
    assert not (tmp_path / "again.json").exists()


def test_a_publish_that_cannot_reach_r_stores_fails_keeping_its_copy_journaled(
    people: People, daemons: IpfsDaemons, tmp_path: Path
) -> None:
    daemons[0].stop()
    daemons[1].stop()
    source = tmp_path / "record.json"
    write_source(source, 3000, seed=7)

    with pytest.raises(StorageError, match=r"pinned on 1 of the 2 stores required \(node-2\).*record resume"):
        publish(people.lab, people.patient.address, LABS, source)

    [entry] = Journal(people.lab.home).pending()
    assert entry.state == ENCRYPTED and entry.stores == ["node-2"]
