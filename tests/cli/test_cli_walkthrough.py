"""The whole story through the installed `medledger` script, one process per command, as a user
would type it: deploy, credential, publish keys, publish, grant, fetch, review, revoke, audit,
amend, erase. The clinic reads through three real key-release services."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .conftest import (
    ADMIN,
    CLINIC,
    PATIENT,
    REGISTRAR,
    Cli,
    KeyServices,
    address,
    assert_clear_failure,
    ledger_address,
)

REFUSED = 3
STORY_EVENTS = {"RecordAdded", "ConsentGranted", "ConsentRevoked", "RecordErased"}


def test_walkthrough_from_deploy_to_erasure_through_the_console_script(
    cli: Cli, lab_result: Path, tmp_path: Path
) -> None:
    clinic = address(CLINIC)
    deployed = json.loads(cli.run_ok("deploy", "--registrar", address(REGISTRAR), account=ADMIN, as_json=True).stdout)
    assert deployed["reused"] is False and deployed["registrars"] == [address(REGISTRAR)]
    cli.run_ok("provider", "register", clinic, "--kind", "clinician", account=REGISTRAR)
    cli.run_ok("keys", "publish", account=CLINIC)
    keys = json.loads(cli.run_ok("keys", "publish", account=PATIENT, as_json=True).stdout)
    assert keys["published"] is True
    services = KeyServices(cli.anvil, ledger_address(cli), tmp_path / "services")
    try:
        _story(cli, lab_result, tmp_path)
    finally:
        services.stop()


def _story(cli: Cli, lab_result: Path, tmp_path: Path) -> None:
    patient, clinic = address(PATIENT), address(CLINIC)

    published = json.loads(
        cli.run_ok(
            "record", "publish", lab_result, "--patient", patient, "--category", "labs", account=PATIENT, as_json=True
        ).stdout
    )
    cid = published["cid"]
    assert published["serviceSet"] == 1

    granted = cli.run_ok(
        "consent",
        "grant",
        clinic,
        "--categories",
        "labs",
        "--purpose",
        "treatment",
        "--expires",
        "30d",
        "--yes",
        account=PATIENT,
    )
    assert "granted" in granted.stdout

    fetched = tmp_path / "fetched.json"
    read = cli.run_ok("record", "fetch", cid, "--patient", patient, "--out", fetched, account=CLINIC)
    assert fetched.read_bytes() == lab_result.read_bytes()
    assert "access logged on chain" in read.stderr
    assert re.search(r"data key recovered from [23] services", read.stderr)  # 2 of 3 needed, all asked at once

    consents = json.loads(cli.run_ok("consent", "list", account=PATIENT, as_json=True).stdout)
    assert [(row["grantee"], row["active"], row["categories"], row["read"], row["write"]) for row in consents] == [
        (clinic, True, ["labs"], True, False)
    ]
    shown = json.loads(cli.run_ok("consent", "show", clinic, account=PATIENT, as_json=True).stdout)
    assert shown["grantee"] == clinic and shown["active"] is True and shown["purposes"] == ["TREAT"]

    cli.run_ok("consent", "revoke", clinic, "--yes", account=PATIENT)
    refused = cli.run("record", "fetch", cid, "--patient", patient, "--out", tmp_path / "again.json", account=CLINIC)
    line = assert_clear_failure(refused, REFUSED)
    assert line.startswith("error: ") and clinic in line
    assert not (tmp_path / "again.json").exists()

    history = json.loads(cli.run_ok("audit", patient, as_json=True).stdout)
    assert [(e["block"], e["log_index"]) for e in history] == sorted((e["block"], e["log_index"]) for e in history)
    story = [e for e in history if e["event"] in STORY_EVENTS]  # other events (e.g. access logs) may interleave
    assert [e["event"] for e in story] == ["RecordAdded", "ConsentGranted", "ConsentRevoked"]
    assert story[1]["details"]["grantee"] == clinic and story[2]["details"]["grantee"] == clinic

    corrected = tmp_path / "corrected.json"
    corrected.write_text(lab_result.read_text().replace("6.1", "6.2"))
    amended = json.loads(
        cli.run_ok("record", "amend", cid, corrected, "--patient", patient, account=PATIENT, as_json=True).stdout
    )
    assert amended["cid"] != cid

    cli.run_ok("record", "erase", cid, "--yes", account=PATIENT)
    erased = cli.run("record", "fetch", cid, "--patient", patient, "--out", tmp_path / "erased.json", account=PATIENT)
    assert "erased" in assert_clear_failure(erased, REFUSED)
