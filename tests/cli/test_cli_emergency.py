"""`medledger emergency`: preferences, break-glass, and the emergency key service (`serve`,
`release`) that re-seals a patient's emergency keyrings to a clinician whose break-glass is open."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medledger.chain.accounts import anvil_account
from medledger.chain.connection import connect
from medledger.chain.deploy import load_deployment
from medledger.ledger import MedLedger

from .conftest import ADMIN, CLINIC, PATIENT, Cli, address, assert_clear_failure

REFUSED = 3
KEY_SERVICE = 7  # an anvil dev account the admin makes the emergency key service

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]


def _add_key_service(cli: Cli, index: int) -> None:
    """The admin grants EMERGENCY_KEY_SERVICE_ROLE (there is no CLI command for it)."""
    chain = connect(cli.anvil.rpc_url)
    ledger = MedLedger.from_deployment(chain, load_deployment(cli.deployments, chain), signer=anvil_account(ADMIN))
    ledger.emergency.add_key_service(address(index))


@pytest.fixture
def emergency_world(world: Cli) -> Cli:
    """A key service with its key published, then the patient's allergies keyring (sealed to it too)."""
    _add_key_service(world, KEY_SERVICE)
    world.ok("keys", "publish", account=KEY_SERVICE)
    world.ok("keys", "publish", "--categories", "allergies", account=PATIENT)
    return world


@pytest.fixture
def allergies(emergency_world: Cli, tmp_path: Path) -> tuple[str, Path]:
    """(cid, source) of an allergies record the patient published."""
    source = tmp_path / "allergies.json"
    source.write_text(json.dumps({"resourceType": "AllergyIntolerance", "code": {"text": "penicillin"}}))
    published = emergency_world.json(
        "record", "publish", source, "--patient", address(PATIENT), "--category", "allergies", account=PATIENT
    )
    return published["cid"], source


def test_break_glass_opens_emergency_access_until_the_end_of_the_window(emergency_world: Cli) -> None:
    opened = emergency_world.json(
        "emergency", "break-glass", address(PATIENT), "--reason", "unconscious", account=CLINIC
    )

    assert opened["patient"] == address(PATIENT) and opened["provider"] == address(CLINIC)
    assert opened["reason"] == "unconscious" and opened["until"] > 0


def test_serve_once_releases_the_keys_to_the_clinician_who_broke_glass(emergency_world: Cli) -> None:
    emergency_world.ok("emergency", "break-glass", address(PATIENT), "--reason", "unconscious", account=CLINIC)

    handled = emergency_world.json("emergency", "serve", "--once", account=KEY_SERVICE)

    assert [(h["patient"], h["provider"]) for h in handled] == [(address(PATIENT), address(CLINIC))]


def test_clinician_reads_an_allergies_record_for_emergency_treatment_after_the_release(
    emergency_world: Cli, allergies: tuple[str, Path], tmp_path: Path
) -> None:
    cid, source = allergies
    emergency_world.ok("emergency", "break-glass", address(PATIENT), "--reason", "unconscious", account=CLINIC)
    emergency_world.ok("emergency", "serve", "--once", account=KEY_SERVICE)

    emergency_world.ok(
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


def test_clinician_reading_for_ordinary_treatment_is_refused_despite_break_glass(
    emergency_world: Cli, allergies: tuple[str, Path], tmp_path: Path
) -> None:
    cid, _ = allergies
    emergency_world.ok("emergency", "break-glass", address(PATIENT), "--reason", "unconscious", account=CLINIC)
    emergency_world.ok("emergency", "serve", "--once", account=KEY_SERVICE)

    refused = emergency_world.invoke(
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


def test_serve_has_nothing_to_do_once_the_release_is_made(emergency_world: Cli) -> None:
    emergency_world.ok("emergency", "break-glass", address(PATIENT), "--reason", "unconscious", account=CLINIC)
    emergency_world.ok("emergency", "serve", "--once", account=KEY_SERVICE)

    assert emergency_world.json("emergency", "serve", "--max-rounds", "1", account=KEY_SERVICE) == []


def test_release_by_hand_works_while_break_glass_is_open(emergency_world: Cli) -> None:
    emergency_world.ok("emergency", "break-glass", address(PATIENT), "--reason", "life-threatening", account=CLINIC)

    released = emergency_world.json("emergency", "release", address(PATIENT), address(CLINIC), account=KEY_SERVICE)

    assert released["categories"] == [4]  # allergies


def test_release_without_break_glass_is_refused(emergency_world: Cli) -> None:
    refused = emergency_world.invoke("emergency", "release", address(PATIENT), address(CLINIC), account=KEY_SERVICE)

    assert "no open emergency access" in assert_clear_failure(refused, REFUSED)


def test_release_after_close_is_refused(emergency_world: Cli) -> None:
    emergency_world.ok("emergency", "break-glass", address(PATIENT), "--reason", "unconscious", account=CLINIC)
    emergency_world.ok("emergency", "close", address(PATIENT), account=CLINIC)

    refused = emergency_world.invoke("emergency", "release", address(PATIENT), address(CLINIC), account=KEY_SERVICE)

    assert_clear_failure(refused, REFUSED)


def test_break_glass_on_a_patient_who_opted_out_is_refused_with_EmergencyOptOut(world: Cli) -> None:
    preferences = world.json("emergency", "preferences", "--opt-out", account=PATIENT)
    assert preferences["optedOut"] is True

    refused = world.invoke("emergency", "break-glass", address(PATIENT), "--reason", "unconscious", account=CLINIC)

    assert "EmergencyOptOut" in assert_clear_failure(refused, REFUSED)


def test_opting_back_in_allows_break_glass_again(world: Cli) -> None:
    world.ok("emergency", "preferences", "--opt-out", account=PATIENT)
    world.ok("emergency", "preferences", "--opt-in", account=PATIENT)

    world.ok("emergency", "break-glass", address(PATIENT), "--reason", "unconscious", account=CLINIC)
