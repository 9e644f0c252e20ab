"""Claims over the indexed `events` table: lists, one claim's history, and which claims touched
which records (for the audit). The Claims module's events land in `events` like the ledger's
(`Indexer.from_deployment` follows every module of the deployment record); each claim is folded
from its events in chain order, so the read model needs no table of its own."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from eth_utils import to_checksum_address

from medledger.indexer.store import Store
from medledger.ledger.claims import CLAIM_EVENTS, ClaimStatus
from medledger.scopes import Purpose

STATUS = {status.value: status.label for status in ClaimStatus if status is not ClaimStatus.NONE}
HPAYMT = int(Purpose.HPAYMT)


@dataclass(frozen=True)
class ClaimStep:
    block: int
    timestamp: int
    tx_hash: str
    log_index: int
    event: str
    actor: str | None
    args: dict[str, Any]


@dataclass
class ClaimSummary:
    """A claim as its events tell it (amounts in the token's smallest unit)."""

    claim_id: str
    patient: str
    provider: str
    coverage_id: str
    submitted_at: int
    billed: int
    status: str = "submitted"
    insurer: str | None = None
    approved: int = 0
    patient_share: int = 0
    paid: int = 0
    reason: int = 0
    round: int = 0
    updated_at: int = 0
    documents: list[str] = field(default_factory=list)  # digests of the claim's records, in order


def _steps(store: Store, where: str = "", params: Iterable[Any] = ()) -> list[ClaimStep]:
    placeholders = ", ".join("?" * len(CLAIM_EVENTS))
    rows = store.query(
        "SELECT block_number, block_timestamp, tx_hash, log_index, event, actor, args FROM events "
        f"WHERE event IN ({placeholders}){where} ORDER BY block_number, log_index",
        [*CLAIM_EVENTS, *params],
    )
    return [ClaimStep(int(b), int(t), str(tx), int(i), str(e), a, json.loads(args)) for b, t, tx, i, e, a, args in rows]


def _fold(steps: Iterable[ClaimStep]) -> dict[str, ClaimSummary]:
    claims: dict[str, ClaimSummary] = {}
    for step in steps:
        a = step.args
        claim_id = str(a["claimId"]).lower()
        if step.event == "ClaimSubmitted":
            claims[claim_id] = ClaimSummary(
                claim_id=claim_id,
                patient=a["patient"],
                provider=a["provider"],
                coverage_id=str(a["coverageId"]).lower(),
                submitted_at=step.timestamp,
                billed=int(a["billed"]),
                updated_at=step.timestamp,
                documents=[str(a["digest"]).lower()],
            )
            continue
        claim = claims.get(claim_id)
        if claim is None:  # a claim submitted before the indexed range: nothing to fold into
            continue
        claim.updated_at = step.timestamp
        digest = str(a.get("digest") or "").lower()
        if digest and int(digest, 16):
            claim.documents.append(digest)
        if step.event == "ClaimPended":
            claim.status, claim.insurer, claim.reason = "pended", a["insurer"], int(a["reason"])
        elif step.event == "ClaimSupplemented":
            claim.status = "submitted"
        elif step.event == "ClaimAdjudicated":
            claim.status = STATUS.get(int(a["status"]), str(a["status"]))
            claim.insurer = a["insurer"]
            claim.approved, claim.patient_share = int(a["approved"]), int(a["patientShare"])
            claim.reason, claim.round = int(a["reason"]), int(a["round"])
        elif step.event == "ClaimPaid":
            claim.status, claim.insurer = "paid", a["insurer"]
            claim.paid += int(a["amount"])
        elif step.event == "ClaimAppealed":
            claim.status, claim.round = "appealed", 1
        elif step.event == "ClaimWithdrawn":
            claim.status = "withdrawn"
    return claims


def claims(
    store: Store,
    *,
    patient: str | None = None,
    provider: str | None = None,
    insurer: str | None = None,
    status: str | None = None,
) -> list[ClaimSummary]:
    """Every indexed claim (of `patient`, by `provider`, decided by or covered by `insurer`), newest first."""
    where, params = "", []
    if patient:
        where, params = " AND patient = ?", [to_checksum_address(patient)]
    folded = _fold(_steps(store, where, params)).values()
    coverage_insurer = _coverage_insurers(store) if insurer else {}
    result = [
        claim
        for claim in folded
        if (provider is None or claim.provider == to_checksum_address(provider))
        and (insurer is None or coverage_insurer.get(claim.coverage_id) == to_checksum_address(insurer))
        and (status is None or claim.status == status)
    ]
    return sorted(result, key=lambda c: (c.submitted_at, c.claim_id), reverse=True)


def claim(store: Store, claim_id: str) -> ClaimSummary | None:
    found = _fold(history(store, claim_id))
    return found.get(claim_id.lower())


def history(store: Store, claim_id: str) -> list[ClaimStep]:
    """One claim's steps in chain order."""
    needle = claim_id.lower()
    # The id is in the JSON args; LIKE narrows the scan, the exact comparison decides.
    steps = _steps(store, " AND args LIKE ?", [f"%{needle}%"])
    return [step for step in steps if str(step.args.get("claimId", "")).lower() == needle]


def _coverage_insurers(store: Store) -> dict[str, str]:
    rows = store.query("SELECT args FROM events WHERE event = ?", ["CoverageRegistered"])
    return {str(args["coverageId"]).lower(): args["insurer"] for args in (json.loads(r[0]) for r in rows)}


@dataclass(frozen=True)
class RecordUse:
    """A record a claim touched: one of its documents, or a record its insurer read for payment
    while the claim was open."""

    claim_id: str
    digest: str
    how: str  # "claim", "pend response", "supplement", "decision", "appeal", "read for payment"
    timestamp: int


_HOW = {
    "ClaimSubmitted": "claim",
    "ClaimPended": "pend response",
    "ClaimSupplemented": "supplement",
    "ClaimAdjudicated": "decision",
    "ClaimAppealed": "appeal",
}


def records_touched(store: Store, patient: str) -> list[RecordUse]:
    """Which claims touched which of `patient`'s records: every document a claim step named, and
    every read for payment (AccessLogged, HPAYMT) by the claim's insurer between its submission and
    its last step."""
    patient = to_checksum_address(patient)
    steps = _steps(store, " AND patient = ?", [patient])
    uses: list[RecordUse] = []
    for step in steps:
        digest = str(step.args.get("digest") or "").lower()
        if step.event in _HOW and digest and int(digest, 16):
            uses.append(RecordUse(str(step.args["claimId"]).lower(), digest, _HOW[step.event], step.timestamp))
    folded = _fold(steps)
    insurers = _coverage_insurers(store)
    reads = store.query(
        "SELECT block_timestamp, args FROM events WHERE event = ? AND patient = ? ORDER BY block_number, log_index",
        ["AccessLogged", patient],
    )
    for timestamp, args_text in reads:
        args = json.loads(args_text)
        if int(args.get("purpose", -1)) != HPAYMT:
            continue
        when = int(timestamp)
        for summary in folded.values():
            still_open = summary.status in ("submitted", "pended", "appealed")
            during = summary.submitted_at <= when and (when <= summary.updated_at or still_open)
            if insurers.get(summary.coverage_id) == args.get("accessor") and during:
                uses.append(RecordUse(summary.claim_id, str(args["digest"]).lower(), "read for payment", when))
    return sorted(uses, key=lambda use: (use.timestamp, use.claim_id))
