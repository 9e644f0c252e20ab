"""`record list`, `consent list` and `guardian list` learn who and what from the index (caught
up from its last block) and the current state from the contract, so they cost the same after
years of history; `--no-index` scans the event logs and must say the same."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.cli.conftest import CLINIC, LAB, PATIENT, REGISTRAR, Cli, address

GUARDIAN = 6


def _publish(cli: Cli, source: Path, *extra: str) -> dict:
    return cli.json(
        "record", "publish", source, "--patient", address(PATIENT), "--category", "labs", *extra, account=PATIENT
    )  # type: ignore[return-value]


def _index_cursor(cli: Cli) -> int:
    [database] = (cli.home / "index").glob("*.sqlite")
    with sqlite3.connect(database) as connection:
        rows = dict(connection.execute("SELECT key, value FROM meta").fetchall())
    return int(rows["last_block"])


def test_record_list_from_the_index_equals_the_scan_and_shows_amendments_and_erasure(
    world: Cli, lab_result: Path, tmp_path: Path
) -> None:
    first = _publish(world, lab_result)
    amended_source = tmp_path / "amended.json"
    amended_source.write_text(json.dumps({"resourceType": "Observation", "code": {"text": "HbA1c, corrected"}}))
    amendment = world.json(
        "record", "amend", first["cid"], amended_source, "--patient", address(PATIENT), account=PATIENT
    )
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"resourceType": "Observation", "code": {"text": "LDL"}}))
    erased = _publish(world, other)
    world.ok("record", "erase", erased["cid"], "--yes", account=PATIENT)

    from_index = world.json("record", "list", "--patient", address(PATIENT))
    scanned = world.json("record", "list", "--patient", address(PATIENT), "--no-index")

    assert from_index == scanned
    rows = {row["cid"]: row for row in from_index}  # type: ignore[union-attr]
    assert list(rows) == [first["cid"], amendment["cid"], erased["cid"]]
    assert rows[first["cid"]]["superseded"] and not rows[first["cid"]]["erased"]
    assert rows[amendment["cid"]]["supersedes"] == first["digest"]
    assert rows[erased["cid"]]["erased"]


def test_a_second_listing_syncs_the_index_only_from_where_the_first_stopped(world: Cli, lab_result: Path) -> None:
    _publish(world, lab_result)
    world.ok("record", "list", "--patient", address(PATIENT))
    after_first = _index_cursor(world)

    world.grant(address(CLINIC), expires="90d")
    world.ok("record", "list", "--patient", address(PATIENT))

    head = int(str(world.anvil.rpc("eth_blockNumber", [])), 16)
    assert after_first < _index_cursor(world) == head


def test_consent_list_from_the_index_names_each_grantee_once_with_its_current_terms(world: Cli) -> None:
    world.ok("provider", "register", address(LAB), "--kind", "clinician", account=REGISTRAR)
    world.grant(address(CLINIC), expires="90d")
    world.grant(address(LAB), expires="90d")
    world.grant(address(CLINIC), categories="labs,imaging", expires="90d")
    world.ok("consent", "revoke", address(LAB), "--yes", account=PATIENT)

    from_index = world.json("consent", "list", account=PATIENT)
    scanned = world.json("consent", "list", "--no-index", account=PATIENT)

    assert from_index == scanned
    assert [(row["grantee"], row["active"]) for row in from_index] == [  # type: ignore[union-attr]
        (address(CLINIC), True),
        (address(LAB), False),
    ]
    assert sorted(from_index[0]["categories"]) == ["imaging", "labs"]  # type: ignore[index]


def test_guardian_list_from_the_index_equals_the_scan(world: Cli) -> None:
    world.ok("keys", "publish", account=GUARDIAN)
    world.ok("guardian", "appoint", address(GUARDIAN), "--until", "5y", account=PATIENT)

    from_index = world.json("guardian", "list", account=PATIENT)

    assert from_index == world.json("guardian", "list", "--no-index", account=PATIENT)
    assert [(row["guardian"], row["active"]) for row in from_index] == [(address(GUARDIAN), True)]  # type: ignore[union-attr]


def test_the_index_option_names_a_database_of_its_own(world: Cli, lab_result: Path, tmp_path: Path) -> None:
    _publish(world, lab_result)
    database = tmp_path / "elsewhere.sqlite"

    rows = world.json("record", "list", "--patient", address(PATIENT), "--db", database)

    assert len(rows) == 1 and database.exists()  # type: ignore[arg-type]
