"""A publish interrupted after any step is finished (or rolled back) by `resume`, exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from medledger.flows import AlreadyRegisteredError
from medledger.flows.journal import DONE, ENCRYPTED, REGISTERED, ROLLED_BACK, STORED, Journal
from medledger.flows.records import fetch, publish, resume
from medledger.storage import Cid, KuboStore, compute_cid

from .conftest import (
    LABS,
    Crash,
    People,
    crash_after,
    journal_entries,
    pointers_added,
    sha256_of,
    staging_files,
    write_source,
)

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]

STEPS = [ENCRYPTED, STORED, REGISTERED, DONE]


def _crash(people: People, tmp_path: Path, step: str, seed: int = 1) -> tuple[str, str]:
    """Publish as the lab, 'dying' right after `step`; return the journal id and the source sha256."""
    source = tmp_path / f"record-{seed}.json"
    expected = write_source(source, 3000 + seed, seed=seed)
    with pytest.raises(Crash):
        publish(people.lab, people.patient.address, LABS, source, fault=crash_after(step))
    [entry] = [e for e in journal_entries(people.lab.home) if e.source == str(source)]
    assert entry.state == step
    return entry.id, expected


def _pinned(store, cid: Cid) -> bool:  # type: ignore[no-untyped-def]
    return store.is_pinned(cid) if isinstance(store, KuboStore) else store.has(cid)


@pytest.mark.parametrize("step", STEPS)
def test_resume_completes_a_publish_interrupted_after_any_step(
    people_on_any_store: People, tmp_path: Path, step: str
) -> None:
    people = people_on_any_store
    journal_id, expected = _crash(people, tmp_path, step)

    entry = resume(people.lab, journal_id)

    assert entry.state == DONE
    cid = Cid.parse(entry.cid)
    out = fetch(people.patient, people.patient.address, cid.digest, tmp_path / "out.json")
    assert sha256_of(out.path) == expected
    assert len(pointers_added(people.patient, people.patient.address, cid.digest)) == 1
    assert staging_files(people.lab.home) == []


@pytest.mark.parametrize("step", STEPS)
def test_resuming_a_finished_publish_again_changes_nothing(people: People, tmp_path: Path, step: str) -> None:
    journal_id, _ = _crash(people, tmp_path, step)
    first = resume(people.lab, journal_id)
    block = people.patient.ledger.chain.w3.eth.block_number

    again = resume(people.lab, journal_id)

    assert again.state == DONE and again.cid == first.cid and again.tx_hash == first.tx_hash
    assert people.patient.ledger.chain.w3.eth.block_number == block  # no transaction sent
    assert len(pointers_added(people.patient, people.patient.address)) == 1


@pytest.mark.parametrize("step", [ENCRYPTED, STORED])
def test_rollback_before_registration_leaves_no_pointer_no_pin_and_no_staging_file(
    people_on_any_store: People, tmp_path: Path, step: str
) -> None:
    people = people_on_any_store
    journal_id, _ = _crash(people, tmp_path, step)
    entry = Journal(people.lab.home).load(journal_id)
    with open(entry.staging, "rb") as blob:  # type: ignore[arg-type]
        cid = compute_cid(blob)

    rolled = resume(people.lab, journal_id, rollback=True)

    assert rolled.state == ROLLED_BACK
    assert pointers_added(people.patient, people.patient.address) == []
    assert not _pinned(people.store, cid)
    assert staging_files(people.lab.home) == []
    assert Journal(people.lab.home).pending() == []


def test_rollback_after_registration_is_refused_saying_already_registered_use_erase_and_changes_nothing(
    people_on_any_store: People, tmp_path: Path
) -> None:
    people = people_on_any_store
    journal_id, expected = _crash(people, tmp_path, REGISTERED)
    staged = staging_files(people.lab.home)

    with pytest.raises(AlreadyRegisteredError, match=r"already registered on chain .* use erase"):
        resume(people.lab, journal_id, rollback=True)

    entry = Journal(people.lab.home).load(journal_id)
    assert entry.state == REGISTERED  # neither completed nor rolled back
    assert staging_files(people.lab.home) == staged
    cid = Cid.parse(entry.cid)
    assert _pinned(people.store, cid)
    out = fetch(people.patient, people.patient.address, cid.digest, tmp_path / "out.json")
    assert sha256_of(out.path) == expected


def test_rollback_of_a_finished_publish_is_refused_saying_already_registered(people: People, tmp_path: Path) -> None:
    journal_id, _ = _crash(people, tmp_path, DONE)

    with pytest.raises(AlreadyRegisteredError, match="already registered"):
        resume(people.lab, journal_id, rollback=True)

    assert Journal(people.lab.home).load(journal_id).state == DONE


def test_rolling_back_a_rolled_back_publish_again_changes_nothing(people: People, tmp_path: Path) -> None:
    journal_id, _ = _crash(people, tmp_path, STORED)
    resume(people.lab, journal_id, rollback=True)

    assert resume(people.lab, journal_id, rollback=True).state == ROLLED_BACK
    assert resume(people.lab, journal_id).state == ROLLED_BACK  # and it is not revived either
    assert pointers_added(people.patient, people.patient.address) == []


def test_pending_lists_every_interrupted_publish_and_only_those(people: People, tmp_path: Path) -> None:
    after_encrypted, _ = _crash(people, tmp_path, ENCRYPTED, seed=1)
    after_stored, _ = _crash(people, tmp_path, STORED, seed=2)
    after_registered, _ = _crash(people, tmp_path, REGISTERED, seed=3)
    _crash(people, tmp_path, DONE, seed=4)  # finished: nothing to resume

    pending = Journal(people.lab.home).pending()

    assert {(e.id, e.state) for e in pending} == {
        (after_encrypted, ENCRYPTED),
        (after_stored, STORED),
        (after_registered, REGISTERED),
    }


def test_pending_is_empty_once_every_interrupted_publish_is_resumed(people: People, tmp_path: Path) -> None:
    for seed, step in enumerate((ENCRYPTED, STORED, REGISTERED), start=1):
        _crash(people, tmp_path, step, seed=seed)

    for entry in Journal(people.lab.home).pending():
        resume(people.lab, entry.id)

    assert Journal(people.lab.home).pending() == []
    assert len(pointers_added(people.patient, people.patient.address)) == 3


def test_resume_does_not_register_twice_when_the_transaction_went_through_but_the_journal_missed_it(
    people_on_any_store: People, tmp_path: Path
) -> None:
    people = people_on_any_store
    journal_id, expected = _crash(people, tmp_path, STORED)
    cid = Cid.parse(Journal(people.lab.home).load(journal_id).cid)
    # The crash came after addRecord was mined but before the journal recorded it:
    people.lab.ledger.records.add(people.patient.address, cid.digest, cid.codec, LABS)

    entry = resume(people.lab, journal_id)

    assert entry.state == DONE
    assert len(pointers_added(people.patient, people.patient.address, cid.digest)) == 1
    out = fetch(people.patient, people.patient.address, cid.digest, tmp_path / "out.json")
    assert sha256_of(out.path) == expected


def test_rollback_unpins_a_blob_stored_just_before_the_crash_even_if_the_journal_missed_its_cid(
    people_on_any_store: People, tmp_path: Path
) -> None:
    people = people_on_any_store
    journal_id, _ = _crash(people, tmp_path, ENCRYPTED)
    entry = Journal(people.lab.home).load(journal_id)
    # The crash came after the store's put returned, before the journal recorded the CID:
    with open(entry.staging, "rb") as blob:  # type: ignore[arg-type]
        cid = people.store.put(blob)
    assert _pinned(people.store, cid)

    resume(people.lab, journal_id, rollback=True)

    assert not _pinned(people.store, cid)
    assert staging_files(people.lab.home) == []


def test_rollback_of_a_publish_that_crashed_while_encrypting_removes_the_partial_staging_file(
    people: People, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def dies_half_way(src, dst, **kwargs):  # type: ignore[no-untyped-def]
        dst.write(b"\x00" * 4096)
        raise Crash("encrypting")

    monkeypatch.setattr("medledger.flows.records.encrypt_stream", dies_half_way)
    source = tmp_path / "obs.json"
    write_source(source, 8192, seed=9)
    with pytest.raises(Crash):
        publish(people.lab, people.patient.address, LABS, source)
    [entry] = Journal(people.lab.home).pending()
    assert staging_files(people.lab.home) != []

    resume(people.lab, entry.id, rollback=True)

    assert staging_files(people.lab.home) == []
    assert Journal(people.lab.home).pending() == []
