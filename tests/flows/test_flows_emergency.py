"""Break-glass through the key-release services: a clinician who broke glass reads emergency
categories for emergency treatment (ETREAT) only, within the window; every service checks the
open window at each release, so a close, the end of the window, an opt-out or a suspension stops
every release at once. No party holds standing keys to emergency categories."""

from __future__ import annotations

from pathlib import Path

import pytest

from medledger.chain.errors import ContractRevertError
from medledger.flows import AccessDeniedError
from medledger.flows.emergency import break_glass, emergency_read
from medledger.flows.records import PublishResult, fetch, publish
from medledger.ledger.emergency import EmergencyReason
from medledger.scopes import Category, Purpose

from .conftest import People, refused_after, sha256_of, write_source

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]

ALLERGIES = Category.ALLERGIES
LABS = Category.LABS


def _publish(people: People, tmp_path: Path, category: int, seed: int) -> tuple[PublishResult, str]:
    source = tmp_path / f"record-{seed}.json"
    expected = write_source(source, 900 + seed, seed=seed)
    return publish(people.patient, people.patient.address, category, source), expected


@pytest.fixture
def broken(people: People) -> People:
    """The clinician broke glass on the patient (no consent of its own)."""
    break_glass(people.clinic, people.patient.address, EmergencyReason.UNCONSCIOUS)
    return people


def test_clinician_who_broke_glass_reads_an_allergies_record_for_emergency_treatment(
    broken: People, tmp_path: Path
) -> None:
    record, expected = _publish(broken, tmp_path, ALLERGIES, 1)

    out = emergency_read(broken.clinic, broken.patient.address, record.digest, tmp_path / "allergies.json")

    assert sha256_of(out.path) == expected and not out.direct
    [logged] = broken.patient.ledger.events(
        "AccessLogged", from_block=broken.patient.from_block, patient=broken.patient.address
    )
    assert (logged.args.accessor, logged.args.purpose) == (broken.clinic.address, Purpose.ETREAT)


def test_break_glass_does_not_allow_reading_for_ordinary_treatment(broken: People, tmp_path: Path) -> None:
    record, _ = _publish(broken, tmp_path, ALLERGIES, 2)

    with pytest.raises(AccessDeniedError):
        fetch(broken.clinic, broken.patient.address, record.digest, tmp_path / "refused.json", purpose=Purpose.TREAT)


def test_break_glass_does_not_open_a_non_emergency_category(broken: People, tmp_path: Path) -> None:
    record, _ = _publish(broken, tmp_path, LABS, 3)

    with pytest.raises(AccessDeniedError):
        emergency_read(broken.clinic, broken.patient.address, record.digest, tmp_path / "refused.json")


def test_no_read_once_the_window_has_ended(broken: People, tmp_path: Path) -> None:
    record, _ = _publish(broken, tmp_path, ALLERGIES, 4)
    broken.patient.ledger.chain.increase_time(broken.patient.ledger.emergency.window() + 60)

    with pytest.raises(AccessDeniedError):
        emergency_read(broken.clinic, broken.patient.address, record.digest, tmp_path / "refused.json")


def test_a_read_under_way_when_the_patient_closes_break_glass_is_refused_by_every_service(
    broken: People, tmp_path: Path
) -> None:
    record, _ = _publish(broken, tmp_path, ALLERGIES, 5)
    patient, clinic = broken.patient, broken.clinic

    failed = refused_after(
        clinic,
        patient.address,
        record.digest,
        tmp_path,
        lambda: patient.ledger.emergency.close(patient.address, clinic.address),
        Purpose.ETREAT,
    )

    assert [attempt.code for attempt in failed.attempts] == ["no-access"] * 3


def test_a_read_under_way_when_the_clinician_is_suspended_is_refused_by_every_service(
    world, broken: People, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    record, _ = _publish(broken, tmp_path, ALLERGIES, 6)
    registrar = world.ledger(world.actors.registrar).providers

    failed = refused_after(
        broken.clinic,
        broken.patient.address,
        record.digest,
        tmp_path,
        lambda: registrar.suspend(broken.clinic.address),
        Purpose.ETREAT,
    )

    assert [attempt.code for attempt in failed.attempts] == ["no-access"] * 3


def test_break_glass_on_an_opted_out_patient_is_refused(people: People) -> None:
    people.patient.ledger.emergency.set_preferences(opt_out=True)

    with pytest.raises(ContractRevertError) as refused:
        break_glass(people.clinic, people.patient.address, EmergencyReason.UNCONSCIOUS)

    assert refused.value.error == "EmergencyOptOut"
    assert people.patient.ledger.emergency.access_until(people.patient.address, people.clinic.address) == 0
