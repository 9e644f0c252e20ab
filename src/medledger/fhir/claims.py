"""FHIR R4 billing documents: Coverage, Claim, ClaimResponse and ExplanationOfBenefit.

Two uses:

* The documents people exchange (`coverage_document`, `claim_document`, `claim_response_document`):
  built here, validated with fhir.resources, then encrypted and published as BILLING records of the
  patient by flows/claims.py. They carry what the chain never sees: diagnosis and procedure codes,
  the member id, the plan.
* The export of a claim's history from chain events (`claim_history_resources`): a Claim, then one
  ClaimResponse per step (pended, supplemented, adjudicated, appealed, withdrawn) and an
  ExplanationOfBenefit per payment, carrying only what the chain holds (parties, amounts, reason
  codes, times, document digests).

Mapping: parties are accounts as CAIP-10 URIs (`eip155:<chainId>:<address>`, as in the Consent
export); the coverage and the claim are identified by their on-chain ids (`urn:medledger:coverage:`
and `urn:medledger:claim:` + hex); documents by `record_uri` (ipfs:// CID or urn:sha256 digest);
amounts are Money in the token's whole units with the token's symbol as currency (a stablecoin's
symbol, not an ISO 4217 code: the token is named in the Coverage's settlement-token extension as a
CAIP-19 asset id); reason codes are X12 Claim Adjustment Reason Codes (CARC).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.resource import Resource

from medledger.fhir import codes
from medledger.fhir.events import fhir_instant
from medledger.fhir.validate import to_json, validate_resource

CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
PROCESS_PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
PAYMENT_TYPE = "http://terminology.hl7.org/CodeSystem/ex-paymenttype"
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
CLAIM_INFO_CATEGORY = "http://terminology.hl7.org/CodeSystem/claiminformationcategory"
CARC = "https://x12.org/codes/claim-adjustment-reason-codes"
CPT = "http://www.ama-assn.org/go/cpt"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
MEMBER_ID = "urn:medledger:fhir:NamingSystem:member-id"
ENCOUNTER_ID = "urn:medledger:fhir:NamingSystem:encounter"
SETTLEMENT_TOKEN = "urn:medledger:fhir:StructureDefinition:settlement-token"
CLAIM_STEP = "urn:medledger:fhir:CodeSystem:claim-step"

# A few CARC texts for the CLI and the export (the code is what travels; any code 1..65535 is kept).
CARC_TEXT = {
    1: "deductible amount",
    2: "coinsurance amount",
    3: "co-payment amount",
    16: "claim lacks information needed for adjudication",
    45: "charge exceeds fee schedule",
    50: "not deemed a medical necessity",
    96: "non-covered charge(s)",
    197: "precertification/authorization absent",
}


def carc_text(code: int) -> str:
    return CARC_TEXT.get(int(code), f"CARC {int(code)}")


def _account(chain_id: int, address: str) -> dict[str, Any]:
    return {"identifier": {"system": codes.URI_SYSTEM, "value": codes.account_uri(chain_id, address)}}


def coverage_uri(coverage_id: bytes | str) -> str:
    return "urn:medledger:coverage:" + _hex(coverage_id)


def claim_uri(claim_id: bytes | str) -> str:
    return "urn:medledger:claim:" + _hex(claim_id)


def _hex(value: bytes | str) -> str:
    return bytes(value).hex() if isinstance(value, bytes | bytearray) else str(value).lower().removeprefix("0x")


def _date(timestamp: int) -> str:
    return fhir_instant(timestamp)[:10]


def _money(raw: int, decimals: int, symbol: str) -> dict[str, Any]:
    return {"value": Decimal(int(raw)).scaleb(-int(decimals)), "currency": symbol}


def _text_amount(raw: int, decimals: int, symbol: str) -> str:
    """`12500000, 6, "USDC"` as `12.50 USDC`."""
    value = Decimal(int(raw)).scaleb(-int(decimals))
    text = f"{value:.{max(2, -value.normalize().as_tuple().exponent if value else 2)}f}"  # type: ignore[operator]
    return f"{text} {symbol}"


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _validated(data: Mapping[str, Any]) -> Resource:
    return validate_resource(dict(data))


# -- the documents people exchange -------------------------------------------------------------


@dataclass(frozen=True)
class ClaimLine:
    """One billed service: a CPT (or other) code, what it is, its price in token units."""

    code: str
    display: str
    amount: int
    system: str = CPT


def coverage_document(
    *,
    chain_id: int,
    patient: str,
    insurer: str,
    member_id: str,
    plan: str,
    start: int,
    end: int,
    token: str,
) -> dict[str, Any]:
    """The Coverage an insurer publishes for a patient (validated FHIR JSON)."""
    data = {
        "resourceType": "Coverage",
        "id": f"coverage-{member_id}".replace(" ", "-")[:64],
        "status": "active",
        "identifier": [{"system": MEMBER_ID, "value": member_id}],
        "type": _concept(codes.ACT_CODE, "EHCPOL", "extended healthcare"),
        "subscriberId": member_id,
        "beneficiary": _account(chain_id, patient),
        "payor": [_account(chain_id, insurer)],
        "period": {"start": fhir_instant(start), "end": fhir_instant(end)},
        "class": [{"type": _concept(COVERAGE_CLASS, "plan"), "value": plan, "name": plan}],
        "extension": [{"url": SETTLEMENT_TOKEN, "valueUri": f"eip155:{int(chain_id)}/erc20:{token}"}],
    }
    return to_json(_validated(data))


def claim_document(
    *,
    chain_id: int,
    patient: str,
    provider: str,
    insurer: str,
    coverage_id: bytes,
    encounter: str,
    service_date: int,
    created: int,
    lines: Sequence[ClaimLine],
    diagnoses: Sequence[tuple[str, str]],
    supporting: Sequence[str],
    decimals: int,
    symbol: str,
) -> dict[str, Any]:
    """The Claim a provider publishes (validated FHIR JSON): diagnoses (ICD-10-CM code, display),
    billed lines, and the supporting records (record URIs) the insurer may read for payment."""
    if not lines:
        raise ValueError("a claim bills at least one service")
    total = sum(line.amount for line in lines)
    data: dict[str, Any] = {
        "resourceType": "Claim",
        "id": "claim-" + _hex(coverage_id)[:16] + "-" + str(service_date),
        "identifier": [{"system": ENCOUNTER_ID, "value": encounter}],
        "status": "active",
        "type": _concept(CLAIM_TYPE, "professional", "Professional"),
        "use": "claim",
        "patient": _account(chain_id, patient),
        "billablePeriod": {"start": fhir_instant(service_date), "end": fhir_instant(service_date)},
        "created": fhir_instant(created),
        "insurer": _account(chain_id, insurer),
        "provider": _account(chain_id, provider),
        "priority": _concept(PROCESS_PRIORITY, "normal"),
        "insurance": [
            {
                "sequence": 1,
                "focal": True,
                "coverage": {"identifier": {"system": codes.URI_SYSTEM, "value": coverage_uri(coverage_id)}},
            }
        ],
        "item": [
            {
                "sequence": n,
                "productOrService": _concept(line.system, line.code, line.display),
                "servicedDate": _date(service_date),
                "unitPrice": _money(line.amount, decimals, symbol),
                "net": _money(line.amount, decimals, symbol),
            }
            for n, line in enumerate(lines, 1)
        ],
        "total": _money(total, decimals, symbol),
    }
    if diagnoses:
        data["diagnosis"] = [
            {"sequence": n, "diagnosisCodeableConcept": _concept(ICD10, code, display)}
            for n, (code, display) in enumerate(diagnoses, 1)
        ]
    if supporting:
        data["supportingInfo"] = [
            {
                "sequence": n,
                "category": _concept(CLAIM_INFO_CATEGORY, "attachment", "Attachment"),
                "valueReference": {"identifier": {"system": codes.URI_SYSTEM, "value": uri}},
            }
            for n, uri in enumerate(supporting, 1)
        ]
    return to_json(_validated(data))


def claim_response_document(
    *,
    chain_id: int,
    claim_id: bytes,
    patient: str,
    provider: str,
    insurer: str,
    created: int,
    billed: int,
    approved: int,
    patient_share: int,
    reason: int,
    decimals: int,
    symbol: str,
    pended: bool = False,
    note: str | None = None,
    response_id: str | None = None,
) -> dict[str, Any]:
    """The insurer's answer (validated FHIR JSON): a request for information (`pended`), an
    approval (amount > 0, with the patient's share) or a denial (amount 0, with a CARC reason)."""
    outcome = "queued" if pended else "complete" if approved else "error"
    adjudication: list[dict[str, Any]] = [
        {"category": _concept(ADJUDICATION, "submitted"), "amount": _money(billed, decimals, symbol)}
    ]
    if not pended:
        benefit: dict[str, Any] = {
            "category": _concept(ADJUDICATION, "benefit"),
            "amount": _money(approved, decimals, symbol),
        }
        if reason:
            benefit["reason"] = _concept(CARC, str(reason), carc_text(reason))
        adjudication.append(benefit)
        if patient_share:
            adjudication.append(
                {
                    "category": _concept(ADJUDICATION, "copay", "CoPay"),
                    "amount": _money(patient_share, decimals, symbol),
                }
            )
    data: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": response_id or f"claimresponse-{_hex(claim_id)[:16]}-{created}",
        "identifier": [{"system": codes.URI_SYSTEM, "value": claim_uri(claim_id)}],
        "status": "active",
        "type": _concept(CLAIM_TYPE, "professional", "Professional"),
        "use": "claim",
        "patient": _account(chain_id, patient),
        "created": fhir_instant(created),
        "insurer": _account(chain_id, insurer),
        "requestor": _account(chain_id, provider),
        "request": {"identifier": {"system": codes.URI_SYSTEM, "value": claim_uri(claim_id)}},
        "outcome": outcome,
        "disposition": note
        or (
            f"more information requested: {carc_text(reason)}"
            if pended
            else f"approved, patient owes {_text_amount(patient_share, decimals, symbol)}"
            if approved
            else f"denied: {carc_text(reason)}"
        ),
        "item": [{"itemSequence": 1, "adjudication": adjudication}],
    }
    if not pended:
        data["total"] = [{"category": _concept(ADJUDICATION, "benefit"), "amount": _money(approved, decimals, symbol)}]
    if pended and reason:
        data["processNote"] = [{"number": 1, "type": "display", "text": carc_text(reason)}]
    return to_json(_validated(data))


