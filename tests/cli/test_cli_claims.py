"""`medledger deploy claims` and `medledger claim ...` against anvil, the IPFS daemon and the
key-release services: the walkthrough a clinic and an insurer run, and the refusals they meet
(one line, exit 2 for bad input, 3 for what the rules refuse)."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import ADMIN, CLINIC, PATIENT, REGISTRAR, STRANGER, address, assert_clear_failure

INSURER = 6


@pytest.fixture
def billing(world, lab_result):
    """Claims deployed; an insurer with a key and a token; the patient's consents; a lab result."""
    world.ok("deploy", "claims", "--timely-filing", "90d", "--adjudication", "30d", "--appeal", "60d", account=ADMIN)
    world.ok("provider", "register", address(INSURER), "--kind", "insurer", account=REGISTRAR)
    world.ok("keys", "publish", account=INSURER)
    for grantee, purposes in ((CLINIC, "treatment,payment"), (INSURER, "payment")):
        world.ok(
            "consent", "grant", address(grantee), "--categories", "labs,billing", "--purpose", purposes,
            "--access", "read,write", "--expires", "1y", "--yes", account=PATIENT,
        )  # fmt: skip
    token = world.json("claim", "token", "--symbol", "USDC", "--decimals", "6", "--mint", "5000", account=INSURER)
    lab = world.json(
        "record", "publish", lab_result, "--patient", address(PATIENT), "--category", "labs", account=CLINIC
    )
    return token["token"], lab


def test_deploy_claims_records_the_module_and_a_second_run_reuses_it(world):
    first = world.json("deploy", "claims", "--timely-filing", "90d", account=ADMIN)
    assert first["timelyFilingSeconds"] == 90 * 86400 and not first["reused"]
    record = json.loads(next(world.deployments.glob("*.json")).read_text())
    assert record["contracts"]["Claims"]["address"] == first["address"]
    assert world.json("deploy", "claims", "--timely-filing", "90d", account=ADMIN)["reused"]
    line = assert_clear_failure(world.invoke("deploy", "claims", "--appeal", "0d", account=ADMIN), 2)
    assert "--appeal" in line


def test_a_clinic_bills_the_insurer_reads_approves_and_pays_the_clinic_withdraws(world, billing, tmp_path):
    token, lab = billing
    patient = address(PATIENT)
    coverage = world.json(
        "claim", "cover", patient, "--token", token, "--member-id", "M-1001", "--plan", "Gold PPO",
        "--start", "30d", "--end", "1y", account=INSURER,
    )["coverageId"]  # fmt: skip
    funded = world.ok("claim", "fund", "1000", "--token", token, account=INSURER).stdout
    assert "escrow now 1000.00 USDC" in funded
    submitted = world.json(
        "claim", "submit", "--coverage", coverage, "--encounter", "Encounter/2026-0412-17", "--service-date", "1d",
        "--line", "83036:Hemoglobin A1c=45.00", "--diagnosis", "E11.9:Type 2 diabetes", "--supporting", lab["digest"],
        account=CLINIC,
    )  # fmt: skip
    claim = submitted["claimId"]
    assert submitted["billedText"] == "45.00 USDC"
    read = world.json("claim", "read", claim, "--out", tmp_path / "claim.json", account=INSURER)
    assert read["accessTx"] and json.loads((tmp_path / "claim.json").read_text())["resourceType"] == "Claim"
    world.ok("claim", "read", claim, "--record", lab["digest"], "--out", tmp_path / "lab.json", account=INSURER)
    decided = world.ok("claim", "adjudicate", claim, "--approve", "40", "--patient-share", "5.00", account=INSURER)
    assert "approved: insurer pays 40.00 USDC, patient owes 5.00 USDC" in decided.stdout
    world.ok("claim", "pay", claim, account=CLINIC)
    assert "withdrew 40.00 USDC" in world.ok("claim", "withdraw-funds", "--token", token, account=CLINIC).stdout
    shown = world.json("claim", "show", claim)
    assert (shown["status"], shown["paid"], shown["patientShare"]) == ("paid", 40_000_000, 5_000_000)
    assert [step["event"] for step in shown["history"]] == ["ClaimSubmitted", "ClaimAdjudicated", "ClaimPaid"]
    listed = world.json("claim", "list", "--patient", patient, "--db", tmp_path / "index.db")
    assert [row["claimId"] for row in listed] == [claim] and listed[0]["status"] == "paid"
    touched = world.json("claim", "records", patient, "--db", tmp_path / "index.db")
    assert {(row["how"], row["record"]) for row in touched} >= {("read for payment", lab["digest"])}
    assert {row["how"] for row in touched} >= {"claim", "decision", "read for payment"}
    world.ok("claim", "export", claim, "--out", tmp_path / "bundle.json")
    kinds = [e["resource"]["resourceType"] for e in json.loads((tmp_path / "bundle.json").read_text())["entry"]]
    assert kinds == ["Claim", "ClaimResponse", "ExplanationOfBenefit"]
    balance = world.json("claim", "balance", "--token", token, account=INSURER)
    assert balance["escrow"] == 960_000_000
    ended = world.json("claim", "end-coverage", coverage, "--at", "30d", account=INSURER)
    assert world.json("claim", "coverage", coverage)["end"] == ended["end"]

    # What the rules refuse: one line, exit 3.
    line = assert_clear_failure(world.invoke("claim", "pay", claim, account=CLINIC), 3)
    assert "is paid: not allowed now" in line
    again = world.invoke(
        "claim", "submit", "--coverage", coverage, "--encounter", "Encounter/2026-0412-17", "--service-date", "1d",
        "--line", "83036=45", account=CLINIC,
    )  # fmt: skip
    assert "already claimed" in assert_clear_failure(again, 3)
    other = world.json(
        "claim", "submit", "--coverage", coverage, "--encounter", "Encounter/2", "--service-date", "2d",
        "--line", "83036=45", account=CLINIC,
    )["claimId"]  # fmt: skip
    line = assert_clear_failure(world.invoke("claim", "adjudicate", other, "--approve", "1", account=STRANGER), 3)
    assert "not the insurer of the claim" in line or "no write consent" in line or "not" in line


BAD_INPUT = [
    (("claim", "show", "0x1234"), "is not a claim id"),
    (("claim", "show", "0x" + "ab" * 32), "there is no claim"),
    (("claim", "adjudicate", "0x" + "ab" * 32, "--approve", "1", "--deny"), "exactly one"),
    (("claim", "fund", "12", "--token", "0x" + "11" * 20), "there is no token contract"),
    (("claim", "fund", "12.3456789", "--token", "TOKEN"), "more than the token's 6 decimal places"),
    (("claim", "fund", "twelve", "--token", "TOKEN"), "is not a number"),
    (("claim", "cover", "0x1234", "--token", "TOKEN", "--member-id", "M", "--plan", "P", "--end", "1y"), "patient"),
]


def test_bad_input_is_one_line_with_exit_2(world, billing):
    token, _ = billing
    for args, needle in BAD_INPUT:
        args = tuple(token if arg == "TOKEN" else arg for arg in args)
        line = assert_clear_failure(world.invoke(*args, account=INSURER), 2)
        assert needle in line, (args, line)


def test_claims_commands_before_deploy_claims_say_what_to_run(world):
    line = assert_clear_failure(world.invoke("claim", "show", "0x" + "ab" * 32, account=CLINIC), 2)
    assert "medledger deploy claims" in line
