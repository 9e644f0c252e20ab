"""Amendment supersedes without overwriting; erasure destroys the blob and marks the pointer."""

from __future__ import annotations

from pathlib import Path

import pytest

from medledger.chain.errors import revert_class
from medledger.flows import RecordErasedError, RecordNotFoundError
from medledger.flows.journal import Journal
from medledger.flows.records import PublishResult, amend, erase, fetch, publish
from medledger.storage import BlobStore, Cid, KuboStore, LocalBlockStore

from .conftest import LABS, People, journal_entries, pointers_added, sha256_of, staging_files, write_source

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]


def _publish(people: People, tmp_path: Path, seed: int) -> tuple[PublishResult, str]:
    source = tmp_path / f"record-{seed}.json"
    expected = write_source(source, 700 + seed, seed=seed)
    return publish(people.lab, people.patient.address, LABS, source), expected


@pytest.fixture
def amended(people: People, tmp_path: Path) -> tuple[People, PublishResult, str, PublishResult, str]:
    old, old_sha = _publish(people, tmp_path, 1)
    source = tmp_path / "corrected.json"
    new_sha = write_source(source, 900, seed=2)
    new = amend(people.lab, people.patient.address, old.digest, source)
    return people, old, old_sha, new, new_sha


def test_amendment_registers_a_new_pointer_that_names_the_version_it_supersedes(amended) -> None:  # type: ignore[no-untyped-def]
    people, old, _, new, _ = amended

    [event] = pointers_added(people.patient, people.patient.address, new.digest)

    assert bytes(event.args.supersedes) == old.digest
    assert new.digest != old.digest
    assert not people.patient.ledger.records.get(people.patient.address, new.digest).superseded


def test_amendment_marks_the_old_version_superseded(amended) -> None:  # type: ignore[no-untyped-def]
    people, old, _, _, _ = amended

    assert people.patient.ledger.records.get(people.patient.address, old.digest).superseded


def test_both_versions_stay_fetchable_after_an_amendment(amended, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    people, old, old_sha, new, new_sha = amended

    old_out = fetch(people.patient, people.patient.address, old.digest, tmp_path / "out" / "old.json")
    new_out = fetch(people.patient, people.patient.address, new.digest, tmp_path / "out" / "new.json")

    assert (sha256_of(old_out.path), sha256_of(new_out.path)) == (old_sha, new_sha)


def _blob_gone(store: BlobStore, cid: Cid) -> bool:
    if isinstance(store, KuboStore):
        assert not store.is_pinned(cid)
        store.gc()  # an unpinned blob leaves a Kubo node at its next garbage collection
    return not store.has(cid)


def test_erasure_marks_the_pointer_erased(people_on_any_store: People, tmp_path: Path) -> None:
    people = people_on_any_store
    record, _ = _publish(people, tmp_path, 3)

    pointer = erase(people.patient, record.digest)

    assert pointer.erased
    assert people.patient.ledger.records.get(people.patient.address, record.digest).erased


def test_erasure_removes_the_blob_from_the_store(people_on_any_store: People, tmp_path: Path) -> None:
    people = people_on_any_store
    record, _ = _publish(people, tmp_path, 4)
    cid = Cid.parse(record.cid)
    assert people.store.has(cid)

    erase(people.patient, record.digest)

    assert _blob_gone(people.store, cid)


def test_erasure_deletes_every_block_file_of_a_multi_block_blob_in_the_embedded_store(
    people_on_embedded: People, tmp_path: Path
) -> None:
    people = people_on_embedded
    store = people.store
    assert isinstance(store, LocalBlockStore)
    source = tmp_path / "big.bin"
    write_source(source, 3 * 256 * 1024 + 5, seed=5)  # several leaves under a dag-pb root
    record = publish(people.lab, people.patient.address, LABS, source)
    assert len(list((store.root / "blocks").rglob("*"))) > 1

    erase(people.patient, record.digest)

    assert [p for p in (store.root / "blocks").rglob("*") if p.is_file()] == []


def test_fetch_of_an_erased_record_raises_record_erased(people_on_any_store: People, tmp_path: Path) -> None:
    people = people_on_any_store
    record, _ = _publish(people, tmp_path, 6)
    erase(people.patient, record.digest)

    with pytest.raises(RecordErasedError):
        fetch(people.patient, people.patient.address, record.digest, tmp_path / "erased.json")
    assert not (tmp_path / "erased.json").exists()


def test_erasing_an_erased_record_again_raises_record_erased(people: People, tmp_path: Path) -> None:
    record, _ = _publish(people, tmp_path, 7)
    erase(people.patient, record.digest)

    with pytest.raises(RecordErasedError):
        erase(people.patient, record.digest)


def test_only_the_patient_can_erase_a_record_because_erase_targets_the_callers_own_records(
    people: People, tmp_path: Path
) -> None:
    record, expected = _publish(people, tmp_path, 8)

    with pytest.raises(RecordNotFoundError):
        erase(people.lab, record.digest)  # the author, but not the patient

    assert not people.patient.ledger.records.get(people.patient.address, record.digest).erased
    out = fetch(people.patient, people.patient.address, record.digest, tmp_path / "still-there.json")
    assert sha256_of(out.path) == expected


def test_amending_a_superseded_version_is_refused_before_anything_is_stored_or_journaled(
    amended, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    people, old, _, _, _ = amended
    journaled = len(journal_entries(people.lab.home))
    source = tmp_path / "second-correction.json"
    write_source(source, 800, seed=9)

    with pytest.raises(revert_class("RecordAlreadySuperseded")):
        amend(people.lab, people.patient.address, old.digest, source)

    assert len(journal_entries(people.lab.home)) == journaled
    assert Journal(people.lab.home).pending() == []
    assert staging_files(people.lab.home) == []
