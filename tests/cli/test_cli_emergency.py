"""`medledger emergency`: preferences and break-glass; a clinician whose break-glass is open reads
emergency categories with `record fetch --purpose emergency`, through the key-release services."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import CLINIC, PATIENT, Cli, address, assert_clear_failure

REFUSED = 3

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]


@pytest.fixture
def allergies(world: Cli, tmp_path: Path) -> tuple[str, Path]:
    """(cid, source) of an allergies record the patient published."""
    source = tmp_path / "allergies.json"
    source.write_text(json.dumps({"resourceType": "AllergyIntolerance", "code": {"text": "penicillin"}}))
    published = world.json(
        "record", "publish", source, "--patient", address(PATIENT), "--category", "allergies", account=PATIENT
    )
    return published["cid"], source


def test_break_glass_opens_emergency_access_until_the_end_of_the_window(world: Cli) -> None:
    opened = world.json("emergency", "break-glass", address(PATIENT), "--reason", "unconscious", account=CLINIC)

    assert opened["patient"] == address(PATIENT) and opened["provider"] == address(CLINIC)
    assert opened["reason"] == "unconscious" and opened["until"] > 0


def test_clinician_who_broke_glass_reads_an_allergies_record_for_emergency_treatment_through_the_services(
    world: Cli, allergies: tuple[str, Path], tmp_path: Path
) -> None:
    cid, source = allergies
    world.ok("emergency", "break-glass", address(PATIENT), "--reason", "unconscious", account=CLINIC)

    read = world.ok(
        "record",
        "fetch",
        cid,
        "--patient",
        address(PATIENT),
        "--out",
        tmp_path / "read.json",
        "--purpose",
        "emergency",
        account=CLINIC,
    )

    assert (tmp_path / "read.json").read_bytes() == source.read_bytes()
    assert re.search(r"data key recovered from [23] services", read.stderr)


def test_no_emergency_read_after_the_patient_closes_break_glass(
    world: Cli, allergies: tuple[str, Path], tmp_path: Path
) -> None:
    cid, _ = allergies
    world.ok("emergency", "break-glass", address(PATIENT), "--reason", "unconscious", account=CLINIC)
    world.ok("emergency", "close", address(PATIENT), address(CLINIC), account=PATIENT)

    refused = world.invoke(
        "record",
        "fetch",
        cid,
        "--patient",
        address(PATIENT),
        "--out",
        tmp_path / "x.json",
        "--purpose",
        "emergency",
        account=CLINIC,
    )

    assert_clear_failure(refused, REFUSED)


def test_clinician_reading_for_ordinary_treatment_is_refused_despite_break_glass(
    world: Cli, allergies: tuple[str, Path], tmp_path: Path
) -> None:
    cid, _ = allergies
    world.ok("emergency", "break-glass", address(PATIENT), "--reason", "unconscious", account=CLINIC)

    refused = world.invoke(
        "record",
        "fetch",
        cid,
        "--patient",
        address(PATIENT),
        "--out",
        tmp_path / "read.json",
        "--purpose",
        "treatment",
        account=CLINIC,
    )

    assert_clear_failure(refused, REFUSED)
    assert not (tmp_path / "read.json").exists()


def test_break_glass_on_a_patient_who_opted_out_is_refused_with_EmergencyOptOut(world: Cli) -> None:
    preferences = world.json("emergency", "preferences", "--opt-out", account=PATIENT)
    assert preferences["optedOut"] is True

    refused = world.invoke("emergency", "break-glass", address(PATIENT), "--reason", "unconscious", account=CLINIC)

    line = assert_clear_failure(refused, REFUSED)
    assert line == f"error: the patient {address(PATIENT)} has opted out of break-glass"


def test_opting_back_in_allows_break_glass_again(world: Cli) -> None:
    world.ok("emergency", "preferences", "--opt-out", account=PATIENT)
    world.ok("emergency", "preferences", "--opt-in", account=PATIENT)

    world.ok("emergency", "break-glass", address(PATIENT), "--reason", "unconscious", account=CLINIC)
