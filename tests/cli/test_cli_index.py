"""`medledger index sync`, `audit` (from the indexer, `--disclosures`, `--no-index`) and
`export fhir`: a patient's history in chain order, an accounting of disclosures, and a FHIR Bundle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medledger.fhir import validate_resource

from .conftest import ADMIN, CLINIC, PATIENT, Cli, address

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]

STORY = ["RecordAdded", "ConsentGranted", "AccessLogged"]


@pytest.fixture
def story(world: Cli, lab_result: Path, tmp_path: Path) -> dict:
    """The patient publishes a labs record, grants the clinic, and the clinic reads it (logged)."""
    published = world.json(
        "record", "publish", lab_result, "--patient", address(PATIENT), "--category", "labs", account=PATIENT
    )
    world.grant(address(CLINIC))
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
    return published


def _ordered(rows: list[dict]) -> bool:
    keys = [(row["block"], row["log_index"]) for row in rows]
    return keys == sorted(keys) and len(set(keys)) == len(keys)


def test_index_sync_indexes_the_events_up_to_the_head(world: Cli, story: dict) -> None:
    head = int(str(world.anvil.rpc("eth_blockNumber")), 16)

    report = world.json("index", "sync")

    assert report["to_block"] == head and report["events"] > 0


def test_index_sync_again_has_nothing_new(world: Cli, story: dict) -> None:
    first = world.json("index", "sync")

    again = world.json("index", "sync")

    assert again["events"] == 0 and again["to_block"] == first["to_block"]


def test_audit_lists_the_patients_events_in_chain_order(world: Cli, story: dict) -> None:
    world.ok("index", "sync")

    history = world.json("audit", address(PATIENT))

    assert _ordered(history)
    assert [row["event"] for row in history if row["event"] in STORY] == STORY


def test_audit_names_who_caused_each_event(world: Cli, story: dict) -> None:
    history = world.json("audit", address(PATIENT))

    actors = {row["event"]: row["actor"] for row in history if row["event"] in STORY}
    assert actors["ConsentGranted"] == address(PATIENT)
    assert actors["AccessLogged"] == address(CLINIC)


def test_audit_picks_up_events_after_an_earlier_sync(world: Cli, story: dict) -> None:
    world.ok("index", "sync")
    world.ok("consent", "revoke", address(CLINIC), "--yes", account=PATIENT)

    history = world.json("audit", address(PATIENT))

    assert history[-1]["event"] == "ConsentRevoked"
    assert _ordered(history)


def test_audit_disclosures_lists_a_fetch_as_record_access_for_treatment(world: Cli, story: dict) -> None:
    disclosures = world.json("audit", address(PATIENT), "--disclosures")

    assert [(d["kind"], d["recipient"], d["purpose"]) for d in disclosures] == [
        ("record-access", address(CLINIC), "TREAT")
    ]
    assert disclosures[0]["cid"] == story["cid"] and disclosures[0]["category"] == "labs"


def test_audit_disclosures_since_a_later_date_is_empty(world: Cli, story: dict) -> None:
    assert world.json("audit", address(PATIENT), "--disclosures", "--since", "2999-01-01") == []


def test_audit_disclosures_until_a_date_before_the_fetch_is_empty(world: Cli, story: dict) -> None:
    assert world.json("audit", address(PATIENT), "--disclosures", "--until", "2000-01-01") == []


def test_audit_disclosures_over_the_last_day_includes_the_fetch(world: Cli, story: dict) -> None:
    disclosures = world.json("audit", address(PATIENT), "--disclosures", "--since", "1d")

    assert [d["kind"] for d in disclosures] == ["record-access"]


def test_audit_without_the_index_lists_the_same_events_in_the_same_order(world: Cli, story: dict) -> None:
    indexed = world.json("audit", address(PATIENT))

    scanned = world.json("audit", address(PATIENT), "--no-index")

    assert _ordered(scanned)
    assert [(row["block"], row["log_index"], row["event"]) for row in scanned] == [
        (row["block"], row["log_index"], row["event"]) for row in indexed
    ]


def test_audit_without_the_index_creates_no_index_database(world: Cli, story: dict) -> None:
    world.ok("audit", address(PATIENT), "--no-index")

    index = world.home / "index"
    assert not index.exists() or not list(index.glob("*.sqlite"))


def test_export_fhir_writes_a_bundle_that_validates(world: Cli, story: dict, tmp_path: Path) -> None:
    out = tmp_path / "bundle.json"

    exported = world.json("export", "fhir", address(PATIENT), "--out", out)

    bundle = validate_resource(json.loads(out.read_text()), resource_type="Bundle")
    assert exported["file"] == str(out) and exported["resources"] == len(bundle.entry or []) > 0


def test_exported_bundle_holds_the_consent_and_the_audit_trail(world: Cli, story: dict, tmp_path: Path) -> None:
    out = tmp_path / "bundle.json"

    world.ok("export", "fhir", address(PATIENT), "--out", out)

    types = {entry["resource"]["resourceType"] for entry in json.loads(out.read_text())["entry"]}
    assert {"Consent", "AuditEvent"} <= types


SERVICE = "0x" + "11" * 20
SERVICE_KEY = "0x" + "22" * 32


def test_audit_with_services_shows_a_proposed_service_set(world: Cli) -> None:
    world.ok("admin", "propose-services", "--member", f"{SERVICE}:{SERVICE_KEY}", "-k", "1", account=ADMIN)

    history = world.json("audit", address(PATIENT), "--services")

    proposed = [row for row in history if row["event"] == "ServiceSetProposed"]
    assert proposed[-1]["details"]["members"] == [address_of(SERVICE)]
    assert proposed[-1]["details"]["threshold"] == 1 and proposed[-1]["actor"] == address(ADMIN)


def test_audit_with_services_lists_the_same_rows_without_the_index(world: Cli) -> None:
    world.ok("admin", "propose-services", "--member", f"{SERVICE}:{SERVICE_KEY}", "-k", "1", account=ADMIN)

    indexed = world.json("audit", address(PATIENT), "--services")
    scanned = world.json("audit", address(PATIENT), "--services", "--no-index")

    assert [(row["block"], row["log_index"], row["event"], row["actor"]) for row in scanned] == [
        (row["block"], row["log_index"], row["event"], row["actor"]) for row in indexed
    ]
    assert "ServiceSetProposed" in [row["event"] for row in scanned]


def test_audit_without_services_leaves_the_service_sets_out(world: Cli) -> None:
    world.ok("admin", "propose-services", "--member", f"{SERVICE}:{SERVICE_KEY}", "-k", "1", account=ADMIN)

    history = world.json("audit", address(PATIENT))

    assert "ServiceSetProposed" not in [row["event"] for row in history]


def address_of(value: str) -> str:
    from eth_utils import to_checksum_address

    return to_checksum_address(value)
