"""Guardians read for their ward with the keyrings sealed to them at appointment (and in every
later rotation), act for the ward with `on_behalf_of`, and lose both chain access and every
later key when the patient removes them or their term ends."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from pathlib import Path

import pytest

from medledger.chain.accounts import anvil_account
from medledger.chain.errors import ContractRevertError
from medledger.crypto import NotARecipientError, decrypt_stream
from medledger.flows import AccessDeniedError, Session
from medledger.flows.consent import grant, revoke, setup_account
from medledger.flows.guardians import appoint_guardian, remove_guardian
from medledger.flows.keyrings import granted_keyrings
from medledger.flows.records import PublishResult, fetch, publish
from medledger.flows.streams import IteratorReader
from medledger.scopes import Permission, Purpose
from medledger.storage import Cid

from .conftest import LABS, LABS_MASK, TREATMENT, People, grant_read, sha256_of, write_source

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]


@pytest.fixture
def guardian(people: People) -> Session:
    """An account with no role (anvil dev account 9) that has published its key."""
    session = people.make(anvil_account(9), "guardian")
    setup_account(session)
    return session


def _publish(people: People, tmp_path: Path, seed: int) -> tuple[PublishResult, str]:
    source = tmp_path / f"record-{seed}.json"
    expected = write_source(source, 1500 + seed, seed=seed)
    return publish(people.lab, people.patient.address, LABS, source), expected


def _fetch(session: Session, patient: str, record: PublishResult, tmp_path: Path) -> str:
    out = tmp_path / "fetched" / f"{session.address}-{record.digest.hex()}"
    fetch(session, patient, record.digest, out)
    return sha256_of(out)


def _decrypt_bypassing_the_chain(session: Session, patient: str, record: PublishResult) -> bytes:
    """Every key `session` ever received, no hasAccess check (as demo._clinic_can_decrypt)."""
    identities = [session.keypair, *granted_keyrings(session, patient)]
    out = io.BytesIO()
    blob = IteratorReader(session.store.get(Cid.from_digest(record.digest, record.codec)))
    decrypt_stream(blob, out, binding=session.binding(patient, LABS), identity=identities)
    return out.getvalue()


TERM = 30 * 86400  # seconds: every guardianship ends


def _now(session: Session) -> int:
    return session.ledger.chain.now()


def test_guardian_appointed_after_keyrings_exist_reads_an_existing_record(
    people: People, guardian: Session, tmp_path: Path
) -> None:
    before, expected = _publish(people, tmp_path, 1)

    appoint_guardian(people.patient, guardian.address, until=_now(people.patient) + TERM)

    assert _fetch(guardian, people.patient.address, before, tmp_path) == expected


def test_guardian_reads_a_record_published_after_its_appointment(
    people: People, guardian: Session, tmp_path: Path
) -> None:
    appoint_guardian(people.patient, guardian.address, until=_now(people.patient) + TERM)

    after, expected = _publish(people, tmp_path, 2)

    assert _fetch(guardian, people.patient.address, after, tmp_path) == expected


def test_guardian_receives_a_share_of_every_later_rotation(people: People, guardian: Session, tmp_path: Path) -> None:
    appoint_guardian(people.patient, guardian.address, until=_now(people.patient) + TERM)
    grant_read(people, people.clinic)
    revoke(people.patient, people.clinic.address)  # rotates labs to the next epoch

    record, expected = _publish(people, tmp_path, 3)

    assert _fetch(guardian, people.patient.address, record, tmp_path) == expected


def test_guardian_grants_a_clinic_on_the_wards_behalf_and_the_clinic_reads(
    people: People, guardian: Session, tmp_path: Path
) -> None:
    record, expected = _publish(people, tmp_path, 4)
    appoint_guardian(people.patient, guardian.address, until=_now(people.patient) + TERM)

    grant(
        guardian,
        people.clinic.address,
        categories=LABS_MASK,
        purposes=TREATMENT,
        permissions=Permission.READ,
        expiry=timedelta(days=30),
        on_behalf_of=people.patient.address,
    )

    assert people.patient.ledger.consent.has_access(
        people.patient.address, people.clinic.address, LABS, Purpose.TREAT, Permission.READ
    )
    assert _fetch(people.clinic, people.patient.address, record, tmp_path) == expected


def test_guardian_revokes_on_the_wards_behalf_and_rotates_the_wards_keyring(people: People, guardian: Session) -> None:
    appoint_guardian(people.patient, guardian.address, until=_now(people.patient) + TERM)
    grant_read(people, people.clinic)
    _, epoch = people.patient.ledger.keys.keyring_of(people.patient.address, LABS)

    revoke(guardian, people.clinic.address, on_behalf_of=people.patient.address)

    assert not people.patient.ledger.consent.has_access(
        people.patient.address, people.clinic.address, LABS, Purpose.TREAT, Permission.READ
    )
    assert people.patient.ledger.keys.keyring_of(people.patient.address, LABS)[1] == epoch + 1


@pytest.fixture
def removed(people: People, guardian: Session, tmp_path: Path) -> People:
    """The guardian was appointed, read one record, and then the patient removed it."""
    record, _ = _publish(people, tmp_path, 5)
    appoint_guardian(people.patient, guardian.address, until=_now(people.patient) + TERM)
    _fetch(guardian, people.patient.address, record, tmp_path)
    remove_guardian(people.patient, guardian.address)
    return people


def test_removing_a_guardian_ends_its_access_on_chain(removed: People, guardian: Session) -> None:
    assert not removed.patient.ledger.guardians.is_guardian(removed.patient.address, guardian.address)
    assert not removed.patient.ledger.consent.has_access(
        removed.patient.address, guardian.address, LABS, Purpose.TREAT, Permission.READ
    )


def test_removing_a_guardian_rotates_the_wards_keyrings(people: People, guardian: Session) -> None:
    appoint_guardian(people.patient, guardian.address, until=_now(people.patient) + TERM)
    _, epoch = people.patient.ledger.keys.keyring_of(people.patient.address, LABS)

    remove_guardian(people.patient, guardian.address)

    assert people.patient.ledger.keys.keyring_of(people.patient.address, LABS)[1] == epoch + 1


def test_removed_guardian_held_a_working_key_before_removal(people: People, guardian: Session, tmp_path: Path) -> None:
    """Control for the next test: the bypass decryption works with a key the guardian holds."""
    appoint_guardian(people.patient, guardian.address, until=_now(people.patient) + TERM)
    record, expected = _publish(people, tmp_path, 6)

    assert (
        hashlib.sha256(_decrypt_bypassing_the_chain(guardian, people.patient.address, record)).hexdigest() == expected
    )


def test_record_published_after_removal_opens_with_no_key_the_guardian_ever_received(
    removed: People, guardian: Session, tmp_path: Path
) -> None:
    record, _ = _publish(removed, tmp_path, 7)

    assert granted_keyrings(guardian, removed.patient.address)  # it did receive keys while appointed
    with pytest.raises(NotARecipientError):
        _decrypt_bypassing_the_chain(guardian, removed.patient.address, record)


def test_removed_guardian_cannot_fetch(removed: People, guardian: Session, tmp_path: Path) -> None:
    record, _ = _publish(removed, tmp_path, 8)

    with pytest.raises(AccessDeniedError):
        fetch(guardian, removed.patient.address, record.digest, tmp_path / "refused.json")
    assert not (tmp_path / "refused.json").exists()


@pytest.fixture
def lapsed(people: People, guardian: Session) -> People:
    """The guardian was appointed for one hour, and two hours have passed."""
    appoint_guardian(people.patient, guardian.address, until=_now(people.patient) + 3600)
    people.patient.ledger.chain.increase_time(7200)
    return people


def test_guardian_whose_term_ended_is_no_longer_a_guardian(lapsed: People, guardian: Session) -> None:
    assert not lapsed.patient.ledger.guardians.is_guardian(lapsed.patient.address, guardian.address)


def test_guardian_whose_term_ended_cannot_grant_for_the_ward(lapsed: People, guardian: Session) -> None:
    with pytest.raises(ContractRevertError) as refused:
        grant(
            guardian,
            lapsed.clinic.address,
            categories=LABS_MASK,
            purposes=TREATMENT,
            permissions=Permission.READ,
            expiry=timedelta(days=30),
            on_behalf_of=lapsed.patient.address,
        )

    assert refused.value.error == "NotGuardian"
    assert not lapsed.patient.ledger.consent.get(lapsed.patient.address, lapsed.clinic.address).exists


def test_guardian_whose_term_ended_cannot_read(lapsed: People, guardian: Session, tmp_path: Path) -> None:
    record, _ = _publish(lapsed, tmp_path, 9)

    with pytest.raises(AccessDeniedError):
        fetch(guardian, lapsed.patient.address, record.digest, tmp_path / "refused.json")


def test_guardian_removed_by_an_appointing_guardian_gets_no_key_to_later_records(
    world, people: People, guardian: Session, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    second = people.make(world.actors.other_patient, "second-guardian")  # an account with no role here
    setup_account(second)
    appoint_guardian(people.patient, guardian.address, until=_now(people.patient) + TERM, can_appoint=True)
    appoint_guardian(guardian, second.address, until=_now(people.patient) + TERM // 2, patient=people.patient.address)
    _, epoch = people.patient.ledger.keys.keyring_of(people.patient.address, LABS)

    remove_guardian(guardian, second.address, patient=people.patient.address)
    record, expected = _publish(people, tmp_path, 10)

    assert people.patient.ledger.keys.keyring_of(people.patient.address, LABS)[1] == epoch + 1
    with pytest.raises(NotARecipientError):
        _decrypt_bypassing_the_chain(second, people.patient.address, record)
    assert _fetch(people.patient, people.patient.address, record, tmp_path) == expected
    assert _fetch(guardian, people.patient.address, record, tmp_path) == expected