# -- a claim's history from chain events -------------------------------------------------------


def claim_history_resources(
    steps: Iterable[Mapping[str, Any]],
    *,
    chain_id: int,
    claim_id: bytes,
    patient: str,
    provider: str,
    insurer: str,
    decimals: int,
    symbol: str,
) -> list[Resource]:
    """A claim's on-chain history as FHIR: the Claim, one ClaimResponse per step and one
    ExplanationOfBenefit per payment. `steps`: {"event", "timestamp", "tx_hash", "log_index", "args"}
    in chain order (from `ClaimsClient.history` or the indexer)."""
    resources: list[Resource] = []
    billed, approved, share, reason, coverage = 0, 0, 0, 0, b""
    supporting: list[str] = []
    created = 0
    for n, step in enumerate(steps):
        event, args, when = str(step["event"]), step["args"], int(step["timestamp"])
        marker = {
            "system": codes.EVENT_IDENTIFIER,
            "value": codes.event_uri(chain_id, str(step["tx_hash"]), int(step["log_index"])),
        }
        step_id = f"{_hex(claim_id)[:16]}-{n}"
        if event == "ClaimSubmitted":
            billed, coverage, created = int(args["billed"]), _bytes(args["coverageId"]), when
            supporting.append(codes.record_uri(_hex(args["digest"])))
            continue
        if event == "ClaimSupplemented":
            supporting.append(codes.record_uri(_hex(args["digest"])))
        if event == "ClaimAdjudicated":
            approved, share, reason = int(args["approved"]), int(args["patientShare"]), int(args["reason"])
        if event == "ClaimPaid":
            resources.append(
                _validated(
                    _eob(
                        chain_id,
                        claim_id,
                        patient,
                        provider,
                        insurer,
                        coverage,
                        created,
                        when,
                        billed,
                        approved,
                        share,
                        int(args["amount"]),
                        decimals,
                        symbol,
                        step_id,
                        marker,
                    )
                )
            )
            continue
        note, pended = _step_note(event, args, decimals, symbol)
        response = claim_response_document(
            chain_id=chain_id,
            claim_id=claim_id,
            patient=patient,
            provider=provider,
            insurer=insurer,
            created=when,
            billed=billed,
            approved=approved,
            patient_share=share,
            reason=int(args.get("reason", reason) or 0),
            decimals=decimals,
            symbol=symbol,
            pended=pended,
            note=note,
            response_id=f"claimresponse-{step_id}",
        )
        response["identifier"].append(marker)
        response["extension"] = [{"url": CLAIM_STEP, "valueCode": event}]
        if event == "ClaimWithdrawn":
            response["status"] = "cancelled"
        resources.append(_validated(response))
    claim = {
        "resourceType": "Claim",
        "id": f"claim-{_hex(claim_id)[:16]}",
        "identifier": [{"system": codes.URI_SYSTEM, "value": claim_uri(claim_id)}],
        "status": "active",
        "type": _concept(CLAIM_TYPE, "professional", "Professional"),
        "use": "claim",
        "patient": _account(chain_id, patient),
        "created": fhir_instant(created),
        "insurer": _account(chain_id, insurer),
        "provider": _account(chain_id, provider),
        "priority": _concept(PROCESS_PRIORITY, "normal"),
        "insurance": [
            {
                "sequence": 1,
                "focal": True,
                "coverage": {"identifier": {"system": codes.URI_SYSTEM, "value": coverage_uri(coverage)}},
            }
        ],
        "supportingInfo": [
            {
                "sequence": n,
                "category": _concept(CLAIM_INFO_CATEGORY, "attachment", "Attachment"),
                "valueReference": {"identifier": {"system": codes.URI_SYSTEM, "value": uri}},
            }
            for n, uri in enumerate(supporting, 1)
        ],
        "total": _money(billed, decimals, symbol),
    }
    if not supporting:
        raise ValueError("a claim's history starts with its submission")
    return [_validated(claim), *resources]


