"""Batched ingestion: records in batches, one journal entry and one staging file per batch, all
of a batch's pointers in one transaction; after a crash at any step `resume_batch` finishes and
`resume_batch(rollback=True)` undoes exactly as for one record; a registered batch is never
rolled back; bad input costs nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medledger.chain.transactions import TxPolicy
from medledger.flows import AccessDeniedError, AlreadyRegisteredError, RegistrationPendingError, Session
from medledger.flows.errors import EmptyRecordError
from medledger.flows.ingest import BatchJournal, Source, import_records, pending_batches, resume_batch
from medledger.flows.journal import DONE, ENCRYPTED, REGISTERED, ROLLED_BACK, SENT, STARTED, STORED
from medledger.flows.records import fetch
from medledger.ledger import MedLedger
from medledger.storage import Cid, KuboStore

from .conftest import LABS, Crash, People, crash_after, sha256_of, write_source

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]


def _sources(directory: Path, count: int) -> list[Source]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = directory / f"obs-{index:03}.json"
        write_source(path, 600 + index, seed=index)
        paths.append(Source(str(path)))
    return paths


def _batches(session: Session) -> list:
    return BatchJournal(session.home).entries()


def _registered(session: Session, patient: str, cids: list[str]) -> list[bool]:
    pointers = session.ledger.records.get_many(patient, [Cid.parse(cid).digest for cid in cids])
    return [pointer.created_at > 0 for pointer in pointers]


def _readable_by_patient(people: People, cid: str, source: Source, tmp_path: Path) -> bool:
    out = fetch(people.patient, people.patient.address, Cid.parse(cid).digest, tmp_path / "read.json", log_access=False)
    return sha256_of(out.path) == sha256_of(Path(source.path))


def test_an_import_registers_every_record_in_batches_of_one_transaction_each(people: People, tmp_path: Path) -> None:
    sources = _sources(tmp_path / "archive", 7)

    results = import_records(people.lab, people.patient.address, LABS, sources, batch_size=3)

    assert [len(result.cids) for result in results] == [3, 3, 1]
    assert len({result.tx_hash for result in results}) == 3
    cids = [cid for result in results for cid in result.cids]
    assert all(_registered(people.lab, people.patient.address, cids))
    receipt = people.lab.ledger.chain.w3.eth.get_transaction_receipt(results[0].tx_hash)
    assert len(people.lab.ledger.contract.events.RecordAdded().process_receipt(receipt)) == 3
    assert [entry.state for entry in _batches(people.lab)] == [DONE, DONE, DONE]
    assert _readable_by_patient(people, cids[4], sources[4], tmp_path)


def test_each_record_of_an_ndjson_line_range_is_its_own_record(people: People, tmp_path: Path) -> None:
    lines = [json.dumps({"resourceType": "Observation", "id": f"o{index}"}) + "\n" for index in range(3)]
    ndjson = tmp_path / "observations.ndjson"
    ndjson.write_text("".join(lines))
    offsets = [sum(len(line) for line in lines[:index]) for index in range(3)]
    sources = [Source(str(ndjson), offset, len(line)) for offset, line in zip(offsets, lines, strict=True)]

    [result] = import_records(people.lab, people.patient.address, LABS, sources)

    out = fetch(people.patient, people.patient.address, Cid.parse(result.cids[1]).digest, tmp_path / "o1.json")
    assert out.path.read_text() == lines[1]


def test_a_batch_leaves_no_staging_file_behind(people: People, tmp_path: Path) -> None:
    import_records(people.lab, people.patient.address, LABS, _sources(tmp_path / "a", 4), batch_size=4)

    staging = BatchJournal(people.lab.home).staging_directory
    assert not staging.exists() or not any(staging.iterdir())


@pytest.mark.parametrize("step", [STARTED, ENCRYPTED, STORED, SENT])
def test_after_a_crash_at_any_step_resume_finishes_the_batch(people: People, tmp_path: Path, step: str) -> None:
    sources = _sources(tmp_path / "archive", 3)
    with pytest.raises(Crash):
        import_records(people.lab, people.patient.address, LABS, sources, fault=crash_after(step))
    [entry] = pending_batches(people.lab)

    finished = resume_batch(people.lab, entry.id)

    assert finished.state == DONE
    assert all(_registered(people.lab, people.patient.address, finished.cids))
    assert _readable_by_patient(people, finished.cids[2], sources[2], tmp_path)


@pytest.mark.parametrize("step", [STARTED, ENCRYPTED, STORED])
def test_a_rollback_before_registration_unpins_every_blob_and_registers_nothing(
    people: People, tmp_path: Path, step: str
) -> None:
    with pytest.raises(Crash):
        import_records(people.lab, people.patient.address, LABS, _sources(tmp_path / "a", 3), fault=crash_after(step))
    [entry] = pending_batches(people.lab)

    rolled = resume_batch(people.lab, entry.id, rollback=True)

    assert rolled.state == ROLLED_BACK
    assert isinstance(people.store, KuboStore)
    assert not any(people.store.is_pinned(cid) for cid in entry.cids or ())
    if entry.cids:
        assert not any(_registered(people.lab, people.patient.address, entry.cids))
    assert not any(BatchJournal(people.lab.home).staging_directory.glob(f"{entry.id}*"))


def test_a_registered_batch_is_never_rolled_back(people: People, tmp_path: Path) -> None:
    with pytest.raises(Crash):
        import_records(
            people.lab, people.patient.address, LABS, _sources(tmp_path / "a", 2), fault=crash_after(REGISTERED)
        )
    [entry] = pending_batches(people.lab)

    with pytest.raises(AlreadyRegisteredError, match="erase its records"):
        resume_batch(people.lab, entry.id, rollback=True)
    assert all(_registered(people.lab, people.patient.address, entry.cids))
    assert resume_batch(people.lab, entry.id).state == DONE


def test_a_batch_signed_but_never_broadcast_is_rolled_back_after_its_nonce_is_used_up(
    people: People, tmp_path: Path
) -> None:
    with pytest.raises(Crash):  # the crash comes after journaling the signed transaction, before broadcasting it
        import_records(people.lab, people.patient.address, LABS, _sources(tmp_path / "a", 2), fault=crash_after(SENT))
    [entry] = pending_batches(people.lab)
    chain = people.lab.ledger.chain

    rolled = resume_batch(people.lab, entry.id, rollback=True)

    assert rolled.state == ROLLED_BACK
    assert chain.w3.eth.get_transaction_count(people.lab.address, "latest") == entry.nonce + 1
    assert not any(_registered(people.lab, people.patient.address, entry.cids))


def test_a_pending_registration_is_waited_for_and_never_sent_twice(people: People, anvil, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    impatient = Session(
        ledger=MedLedger(
            people.lab.ledger.chain,
            people.lab.ledger.address,
            signer=people.lab.signer,
            policy=TxPolicy(receipt_timeout=0.3, poll_interval=0.05),
        ),
        store=people.lab.store,
        home=people.lab.home,
        from_block=people.lab.from_block,
    )
    anvil.set_automine(False)
    try:
        with pytest.raises(RegistrationPendingError, match="still pending"):
            import_records(impatient, people.patient.address, LABS, _sources(tmp_path / "a", 2))
        [entry] = pending_batches(people.lab)
        assert entry.state == SENT
        with pytest.raises(RegistrationPendingError):
            resume_batch(impatient, entry.id)
        assert int(str(anvil.rpc("txpool_status")["pending"]), 16) == 1  # type: ignore[index]
        anvil.rpc("evm_mine")
    finally:
        anvil.set_automine(True)

    assert resume_batch(people.lab, entry.id).state == DONE


def test_bad_input_is_refused_before_anything_is_journaled(people: People, tmp_path: Path) -> None:
    sources = _sources(tmp_path / "a", 2)
    empty = tmp_path / "a" / "empty.json"
    empty.write_text("")

    with pytest.raises(EmptyRecordError, match=r"empty\.json is empty"):
        import_records(people.lab, people.patient.address, LABS, [*sources, Source(str(empty))])
    with pytest.raises(FileNotFoundError, match=r"missing\.json"):
        import_records(people.lab, people.patient.address, LABS, [Source(str(tmp_path / "missing.json"))])
    with pytest.raises(AccessDeniedError, match="no write consent"):
        import_records(people.stranger, people.patient.address, LABS, sources)
    assert _batches(people.lab) == [] and _batches(people.stranger) == []


def test_registrations_of_several_batches_are_in_flight_at_once(people: People, anvil, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sources = _sources(tmp_path / "archive", 6)
    anvil.rpc("evm_setIntervalMining", [3])  # a block every 3 s: batches sent meanwhile share it
    anvil.set_automine(False)
    try:
        results = import_records(people.lab, people.patient.address, LABS, sources, batch_size=2, in_flight=3)
    finally:
        anvil.rpc("evm_setIntervalMining", [0])
        anvil.set_automine(True)

    w3 = people.lab.ledger.chain.w3
    transactions = [w3.eth.get_transaction(result.tx_hash) for result in results]
    assert [tx["nonce"] for tx in transactions] == list(range(transactions[0]["nonce"], transactions[0]["nonce"] + 3))
    assert len({tx["blockNumber"] for tx in transactions}) < 3  # at least two were pending together
    assert all(_registered(people.lab, people.patient.address, [cid for r in results for cid in r.cids]))
    assert [entry.state for entry in _batches(people.lab)] == [DONE, DONE, DONE]


def test_a_crash_in_a_later_batch_leaves_the_earlier_ones_registered_and_each_later_one_resumable(
    people: People, tmp_path: Path
) -> None:
    sources = _sources(tmp_path / "archive", 6)
    sent = []

    def crash_at_second_send(step: str) -> None:
        if step == SENT:
            sent.append(step)
            if len(sent) == 2:
                raise Crash(step)

    with pytest.raises(Crash):
        import_records(people.lab, people.patient.address, LABS, sources, batch_size=2, fault=crash_at_second_send)

    entries = _batches(people.lab)
    assert entries[0].state == DONE and all(_registered(people.lab, people.patient.address, entries[0].cids))
    assert entries[1].state == SENT  # journaled, never broadcast
    for entry in pending_batches(people.lab):
        assert resume_batch(people.lab, entry.id).state == DONE
    cids = [cid for entry in _batches(people.lab) for cid in entry.cids or ()]
    assert len(cids) == 6 and all(_registered(people.lab, people.patient.address, cids))
