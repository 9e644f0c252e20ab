"""Admin and patient maintenance commands: `provider add-key-service`, `keys rotate`,
`record reencrypt`."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import ADMIN, CLINIC, PATIENT, STRANGER, Cli, address, assert_clear_failure

REFUSED = 3
KEY_SERVICE = 7

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]


def _keyring_epoch(cli: Cli, category: str = "labs") -> int:
    shown = cli.json("keys", "show", address(PATIENT))
    return shown["keyrings"][category]["epoch"]


def test_the_admin_makes_an_account_an_emergency_key_service(world: Cli) -> None:
    world.ok("keys", "publish", account=KEY_SERVICE)
    result = world.json("provider", "add-key-service", address(KEY_SERVICE), account=ADMIN)
    assert result["keyService"] == address(KEY_SERVICE)
    # The next emergency keyring the patient creates carries a share for the service.
    world.ok("keys", "publish", "--categories", "allergies", account=PATIENT)
    world.ok("emergency", "break-glass", address(PATIENT), "--reason", "unconscious", account=CLINIC)
    released = world.json("emergency", "serve", "--once", account=KEY_SERVICE)
    assert [(r["patient"], r["provider"]) for r in released] == [(address(PATIENT), address(CLINIC))]


def test_only_the_admin_adds_a_key_service(world: Cli) -> None:
    nonces = world.nonces()
    result = world.invoke("provider", "add-key-service", address(KEY_SERVICE), account=STRANGER)
    assert "AccessControlUnauthorizedAccount" in assert_clear_failure(result, REFUSED)
    assert world.nonces()[STRANGER] == nonces[STRANGER]  # nothing was sent


def test_keys_rotate_moves_each_named_keyring_to_its_next_epoch(world: Cli) -> None:
    before = _keyring_epoch(world)
    world.ok("keys", "rotate", "--categories", "labs", account=PATIENT)
    assert _keyring_epoch(world) == before + 1


def test_a_relayed_signed_revocation_followed_by_keys_rotate_closes_new_records(
    world: Cli, tmp_path: Path, lab_result: Path
) -> None:
    world.ok(
        "consent",
        "grant",
        address(CLINIC),
        "--categories",
        "labs",
        "--purpose",
        "treatment",
        "--expires",
        "30d",
        "--yes",
        account=PATIENT,
    )
    signed = tmp_path / "revoke.json"
    world.ok("consent", "sign", address(CLINIC), "--revoke", "--out", signed, account=PATIENT)
    world.ok("relay", signed, account=STRANGER)
    world.ok("keys", "rotate", "--categories", "labs", account=PATIENT)
    published = world.json(
        "record", "publish", lab_result, "--patient", address(PATIENT), "--category", "labs", account=PATIENT
    )
    result = world.invoke(
        "record", "fetch", published["cid"], "--patient", address(PATIENT), "--out", tmp_path / "x.json", account=CLINIC
    )
    assert_clear_failure(result, REFUSED)


def test_record_reencrypt_publishes_a_new_version_and_erases_the_old(
    world: Cli, tmp_path: Path, lab_result: Path
) -> None:
    old = world.json(
        "record", "publish", lab_result, "--patient", address(PATIENT), "--category", "labs", account=PATIENT
    )
    fresh = world.json("record", "reencrypt", old["cid"], account=PATIENT)
    listed = {row["cid"]: row for row in world.json("record", "list", "--patient", address(PATIENT))}
    assert listed[old["cid"]]["erased"] and listed[old["cid"]]["superseded"]
    assert listed[fresh["cid"]]["supersedes"] == old["digest"]
    out = tmp_path / "again.json"
    world.ok("record", "fetch", fresh["cid"], "--patient", address(PATIENT), "--out", out, account=PATIENT)
    assert out.read_bytes() == lab_result.read_bytes()


def test_reencrypting_someone_elses_record_is_refused(world: Cli, lab_result: Path) -> None:
    old = world.json(
        "record", "publish", lab_result, "--patient", address(PATIENT), "--category", "labs", account=PATIENT
    )
    result = world.invoke("record", "reencrypt", old["cid"], account=CLINIC)
    assert_clear_failure(result, REFUSED)
