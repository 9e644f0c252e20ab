"""`consent sign` + `relay` (EIP-712: the patient signs off line and pays nothing, anyone relays),
guardians (`guardian appoint|list`) and a guardian acting with `consent grant|revoke --for`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medledger.cli.units import parse_expiry

from .conftest import CLINIC, PATIENT, STRANGER, Cli, address, assert_clear_failure

REFUSED = 3
GUARDIAN = 6  # an anvil dev account with no role

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]


def _sign_grant(cli: Cli, out: Path) -> dict:
    return cli.json(
        "consent",
        "sign",
        address(CLINIC),
        "--categories",
        "labs",
        "--purpose",
        "treatment",
        "--expires",
        "30d",
        "--out",
        out,
        account=PATIENT,
    )


def _shown(cli: Cli) -> dict:
    return cli.json("consent", "show", address(CLINIC), "--patient", address(PATIENT))


# -- consent sign + relay ---------------------------------------------------------------------


def test_consent_sign_writes_a_signed_grant_file(world: Cli, tmp_path: Path) -> None:
    out = tmp_path / "grant.json"

    signed = _sign_grant(world, out)

    assert signed["kind"] == "Grant" and signed["file"] == str(out)
    document = json.loads(out.read_text())
    assert document["typedData"]["primaryType"] == "Grant"
    assert document["typedData"]["message"]["patient"] == address(PATIENT)
    assert document["typedData"]["message"]["grantee"] == address(CLINIC)
    assert document["signature"].startswith("0x") and len(document["signature"]) == 2 + 2 * 65
    assert "envelope" not in document and "envelopeHash" not in document["typedData"]["message"]  # no key material


def test_consent_sign_sends_no_transaction_from_the_patient(world: Cli, tmp_path: Path) -> None:
    before = world.nonce(PATIENT)

    _sign_grant(world, tmp_path / "grant.json")

    assert world.nonce(PATIENT) == before
    assert _shown(world)["active"] is False


def test_relay_by_another_account_applies_the_signed_grant(world: Cli, tmp_path: Path) -> None:
    _sign_grant(world, tmp_path / "grant.json")
    patient_nonce, relayer_nonce = world.nonce(PATIENT), world.nonce(STRANGER)

    relayed = world.json("relay", tmp_path / "grant.json", account=STRANGER)

    assert relayed["kind"] == "Grant" and relayed["patient"] == address(PATIENT)
    shown = _shown(world)
    assert shown["active"] is True and shown["categories"] == ["labs"] and shown["purposes"] == ["TREAT"]
    assert shown["read"] is True and shown["write"] is False
    assert world.nonce(STRANGER) == relayer_nonce + 1 and world.nonce(PATIENT) == patient_nonce  # the relayer paid


def test_clinic_reads_a_record_after_a_relayed_grant(world: Cli, tmp_path: Path, lab_result: Path) -> None:
    published = world.json(
        "record", "publish", lab_result, "--patient", address(PATIENT), "--category", "labs", account=PATIENT
    )
    _sign_grant(world, tmp_path / "grant.json")
    world.ok("relay", tmp_path / "grant.json", account=STRANGER)

    world.ok(
        "record",
        "fetch",
        published["cid"],
        "--patient",
        address(PATIENT),
        "--out",
        tmp_path / "read.json",
        account=CLINIC,
    )

    assert (tmp_path / "read.json").read_bytes() == lab_result.read_bytes()


def test_relaying_the_same_signed_grant_again_is_refused_with_InvalidNonce(world: Cli, tmp_path: Path) -> None:
    _sign_grant(world, tmp_path / "grant.json")
    world.ok("relay", tmp_path / "grant.json", account=STRANGER)

    again = world.invoke("relay", tmp_path / "grant.json", account=STRANGER)

    assert "is not the current one" in assert_clear_failure(again, REFUSED)


def test_a_tampered_signed_grant_is_refused_with_InvalidSignature(world: Cli, tmp_path: Path) -> None:
    _sign_grant(world, tmp_path / "grant.json")
    document = json.loads((tmp_path / "grant.json").read_text())
    document["typedData"]["message"]["categories"] |= 1 << 8  # also mental-health
    (tmp_path / "tampered.json").write_text(json.dumps(document))

    refused = world.invoke("relay", tmp_path / "tampered.json", account=STRANGER)

    assert "the signature does not match" in assert_clear_failure(refused, REFUSED)
    assert _shown(world)["active"] is False


def test_a_signed_revocation_relayed_by_another_account_revokes(world: Cli, tmp_path: Path) -> None:
    _sign_grant(world, tmp_path / "grant.json")
    world.ok("relay", tmp_path / "grant.json", account=STRANGER)
    before = world.nonce(PATIENT)

    signed = world.json(
        "consent", "sign", address(CLINIC), "--revoke", "--out", tmp_path / "revoke.json", account=PATIENT
    )
    world.ok("relay", tmp_path / "revoke.json", account=STRANGER)

    assert signed["kind"] == "Revoke"
    assert world.nonce(PATIENT) == before
    assert _shown(world)["active"] is False


# -- guardians --------------------------------------------------------------------------------


@pytest.fixture
def guarded_world(world: Cli) -> Cli:
    """The patient appointed GUARDIAN (who published its key) until 18 years from now."""
    world.ok("keys", "publish", account=GUARDIAN)
    world.ok("guardian", "appoint", address(GUARDIAN), "--until", "18y", account=PATIENT)
    return world


def test_guardian_list_shows_an_appointed_guardian_until_its_end_date(guarded_world: Cli) -> None:
    latest = guarded_world.anvil.rpc("eth_getBlockByNumber", ["latest", False])
    now = int(latest["timestamp"], 16)  # type: ignore[index]

    rows = guarded_world.json("guardian", "list", account=PATIENT)

    assert [(r["guardian"], r["active"], r["canAppoint"]) for r in rows] == [(address(GUARDIAN), True, False)]
    assert abs(rows[0]["until"] - parse_expiry("18y", now)) < 3600  # the 18th anniversary


def test_guardian_appoint_reports_the_ward_and_the_end_date(world: Cli) -> None:
    world.ok("keys", "publish", account=GUARDIAN)

    appointed = world.json("guardian", "appoint", address(GUARDIAN), "--until", "18y", account=PATIENT)

    assert appointed["patient"] == address(PATIENT) and appointed["guardian"] == address(GUARDIAN)
    assert appointed["until"] > 0 and appointed["canAppoint"] is False


def test_guardian_grants_for_the_patient_with_for(guarded_world: Cli) -> None:
    granted = guarded_world.json(
        "consent",
        "grant",
        address(CLINIC),
        "--categories",
        "labs",
        "--purpose",
        "treatment",
        "--expires",
        "30d",
        "--for",
        address(PATIENT),
        "--yes",
        account=GUARDIAN,
    )

    assert granted["patient"] == address(PATIENT)
    shown = _shown(guarded_world)
    assert shown["active"] is True and shown["categories"] == ["labs"]


def test_clinic_reads_after_a_guardians_grant(guarded_world: Cli, tmp_path: Path, lab_result: Path) -> None:
    published = guarded_world.json(
        "record", "publish", lab_result, "--patient", address(PATIENT), "--category", "labs", account=PATIENT
    )
    guarded_world.ok(
        "consent",
        "grant",
        address(CLINIC),
        "--categories",
        "labs",
        "--purpose",
        "treatment",
        "--expires",
        "30d",
        "--for",
        address(PATIENT),
        "--yes",
        account=GUARDIAN,
    )

    guarded_world.ok(
        "record",
        "fetch",
        published["cid"],
        "--patient",
        address(PATIENT),
        "--out",
        tmp_path / "read.json",
        account=CLINIC,
    )

    assert (tmp_path / "read.json").read_bytes() == lab_result.read_bytes()


def test_guardian_revokes_for_the_patient_with_for(guarded_world: Cli) -> None:
    guarded_world.ok(
        "consent",
        "grant",
        address(CLINIC),
        "--categories",
        "labs",
        "--purpose",
        "treatment",
        "--expires",
        "30d",
        "--for",
        address(PATIENT),
        "--yes",
        account=GUARDIAN,
    )

    revoked = guarded_world.json(
        "consent", "revoke", address(CLINIC), "--for", address(PATIENT), "--yes", account=GUARDIAN
    )

    assert revoked["patient"] == address(PATIENT) and revoked["grantee"] == address(CLINIC)
    assert _shown(guarded_world)["active"] is False


def test_grant_for_a_patient_one_is_not_guardian_of_is_refused_with_NotGuardian(world: Cli) -> None:
    world.ok("keys", "publish", account=GUARDIAN)
    before = world.nonce(GUARDIAN)

    refused = world.invoke(
        "consent",
        "grant",
        address(CLINIC),
        "--categories",
        "labs",
        "--purpose",
        "treatment",
        "--expires",
        "30d",
        "--for",
        address(PATIENT),
        "--yes",
        account=GUARDIAN,
    )

    assert f"is not a guardian of the patient {address(PATIENT)}" in assert_clear_failure(refused, REFUSED)
    assert world.nonce(GUARDIAN) == before  # refused by the read-only check, before anything was sent


def test_removed_guardian_is_listed_as_inactive(guarded_world: Cli) -> None:
    guarded_world.ok("guardian", "remove", address(GUARDIAN), account=PATIENT)

    rows = guarded_world.json("guardian", "list", "--patient", address(PATIENT))

    assert [(r["guardian"], r["active"]) for r in rows] == [(address(GUARDIAN), False)]
