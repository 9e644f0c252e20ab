"""FHIR billing documents and a claim's history as FHIR: every resource validates with
fhir.resources, amounts are Money in the token's units, reason codes are X12 CARC, and each step
of the lifecycle maps to one resource."""

from __future__ import annotations

import pytest
from eth_utils import to_checksum_address

from medledger.fhir.claims import (
    CARC,
    ClaimLine,
    claim_document,
    claim_history_resources,
    claim_response_document,
    coverage_document,
)
from medledger.fhir.validate import to_json

PATIENT, CLINIC, INSURER, TOKEN = ("0x" + f"{n:040x}" for n in (0xA1, 0xB2, 0xC3, 0xD4))
CLAIM_ID, COVERAGE_ID = b"\x01" * 32, b"\x02" * 32
USD = 10**6


def _step(n: int, event: str, **args: object) -> dict[str, object]:
    return {
        "event": event,
        "timestamp": 1_900_000_000 + n * 3600,
        "tx_hash": "0x" + f"{n:064x}",
        "log_index": 0,
        "args": args,
    }


def test_a_coverage_names_beneficiary_payor_period_plan_and_token():
    coverage = coverage_document(
        chain_id=31337, patient=PATIENT, insurer=INSURER, member_id="M-1", plan="Gold", start=1_800_000_000,
        end=1_900_000_000, token=TOKEN,
    )  # fmt: skip
    assert coverage["beneficiary"]["identifier"]["value"] == f"eip155:31337:{to_checksum_address(PATIENT)}"
    assert coverage["payor"][0]["identifier"]["value"] == f"eip155:31337:{to_checksum_address(INSURER)}"
    assert coverage["extension"][0]["valueUri"].startswith("eip155:31337/erc20:")
    assert coverage["class"][0]["value"] == "Gold"


def test_a_claim_carries_codes_lines_and_total_in_token_units():
    claim = claim_document(
        chain_id=1, patient=PATIENT, provider=CLINIC, insurer=INSURER, coverage_id=COVERAGE_ID,
        encounter="Encounter/1", service_date=1_850_000_000, created=1_850_000_100,
        lines=[ClaimLine("83036", "HbA1c", 45 * USD), ClaimLine("36415", "Venipuncture", 10_500_000)],
        diagnoses=[("E11.9", "Type 2 diabetes")], supporting=["ipfs://bafkexample"], decimals=6, symbol="USDC",
    )  # fmt: skip
    assert float(claim["total"]["value"]) == 55.5 and claim["total"]["currency"] == "USDC"
    assert [item["productOrService"]["coding"][0]["code"] for item in claim["item"]] == ["83036", "36415"]
    assert claim["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0]["code"] == "E11.9"
    with pytest.raises(ValueError):
        claim_document(
            chain_id=1, patient=PATIENT, provider=CLINIC, insurer=INSURER, coverage_id=COVERAGE_ID,
            encounter="E", service_date=1, created=2, lines=[], diagnoses=[], supporting=[], decimals=6, symbol="USDC",
        )  # fmt: skip


def test_a_denial_is_an_error_outcome_with_its_carc_reason():
    response = claim_response_document(
        chain_id=1, claim_id=CLAIM_ID, patient=PATIENT, provider=CLINIC, insurer=INSURER, created=1_900_000_000,
        billed=45 * USD, approved=0, patient_share=0, reason=50, decimals=6, symbol="USDC",
    )  # fmt: skip
    assert response["outcome"] == "error" and "not deemed a medical necessity" in response["disposition"]
    benefit = response["item"][0]["adjudication"][1]
    assert benefit["reason"]["coding"][0] == {"system": CARC, "code": "50", "display": "not deemed a medical necessity"}


def test_every_step_of_a_disputed_claim_maps_to_one_resource():
    steps = [
        _step(0, "ClaimSubmitted", claimId=CLAIM_ID, coverageId=COVERAGE_ID, digest=b"\x03" * 32, billed=45 * USD),
        _step(1, "ClaimPended", claimId=CLAIM_ID, reason=16, digest=b"\x00" * 32),
        _step(2, "ClaimSupplemented", claimId=CLAIM_ID, digest=b"\x04" * 32),
        _step(3, "ClaimAdjudicated", claimId=CLAIM_ID, approved=30 * USD, patientShare=5 * USD, reason=45, round=0),
        _step(4, "ClaimPaid", claimId=CLAIM_ID, amount=30 * USD),
        _step(5, "ClaimAppealed", claimId=CLAIM_ID, appellant=CLINIC),
        _step(6, "ClaimAdjudicated", claimId=CLAIM_ID, approved=40 * USD, patientShare=5 * USD, reason=0, round=1),
        _step(7, "ClaimPaid", claimId=CLAIM_ID, amount=10 * USD),
    ]
    resources = claim_history_resources(
        steps, chain_id=1, claim_id=CLAIM_ID, patient=PATIENT, provider=CLINIC, insurer=INSURER, decimals=6,
        symbol="USDC",
    )  # fmt: skip
    kinds = [r.get_resource_type() for r in resources]
    assert kinds == ["Claim"] + ["ClaimResponse"] * 3 + ["ExplanationOfBenefit", "ClaimResponse", "ClaimResponse"] + [
        "ExplanationOfBenefit"
    ]
    as_json = [to_json(r) for r in resources]
    assert len(as_json[0]["supportingInfo"]) == 2  # the claim document and the supplement
    assert [r["outcome"] for r in as_json[1:4]] == ["queued", "queued", "complete"]
    assert "on appeal" in as_json[6]["disposition"]
    assert float(as_json[7]["payment"]["amount"]["value"]) == 10.0
    assert len({r["id"] for r in as_json}) == len(as_json)
