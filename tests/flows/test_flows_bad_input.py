"""Bad input and broken parts fail loudly, with specific errors, and leave nothing half-done."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from medledger.chain.errors import TransactionFailedError
from medledger.chain.transactions import TxPolicy
from medledger.devnet.anvil import AnvilNode
from medledger.devnet.ports import free_loopback_port
from medledger.flows import EmptyRecordError, MissingEncryptionKeyError, RecordNotFoundError, Session
from medledger.flows.consent import setup_account
from medledger.flows.journal import DONE, ENCRYPTED, Journal
from medledger.flows.records import amend, fetch, publish, resume
from medledger.ledger import MedLedger
from medledger.storage import Cid, CidMismatchError, LocalBlockStore, StorageUnavailableError

from .conftest import (
    LABS,
    People,
    grant_read,
    journal_entries,
    kubo_store,
    pointers_added,
    sha256_of,
    staging_files,
    write_source,
)

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]


def _block_files(store: LocalBlockStore) -> list[Path]:
    return [p for p in (store.root / "blocks").rglob("*") if p.is_file()]


def test_tampered_block_in_the_embedded_store_fails_fetch_with_cid_mismatch(
    people_on_embedded: People, tmp_path: Path
) -> None:
    people = people_on_embedded
    source = tmp_path / "obs.json"
    write_source(source, 4096, seed=1)
    record = publish(people.lab, people.patient.address, LABS, source)
    block = people.store.block_path(Cid.parse(record.cid))  # type: ignore[attr-defined]
    block.write_bytes(os.urandom(block.stat().st_size))

    with pytest.raises(CidMismatchError):
        fetch(people.patient, people.patient.address, record.digest, tmp_path / "out" / "obs.json")


def test_tampered_block_leaves_no_destination_file_and_no_partial_file(
    people_on_embedded: People, tmp_path: Path
) -> None:
    people = people_on_embedded
    source = tmp_path / "big.bin"
    write_source(source, 2 * 1024 * 1024, seed=2)  # several blocks: the damage is in the middle
    record = publish(people.lab, people.patient.address, LABS, source)
    leaves = sorted(p for p in _block_files(people.store) if p.stat().st_size == 256 * 1024)  # type: ignore[arg-type]
    damaged = leaves[len(leaves) // 2]
    data = bytearray(damaged.read_bytes())
    data[100] ^= 0xFF
    damaged.write_bytes(bytes(data))
    out_dir = tmp_path / "out"

    with pytest.raises(CidMismatchError):
        fetch(people.patient, people.patient.address, record.digest, out_dir / "big.bin")

    assert list(out_dir.iterdir()) == []


def test_fetch_of_an_unknown_digest_raises_record_not_found(people: People, tmp_path: Path) -> None:
    with pytest.raises(RecordNotFoundError):
        fetch(people.patient, people.patient.address, os.urandom(32), tmp_path / "nothing.json")
    assert not (tmp_path / "nothing.json").exists()


def test_publish_for_a_patient_without_a_published_key_stores_and_journals_nothing(
    unenrolled_people: People, tmp_path: Path
) -> None:
    people = unenrolled_people
    setup_account(people.lab)
    source = tmp_path / "obs.json"
    write_source(source, 512, seed=3)

    with pytest.raises(MissingEncryptionKeyError):
        publish(people.patient, people.patient.address, LABS, source)

    assert _block_files(people.store) == []  # type: ignore[arg-type]
    assert journal_entries(people.patient.home) == []
    assert staging_files(people.patient.home) == []


def test_publish_of_a_missing_source_file_raises_file_not_found_and_journals_nothing(
    people: People, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        publish(people.lab, people.patient.address, LABS, tmp_path / "no-such-file.json")
    assert journal_entries(people.lab.home) == []


@pytest.fixture
def down_store():  # type: ignore[no-untyped-def]
    """A KuboStore pointing at a loopback port nothing listens on."""
    store = kubo_store(f"http://127.0.0.1:{free_loopback_port()}")
    store.retries, store.backoff = 1, 0.01
    yield store
    store.close()


def test_publish_with_the_ipfs_daemon_down_raises_storage_unavailable(
    people: People, down_store, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    lab = Session.open(people.lab.ledger, down_store, people.lab.home)
    source = tmp_path / "obs.json"
    write_source(source, 512, seed=4)

    with pytest.raises(StorageUnavailableError):
        publish(lab, people.patient.address, LABS, source)

    assert pointers_added(people.patient, people.patient.address) == []


def test_publish_interrupted_by_a_down_daemon_stays_resumable_and_resumes_once_it_is_back(
    people: People, down_store, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    lab_offline = Session(
        ledger=people.lab.ledger, store=down_store, home=people.lab.home, from_block=people.lab.from_block
    )
    source = tmp_path / "obs.json"
    expected = write_source(source, 512, seed=5)
    with pytest.raises(StorageUnavailableError):
        publish(lab_offline, people.patient.address, LABS, source)

    [entry] = Journal(people.lab.home).pending()
    assert entry.state == ENCRYPTED
    assert resume(people.lab, entry.id).state == DONE  # people.lab uses the live daemon

    cid = Cid.parse(Journal(people.lab.home).load(entry.id).cid)
    out = fetch(people.patient, people.patient.address, cid.digest, tmp_path / "out.json")
    assert sha256_of(out.path) == expected


# -- a failed fetch is not a read: nothing is logged before the blob is whole and verified -------------


def _access_logs(people: People) -> list:
    return people.patient.ledger.events(
        "AccessLogged", from_block=people.patient.from_block, patient=people.patient.address
    )


def test_fetch_of_a_tampered_block_logs_no_access(people_on_embedded: People, tmp_path: Path) -> None:
    people = people_on_embedded
    grant_read(people, people.clinic)
    source = tmp_path / "obs.json"
    write_source(source, 4096, seed=6)
    record = publish(people.lab, people.patient.address, LABS, source)
    block = people.store.block_path(Cid.parse(record.cid))  # type: ignore[attr-defined]
    block.write_bytes(os.urandom(block.stat().st_size))

    with pytest.raises(CidMismatchError):
        fetch(people.clinic, people.patient.address, record.digest, tmp_path / "out.json")

    assert _access_logs(people) == []


def test_fetch_with_the_ipfs_daemon_down_logs_no_access(people: People, down_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    grant_read(people, people.clinic)
    source = tmp_path / "obs.json"
    write_source(source, 4096, seed=7)
    record = publish(people.lab, people.patient.address, LABS, source)
    clinic_offline = Session(
        ledger=people.clinic.ledger, store=down_store, home=people.clinic.home, from_block=people.clinic.from_block
    )

    with pytest.raises(StorageUnavailableError):
        fetch(clinic_offline, people.patient.address, record.digest, tmp_path / "out.json")

    assert _access_logs(people) == []
    assert not (tmp_path / "out.json").exists()


def test_fetch_decrypts_nothing_until_its_access_log_is_mined(people: People, anvil: AnvilNode, tmp_path: Path) -> None:
    grant_read(people, people.clinic)
    source = tmp_path / "obs.json"
    write_source(source, 4096, seed=8)
    record = publish(people.lab, people.patient.address, LABS, source)
    clinic = people.clinic
    impatient = Session(
        ledger=MedLedger(
            clinic.ledger.chain,
            clinic.ledger.address,
            signer=clinic.signer,
            policy=TxPolicy(receipt_timeout=0.3, poll_interval=0.05),
        ),
        store=clinic.store,
        home=clinic.home,
        from_block=clinic.from_block,
    )
    anvil.set_automine(False)
    try:
        with pytest.raises(TransactionFailedError, match="still pending"):
            fetch(impatient, people.patient.address, record.digest, tmp_path / "out" / "obs.json")
    finally:
        anvil.rpc("anvil_dropAllTransactions")
        anvil.set_automine(True)

    assert list((tmp_path / "out").iterdir()) == []


# -- empty records ------------------------------------------------------------------------------------


def test_publish_of_an_empty_file_is_refused_before_anything_is_stored_or_sent(
    people_on_embedded: People, tmp_path: Path
) -> None:
    people = people_on_embedded
    source = tmp_path / "empty.json"
    source.write_bytes(b"")
    chain = people.lab.ledger.chain
    nonce = chain.w3.eth.get_transaction_count(people.lab.address, "pending")

    with pytest.raises(EmptyRecordError, match=r"empty\.json is empty \(0 bytes\): there is nothing to publish"):
        publish(people.lab, people.patient.address, LABS, source)

    assert _block_files(people.store) == []  # type: ignore[arg-type]
    assert journal_entries(people.lab.home) == []
    assert chain.w3.eth.get_transaction_count(people.lab.address, "pending") == nonce


def test_amending_with_an_empty_file_is_refused_and_the_record_stays_current(
    people_on_embedded: People, tmp_path: Path
) -> None:
    people = people_on_embedded
    source = tmp_path / "obs.json"
    write_source(source, 512, seed=10)
    record = publish(people.lab, people.patient.address, LABS, source)
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")

    with pytest.raises(EmptyRecordError):
        amend(people.lab, people.patient.address, record.digest, empty)

    assert not people.patient.ledger.records.get(people.patient.address, record.digest).superseded
    assert [e.state for e in journal_entries(people.lab.home)] == [DONE]