def _bytes(value: Any) -> bytes:
    return bytes(value) if isinstance(value, bytes | bytearray) else bytes.fromhex(str(value).removeprefix("0x"))


def _step_note(event: str, args: Mapping[str, Any], decimals: int, symbol: str) -> tuple[str, bool]:
    """The disposition of one step, and whether the claim waits on it (queued)."""
    if event == "ClaimPended":
        return f"pended: {carc_text(int(args['reason']))}", True
    if event == "ClaimSupplemented":
        return "supporting information received", True
    if event == "ClaimAppealed":
        return f"appealed by {args['appellant']}", True
    if event == "ClaimWithdrawn":
        return "withdrawn by the provider", True
    approved, share = int(args["approved"]), int(args["patientShare"])
    round_ = " on appeal" if int(args.get("round", 0)) else ""
    if approved:
        owed = _text_amount(share, decimals, symbol)
        return f"approved{round_}: {_text_amount(approved, decimals, symbol)}, patient owes {owed}", False
    return f"denied{round_}: {carc_text(int(args['reason']))}", False


def _eob(
    chain_id: int,
    claim_id: bytes,
    patient: str,
    provider: str,
    insurer: str,
    coverage: bytes,
    created: int,
    when: int,
    billed: int,
    approved: int,
    share: int,
    amount: int,
    decimals: int,
    symbol: str,
    step_id: str,
    marker: dict[str, Any],
) -> dict[str, Any]:
    return {
        "resourceType": "ExplanationOfBenefit",
        "id": f"eob-{step_id}",
        "identifier": [{"system": codes.URI_SYSTEM, "value": claim_uri(claim_id)}, marker],
        "status": "active",
        "type": _concept(CLAIM_TYPE, "professional", "Professional"),
        "use": "claim",
        "patient": _account(chain_id, patient),
        "billablePeriod": {"start": fhir_instant(created)},
        "created": fhir_instant(when),
        "insurer": _account(chain_id, insurer),
        "provider": _account(chain_id, provider),
        "claim": {"identifier": {"system": codes.URI_SYSTEM, "value": claim_uri(claim_id)}},
        "outcome": "complete",
        "insurance": [
            {"focal": True, "coverage": {"identifier": {"system": codes.URI_SYSTEM, "value": coverage_uri(coverage)}}}
        ],
        "total": [
            {"category": _concept(ADJUDICATION, "submitted"), "amount": _money(billed, decimals, symbol)},
            {"category": _concept(ADJUDICATION, "benefit"), "amount": _money(approved, decimals, symbol)},
            {"category": _concept(ADJUDICATION, "copay", "CoPay"), "amount": _money(share, decimals, symbol)},
        ],
        "payment": {
            "type": _concept(PAYMENT_TYPE, "complete", "Complete"),
            "date": _date(when),
            "amount": _money(amount, decimals, symbol),
        },
    }
