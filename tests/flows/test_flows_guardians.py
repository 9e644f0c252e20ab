"""Guardians read for their ward through the key-release services, which check the guardianship
at every release; they act for the ward with `on_behalf_of`; and a removal or the end of the
term closes every record to them at once, old and new."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from medledger.chain.accounts import anvil_account
from medledger.chain.errors import ContractRevertError
from medledger.flows import AccessDeniedError, Session
from medledger.flows.consent import grant, revoke, setup_account
from medledger.flows.guardians import appoint_guardian, remove_guardian
from medledger.flows.records import PublishResult, fetch, publish
from medledger.scopes import Permission, Purpose

from .conftest import LABS, LABS_MASK, TREATMENT, People, grant_read, refused_after, sha256_of, write_source

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


TERM = 30 * 86400  # seconds: every guardianship ends


def _now(session: Session) -> int:
    return session.ledger.chain.now()


def test_guardian_reads_a_record_published_before_its_appointment(
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


def test_guardian_reads_for_the_ward_without_any_grant_of_its_own(
    people: People, guardian: Session, tmp_path: Path
) -> None:
    appoint_guardian(people.patient, guardian.address, until=_now(people.patient) + TERM)
    record, _ = _publish(people, tmp_path, 3)

    out = fetch(guardian, people.patient.address, record.digest, tmp_path / "guardian.json")

    assert not out.direct and not people.patient.ledger.consent.get(people.patient.address, guardian.address).exists


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


def test_guardian_revokes_on_the_wards_behalf(people: People, guardian: Session) -> None:
    appoint_guardian(people.patient, guardian.address, until=_now(people.patient) + TERM)
    grant_read(people, people.clinic)

    revoke(guardian, people.clinic.address, on_behalf_of=people.patient.address)

    assert not people.patient.ledger.consent.has_access(
        people.patient.address, people.clinic.address, LABS, Purpose.TREAT, Permission.READ
    )


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


def test_a_guardians_read_under_way_when_it_is_removed_is_refused_by_every_service(
    people: People, guardian: Session, tmp_path: Path
) -> None:
    record, _ = _publish(people, tmp_path, 6)
    appoint_guardian(people.patient, guardian.address, until=_now(people.patient) + TERM)

    failed = refused_after(
        guardian,
        people.patient.address,
        record.digest,
        tmp_path,
        lambda: remove_guardian(people.patient, guardian.address),
    )

    assert [attempt.code for attempt in failed.attempts] == ["no-access"] * 3


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


def test_guardian_removed_by_an_appointing_guardian_can_no_longer_read_while_the_appointer_still_can(
    world, people: People, guardian: Session, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    second = people.make(world.actors.other_patient, "second-guardian")  # an account with no role here
    setup_account(second)
    appoint_guardian(people.patient, guardian.address, until=_now(people.patient) + TERM, can_appoint=True)
    appoint_guardian(guardian, second.address, until=_now(people.patient) + TERM // 2, patient=people.patient.address)

    remove_guardian(guardian, second.address, patient=people.patient.address)
    record, expected = _publish(people, tmp_path, 10)

    with pytest.raises(AccessDeniedError):
        fetch(second, people.patient.address, record.digest, tmp_path / "second.json")
    assert _fetch(guardian, people.patient.address, record, tmp_path) == expected
