"""`medledger deploy studies` and `medledger study ...` against anvil, the IPFS daemon and the real
key-release services: a researcher registers a study paying 25.00 USDC, a patient enrols with a
de-identified copy of a FHIR file, the researcher reads it, the patient is paid once; refusals are
one line with the rules' exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medledger.chain.accounts import anvil_account
from medledger.chain.connection import connect
from medledger.ledger import MedLedger

from .conftest import LAB, PATIENT, REGISTRAR, STRANGER, Cli, address, assert_clear_failure, ledger_address

REFUSED, BAD_INPUT = 3, 2
RESEARCHER = LAB

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]


@pytest.fixture
def study(world: Cli, tmp_path: Path) -> Cli:
    world.ok("provider", "register", address(RESEARCHER), "--kind", "researcher", account=REGISTRAR)
    world.ok("keys", "publish", account=RESEARCHER)
    deployed = world.json("deploy", "studies", "--test-token", "--fund", address(RESEARCHER), account=RESEARCHER)
    assert deployed["studies"] and deployed["token"]
    protocol, approval = tmp_path / "protocol.txt", tmp_path / "approval.txt"
    protocol.write_text("HbA1c in adults: protocol v1")
    approval.write_text("IRB 2026-114: approved")
    registered = world.json(
        "study",
        "register",
        "--reward",
        "25.00",
        "--places",
        "2",
        "--categories",
        "labs",
        "--enrol-until",
        "7d",
        "--until",
        "30d",
        "--protocol",
        protocol,
        "--approval",
        approval,
        account=RESEARCHER,
    )
    assert registered["study"] == 1 and registered["deposit"] == "50.00 USDC"
    return world


def _observation(tmp_path: Path) -> Path:
    path = tmp_path / "hba1c.json"
    path.write_text(
        json.dumps(
            {
                "resourceType": "Observation",
                "id": "obs-9",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}], "text": "Ana's HbA1c"},
                "subject": {"reference": "Patient/mrn-0042", "display": "Ana Rivera"},
                "effectiveDateTime": "2026-11-20T09:30:00Z",
                "valueQuantity": {"value": 6.1, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},
            }
        )
    )
    return path


def test_a_patient_enrols_the_researcher_reads_the_copy_and_the_patient_is_paid_once(
    study: Cli, tmp_path: Path
) -> None:
    enrolled = study.json("study", "enrol", "1", "--data", _observation(tmp_path), account=PATIENT)
    [record] = enrolled["records"]
    shown = study.json("study", "show", "1", "--patient", address(PATIENT), account=PATIENT)
    assert shown["enrolled"] == 1 and shown["participant"]["status"] == "enrolled"
    assert shown["reward"] == "25.00 USDC" and shown["categories"] == ["labs"]

    out = tmp_path / "read.json"
    read = study.json("study", "read", "1", address(PATIENT), record, "--out", out, account=RESEARCHER)
    assert read["rewardEarned"]
    copy = json.loads(out.read_text())
    assert copy["effectiveDateTime"] == "2026" and "Ana" not in out.read_text()

    paid = study.json("study", "claim-reward", "1", account=PATIENT)
    assert paid["amount"] == "25.00 USDC"
    again = study.invoke("study", "claim-reward", "1", account=PATIENT)
    assert "paid already" in assert_clear_failure(again, REFUSED)

    listed = study.json("study", "list", account=STRANGER)
    assert [row["study"] for row in listed] == [1] and listed[0]["paid"] == 1


def test_a_read_that_skips_the_studys_log_is_reported(study: Cli, tmp_path: Path) -> None:
    [record] = study.json("study", "enrol", "1", "--data", _observation(tmp_path), account=PATIENT)["records"]
    assert study.ok("study", "unlogged-reads", account=STRANGER).stdout.startswith("every research read")
    chain = connect(study.anvil.rpc_url)
    ledger = MedLedger(chain, ledger_address(study), signer=anvil_account(RESEARCHER))
    ledger.records.log_access(address(PATIENT), bytes.fromhex(record[2:]), 4)  # HRESCH, on the ledger only
    result = study.invoke("study", "unlogged-reads", account=STRANGER, as_json=True)
    assert result.exit_code == REFUSED
    [row] = json.loads(result.stdout)
    assert row["patient"] == address(PATIENT) and row["digest"] == record and row["study"] == 1


def test_a_withdrawn_patient_is_read_no_more(study: Cli, tmp_path: Path) -> None:
    [record] = study.json("study", "enrol", "1", "--data", _observation(tmp_path), account=PATIENT)["records"]
    withdrawn = study.ok("study", "withdraw", "1", account=PATIENT)
    assert "revoked the researcher's consent" in withdrawn.stdout
    refused = study.invoke("study", "read", "1", address(PATIENT), record, "--out", tmp_path / "x", account=RESEARCHER)
    assert_clear_failure(refused, REFUSED)


def test_a_signed_enrolment_is_relayed_by_a_stranger(study: Cli, tmp_path: Path) -> None:
    signed = tmp_path / "enrol.json"
    study.ok("study", "enrol", "1", "--data", _observation(tmp_path), "--sign-only", "--out", signed, account=PATIENT)
    relayed = study.json("study", "enrol", "1", "--relay", signed, account=STRANGER)
    assert relayed["kind"] == "Enrol" and relayed["patient"] == address(PATIENT)
    replay = study.invoke("study", "enrol", "1", "--relay", signed, account=STRANGER)
    assert "already used" in assert_clear_failure(replay, REFUSED)


REFUSALS = [
    (["study", "show", "7"], REFUSED, "no study 7"),
    (["study", "show", "seven"], BAD_INPUT, "not a study number"),
    (["study", "claim-reward", "1"], REFUSED, "no reward to claim"),
    (["study", "close", "1"], REFUSED, "runs until"),
    (["study", "enrol", "1"], BAD_INPUT, "--data"),
    (["study", "enrol", "1", "--record", "0x12"], BAD_INPUT, "neither a record digest"),
]


def test_refusals_are_one_line_with_the_rules_exit_code(study: Cli, tmp_path: Path) -> None:
    for args, code, words in REFUSALS:
        assert words in assert_clear_failure(study.invoke(*args, account=PATIENT), code), args
    doc = tmp_path / "doc.txt"
    doc.write_text("x")
    result = study.invoke(
        "study", "register", "--reward", "1", "--places", "1", "--categories", "labs", "--enrol-until", "1d",
        "--until", "2d", "--protocol", doc, "--approval", doc, account=PATIENT,
    )  # fmt: skip
    line = assert_clear_failure(result, REFUSED)
    assert "not an active researcher" in line or "escrow needs" in line
