"""Migration (`reencrypt`): the patient moves a record written before threshold key release
(format version 1: a keyring-era record, or one published while no service set was current) or
under a service set since replaced, to the current set; the old version is erased. A record
already under the current set is refused."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from medledger.chain.deploy import deploy
from medledger.crypto import AccountRecipient, EncryptionKeyPair, KeyringRecipient, encrypt_stream, read_header
from medledger.flows import AlreadyCurrentError, Session
from medledger.flows.consent import setup_account
from medledger.flows.errors import RecordErasedError
from medledger.flows.journal import DONE
from medledger.flows.records import PublishResult, fetch, migration, publish, reencrypt, reencrypt_all
from medledger.flows.streams import chunk_reader
from medledger.storage import Cid

from .conftest import (
    LABS,
    Crash,
    People,
    crash_after,
    grant_read,
    propose_and_activate,
    service_signer,
    sha256_of,
    write_source,
)

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]


def _keyring_era_record(people: People, tmp_path: Path, seed: int) -> tuple[bytes, str]:
    """A version-1 container as the keyring-era code wrote it (sealed to the patient and a labs
    keyring epoch), stored and registered by the patient; its digest and plaintext sha256."""
    source = tmp_path / f"v1-{seed}.json"
    expected = write_source(source, 3000 + seed, seed=seed)
    patient = people.patient
    keyring = EncryptionKeyPair.generate()
    out = io.BytesIO()
    with source.open("rb") as src:
        encrypt_stream(
            src,
            out,
            binding=patient.binding(patient.address, LABS, author=patient.address),
            recipients=[AccountRecipient(patient.keypair.public), KeyringRecipient(int(LABS), 1, keyring.public)],
        )
    cid = people.store.put(io.BytesIO(out.getvalue()))
    patient.ledger.records.add(patient.address, cid.digest, cid.codec, int(LABS))
    return cid.digest, expected


def _set_of(session: Session, digest: bytes) -> int | None:
    pointer = session.ledger.records.get(session.address, digest)
    header = read_header(chunk_reader(session.store.get(Cid.from_digest(pointer.digest, pointer.codec))))
    return header.threshold.set_version if header.threshold else None


def test_a_keyring_era_record_needs_migration(people: People, tmp_path: Path) -> None:
    digest, _ = _keyring_era_record(people, tmp_path, 1)

    needed = migration(people.patient, digest)

    assert needed is not None and needed.set_version is None and needed.current == 1


def test_the_patient_opens_a_keyring_era_record_with_its_own_stanza(people: People, tmp_path: Path) -> None:
    digest, expected = _keyring_era_record(people, tmp_path, 2)

    out = fetch(people.patient, people.patient.address, digest, tmp_path / "v1.json")

    assert out.direct and sha256_of(out.path) == expected


def test_a_reencrypted_keyring_era_record_is_under_the_current_set_and_a_grantee_reads_it(
    people: People, tmp_path: Path
) -> None:
    digest, expected = _keyring_era_record(people, tmp_path, 3)
    grant_read(people, people.clinic)

    fresh = reencrypt(people.patient, digest)

    assert fresh.service_set == 1 and _set_of(people.patient, fresh.digest) == 1
    out = fetch(people.clinic, people.patient.address, fresh.digest, tmp_path / "clinic.json")
    assert not out.direct and sha256_of(out.path) == expected


def test_the_reencrypted_version_supersedes_and_the_old_one_is_erased(people: People, tmp_path: Path) -> None:
    digest, _ = _keyring_era_record(people, tmp_path, 4)

    fresh = reencrypt(people.patient, digest)

    ledger = people.patient.ledger
    old = ledger.records.get(people.patient.address, digest)
    assert old.erased and old.superseded
    assert ledger.records.get(people.patient.address, fresh.digest).exists
    with pytest.raises(RecordErasedError):
        fetch(people.patient, people.patient.address, digest, tmp_path / "gone.json")


def test_a_record_under_the_current_set_is_refused(people: People, tmp_path: Path) -> None:
    source = tmp_path / "current.json"
    write_source(source, 500, seed=5)
    record = publish(people.lab, people.patient.address, LABS, source)

    with pytest.raises(AlreadyCurrentError, match="already under the current key-release service set 1"):
        reencrypt(people.patient, record.digest)
    assert people.patient.ledger.records.get(people.patient.address, record.digest).exists


def test_a_record_under_a_replaced_set_moves_to_the_new_set_and_reads_through_it(
    world, people: People, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "old-set.json"
    expected = write_source(source, 1200, seed=6)
    old = publish(people.lab, people.patient.address, LABS, source)
    assert old.service_set == 1
    # Set 2: the same three services, now 3 of 3.
    assert propose_and_activate(world, [service_signer(i) for i in (1, 2, 3)], 3) == 2
    assert migration(people.patient, old.digest).set_version == 1  # type: ignore[union-attr]
    grant_read(people, people.clinic)

    fresh = reencrypt(people.patient, old.digest)

    assert fresh.service_set == 2 and _set_of(people.patient, fresh.digest) == 2
    out = fetch(people.clinic, people.patient.address, fresh.digest, tmp_path / "clinic.json")
    assert sha256_of(out.path) == expected
    assert sum(attempt.outcome == "share" for attempt in out.attempts) == 3


def test_reencrypt_all_migrates_exactly_the_records_that_need_it_with_a_line_each(
    people: People, tmp_path: Path
) -> None:
    first, _ = _keyring_era_record(people, tmp_path, 7)
    second, _ = _keyring_era_record(people, tmp_path, 8)
    source = tmp_path / "current.json"
    write_source(source, 400, seed=9)
    current = publish(people.lab, people.patient.address, LABS, source)
    lines: list[str] = []

    results = reencrypt_all(people.patient, step=lines.append)

    assert len(results) == 2 and all(r.service_set == 1 for r in results)
    assert len(lines) == 2 and f"0x{first.hex()}" in lines[0] and f"0x{second.hex()}" in lines[1]
    assert people.patient.ledger.records.get(people.patient.address, current.digest).superseded is False
    assert reencrypt_all(people.patient) == []


def test_reencrypt_all_erases_the_old_version_a_crash_left_behind(people: People, tmp_path: Path) -> None:
    digest, _ = _keyring_era_record(people, tmp_path, 10)
    with pytest.raises(Crash):
        reencrypt(people.patient, digest, fault=crash_after(DONE))  # published, not yet erased
    assert not people.patient.ledger.records.get(people.patient.address, digest).erased

    lines: list[str] = []
    assert reencrypt_all(people.patient, step=lines.append) == []

    assert people.patient.ledger.records.get(people.patient.address, digest).erased
    assert lines == [f"finished an interrupted re-encryption: erased 0x{digest.hex()}"]


def test_publish_with_no_service_set_seals_to_the_patient_and_the_author_only_and_says_so(
    world, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A deployment whose admin has proposed no service set yet."""
    fresh = deploy(world.chain, world.actors.admin)
    from medledger.ledger import MedLedger
    from medledger.storage import LocalBlockStore

    store = LocalBlockStore(tmp_path / "blocks", fsync=False)
    patient = Session.open(
        MedLedger.from_deployment(world.chain, fresh, signer=world.actors.patient), store, tmp_path / "p", fresh
    )
    setup_account(patient)
    source = tmp_path / "early.json"
    expected = write_source(source, 800, seed=11)

    record: PublishResult = publish(patient, patient.address, LABS, source)

    assert record.service_set is None and _set_of(patient, record.digest) is None
    assert sha256_of(fetch(patient, patient.address, record.digest, tmp_path / "back.json").path) == expected
