"""Revocation ends access on chain at once and, by rotating the keyring, cryptographically for
every record written afterwards; a grant made after a rotation carries every epoch."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from medledger.crypto import NotARecipientError, decrypt_stream
from medledger.flows import Session
from medledger.flows.consent import revoke
from medledger.flows.keyrings import granted_keyrings
from medledger.flows.records import PublishResult, fetch, publish
from medledger.flows.streams import IteratorReader
from medledger.scopes import Permission, Purpose
from medledger.storage import Cid

from .conftest import LABS, People, grant_read, sha256_of, write_source

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]


def _publish(people: People, tmp_path: Path, seed: int) -> tuple[PublishResult, str]:
    source = tmp_path / f"record-{seed}.json"
    expected = write_source(source, 1000 + seed, seed=seed)
    return publish(people.lab, people.patient.address, LABS, source), expected


def _decrypt_bypassing_the_chain(session: Session, patient: str, record: PublishResult) -> bytes:
    """Every key `session` ever received, no hasAccess check (as demo._clinic_can_decrypt)."""
    identities = [session.keypair, *granted_keyrings(session, patient)]
    out = io.BytesIO()
    blob = IteratorReader(session.store.get(Cid.from_digest(record.digest, record.codec)))
    decrypt_stream(blob, out, binding=session.binding(patient, LABS), identity=identities)
    return out.getvalue()


@pytest.fixture
def revoked(people: People, tmp_path: Path) -> People:
    """The clinic and the researcher both read labs; one record before; then the clinic is revoked."""
    grant_read(people, people.clinic)
    grant_read(people, people.researcher)
    _publish(people, tmp_path, 1)
    revoke(people.patient, people.clinic.address)
    return people


def test_revoked_grantee_has_no_access_on_chain(revoked: People) -> None:
    assert not revoked.patient.ledger.consent.has_access(
        revoked.patient.address, revoked.clinic.address, LABS, Purpose.TREAT, Permission.READ
    )


def test_revocation_moves_the_keyring_to_the_next_epoch(people: People) -> None:
    grant_read(people, people.clinic)
    _, before = people.patient.ledger.keys.keyring_of(people.patient.address, LABS)

    revoke(people.patient, people.clinic.address)

    _, after = people.patient.ledger.keys.keyring_of(people.patient.address, LABS)
    assert after == before + 1


def test_revoked_grantee_held_a_working_key_before_revocation(people: People, tmp_path: Path) -> None:
    """Control for the next test: the bypass decryption does work with a key the grantee holds."""
    grant_read(people, people.clinic)
    record, expected = _publish(people, tmp_path, 2)

    assert (
        hashlib.sha256(_decrypt_bypassing_the_chain(people.clinic, people.patient.address, record)).hexdigest()
        == expected
    )


def test_record_written_after_revocation_opens_with_no_key_the_revoked_grantee_ever_received(
    revoked: People, tmp_path: Path
) -> None:
    record, _ = _publish(revoked, tmp_path, 3)

    assert granted_keyrings(revoked.clinic, revoked.patient.address)  # it did receive keys
    with pytest.raises(NotARecipientError):
        _decrypt_bypassing_the_chain(revoked.clinic, revoked.patient.address, record)


def test_remaining_grantee_reads_a_record_written_after_revocation(revoked: People, tmp_path: Path) -> None:
    record, expected = _publish(revoked, tmp_path, 4)

    out = fetch(revoked.researcher, revoked.patient.address, record.digest, tmp_path / "researcher.json")

    assert sha256_of(out.path) == expected


def test_grantee_granted_after_a_rotation_reads_records_of_every_earlier_epoch(people: People, tmp_path: Path) -> None:
    grant_read(people, people.clinic)
    epoch_one, expected_one = _publish(people, tmp_path, 5)
    revoke(people.patient, people.clinic.address)
    epoch_two, expected_two = _publish(people, tmp_path, 6)
    assert people.patient.ledger.keys.keyring_of(people.patient.address, LABS)[1] == 2

    grant_read(people, people.researcher)

    for record, expected in ((epoch_one, expected_one), (epoch_two, expected_two)):
        out = fetch(people.researcher, people.patient.address, record.digest, tmp_path / f"{record.cid}.json")
        assert sha256_of(out.path) == expected
