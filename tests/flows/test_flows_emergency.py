"""Break-glass with the emergency key service: emergency-category keyrings carry a share for the
service; when a clinician breaks glass the service re-seals them to the clinician, who then reads
emergency categories for emergency treatment only, within the window. An opted-out patient's
keyrings carry no share and break-glass is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from medledger.chain.accounts import anvil_account
from medledger.chain.errors import ContractRevertError
from medledger.flows import AccessDeniedError, Session
from medledger.flows.consent import setup_account
from medledger.flows.emergency import break_glass, pending_releases, release_emergency_keys
from medledger.flows.keyrings import granted_keyrings, rotation_call
from medledger.flows.records import PublishResult, fetch, publish
from medledger.ledger.emergency import EmergencyReason
from medledger.scopes import Category, Purpose

from .conftest import People, sha256_of, write_source

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]

ALLERGIES = Category.ALLERGIES
LABS = Category.LABS


@pytest.fixture
def service(world, people: People) -> Session:  # type: ignore[no-untyped-def]
    """The emergency key service (anvil dev account 9): given the role by the admin, its key
    published BEFORE the patient creates an allergies keyring."""
    session = people.make(anvil_account(9), "key-service")
    world.ledger(world.actors.admin).emergency.add_key_service(session.address)
    setup_account(session)
    setup_account(people.patient, [ALLERGIES])
    return session


def _publish(people: People, tmp_path: Path, category: int, seed: int) -> tuple[PublishResult, str]:
    source = tmp_path / f"record-{seed}.json"
    expected = write_source(source, 900 + seed, seed=seed)
    return publish(people.patient, people.patient.address, category, source), expected


@pytest.fixture
def released(people: People, service: Session) -> People:
    """The clinician broke glass and the service released the keys."""
    break_glass(people.clinic, people.patient.address, EmergencyReason.UNCONSCIOUS)
    release_emergency_keys(service, people.patient.address, people.clinic.address)
    return people


def test_emergency_category_keyring_carries_a_share_for_the_key_service(people: People, service: Session) -> None:
    _, epoch = people.patient.ledger.keys.keyring_of(people.patient.address, ALLERGIES)

    held = {(k.category, k.epoch) for k in granted_keyrings(service, people.patient.address)}

    assert (ALLERGIES, epoch) in held


def test_non_emergency_keyring_carries_no_share_for_the_key_service(people: People, service: Session) -> None:
    held = {k.category for k in granted_keyrings(service, people.patient.address)}

    assert LABS not in held


def test_break_glass_puts_the_pair_in_the_services_pending_releases(people: People, service: Session) -> None:
    break_glass(people.clinic, people.patient.address, EmergencyReason.UNCONSCIOUS)

    assert pending_releases(service) == [(people.patient.address, people.clinic.address)]


def test_release_seals_the_emergency_keyrings_to_the_clinician(people: People, service: Session) -> None:
    break_glass(people.clinic, people.patient.address, EmergencyReason.LIFE_THREATENING)

    release = release_emergency_keys(service, people.patient.address, people.clinic.address)

    assert release.categories == [ALLERGIES]
    assert ALLERGIES in {k.category for k in granted_keyrings(people.clinic, people.patient.address)}


def test_released_clinician_reads_an_allergies_record_for_emergency_treatment(released: People, tmp_path: Path) -> None:
    record, expected = _publish(released, tmp_path, ALLERGIES, 1)

    fetch(released.clinic, released.patient.address, record.digest, tmp_path / "allergies.json", purpose=Purpose.ETREAT)

    assert sha256_of(tmp_path / "allergies.json") == expected


def test_nothing_is_pending_after_the_release(released: People, service: Session) -> None:
    assert pending_releases(service) == []


def test_break_glass_does_not_allow_reading_for_ordinary_treatment(released: People, tmp_path: Path) -> None:
    record, _ = _publish(released, tmp_path, ALLERGIES, 2)

    with pytest.raises(AccessDeniedError):
        fetch(
            released.clinic, released.patient.address, record.digest, tmp_path / "refused.json", purpose=Purpose.TREAT
        )


def test_break_glass_does_not_open_a_non_emergency_category(released: People, tmp_path: Path) -> None:
    record, _ = _publish(released, tmp_path, LABS, 3)

    with pytest.raises(AccessDeniedError):
        fetch(
            released.clinic, released.patient.address, record.digest, tmp_path / "refused.json", purpose=Purpose.ETREAT
        )


def test_release_after_the_window_is_refused_by_the_flow(people: People, service: Session) -> None:
    break_glass(people.clinic, people.patient.address, EmergencyReason.UNCONSCIOUS)
    people.patient.ledger.chain.increase_time(people.patient.ledger.emergency.window() + 60)

    with pytest.raises(AccessDeniedError):
        release_emergency_keys(service, people.patient.address, people.clinic.address)


def test_release_after_the_window_is_refused_on_chain(people: People, service: Session) -> None:
    break_glass(people.clinic, people.patient.address, EmergencyReason.UNCONSCIOUS)
    people.patient.ledger.chain.increase_time(people.patient.ledger.emergency.window() + 60)

    with pytest.raises(ContractRevertError) as refused:
        service.ledger.emergency.release_keys(people.patient.address, people.clinic.address, b"\x01" * 80)

    assert refused.value.error == "NoEmergencyAccess"


def test_expired_break_glass_is_no_longer_pending(people: People, service: Session) -> None:
    break_glass(people.clinic, people.patient.address, EmergencyReason.UNCONSCIOUS)
    people.patient.ledger.chain.increase_time(people.patient.ledger.emergency.window() + 60)

    assert pending_releases(service) == []


@pytest.fixture
def opted_out(people: People, service: Session) -> People:
    """The patient opted out of break-glass, then rotated its allergies keyring."""
    people.patient.ledger.emergency.set_preferences(opt_out=True)
    call, _ = rotation_call(people.patient, ALLERGIES)
    people.patient.ledger.multicall([call])
    return people


def test_opted_out_patients_rotated_keyring_carries_no_share_for_the_key_service(
    opted_out: People, service: Session
) -> None:
    _, epoch = opted_out.patient.ledger.keys.keyring_of(opted_out.patient.address, ALLERGIES)

    held = {(k.category, k.epoch) for k in granted_keyrings(service, opted_out.patient.address)}

    assert (ALLERGIES, epoch) not in held
    assert (ALLERGIES, epoch - 1) in held  # the share made before opting out stays on chain


def test_break_glass_on_an_opted_out_patient_is_refused(opted_out: People) -> None:
    with pytest.raises(ContractRevertError) as refused:
        break_glass(opted_out.clinic, opted_out.patient.address, EmergencyReason.UNCONSCIOUS)

    assert refused.value.error == "EmergencyOptOut"
    assert opted_out.patient.ledger.emergency.access_until(opted_out.patient.address, opted_out.clinic.address) == 0


def test_release_after_the_patient_opted_out_is_refused_and_not_pending(people: People, service: Session) -> None:
    break_glass(people.clinic, people.patient.address, EmergencyReason.UNCONSCIOUS)
    people.patient.ledger.emergency.set_preferences(opt_out=True)

    assert pending_releases(service) == []
    with pytest.raises(AccessDeniedError):
        release_emergency_keys(service, people.patient.address, people.clinic.address)
