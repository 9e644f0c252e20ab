"""What insurers, clinics and patients do with claims.

Every document (Coverage, Claim, ClaimResponse, appeal letter) is FHIR JSON built by
fhir/claims.py, encrypted and published as a BILLING record of the patient through the ordinary
publish flow, so the same consent and key-release rules apply to it as to any record: the patient,
its author, and whoever the patient's consent lets read billing records for payment (HPAYMT, the
insurer) can open it; every read by anyone else is logged on chain first. The chain then gets only
the document's digest (see contracts/Claims.sol).

The insurer reads the Claim and its supporting records with purpose HPAYMT (`read_for_payment`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from medledger.chain.deploy import Deployment
from medledger.chain.transactions import Receipt
from medledger.fhir.bundle import bundle
from medledger.fhir.claims import (
    ClaimLine,
    claim_document,
    claim_history_resources,
    claim_response_document,
    coverage_document,
)
from medledger.fhir.codes import record_uri
from medledger.flows.errors import AccessDeniedError
from medledger.flows.records import FetchResult, PublishResult, fetch, publish
from medledger.flows.session import Session
from medledger.ledger import ProviderKind, ProviderStatus
from medledger.ledger.base import InvalidArgumentError
from medledger.ledger.claims import Claim, ClaimEvent, ClaimsClient, Coverage, claim_id_of, encounter_digest
from medledger.ledger.tokens import TokenClient
from medledger.scopes import Category, Permission, Purpose

BILLING = int(Category.BILLING)


def claims_client(session: Session, deployment: Deployment) -> ClaimsClient:
    """The deployment's Claims module, sending as the session's account."""
    return ClaimsClient.from_deployment(
        session.ledger.chain, deployment, signer=session.signer, policy=session.ledger.policy
    )


@dataclass(frozen=True)
class CoverageResult:
    coverage_id: bytes
    document: PublishResult
    receipt: Receipt


@dataclass(frozen=True)
class SubmitResult:
    claim_id: bytes
    encounter: bytes
    billed: int
    document: PublishResult
    receipt: Receipt


@dataclass(frozen=True)
class DecisionResult:
    document: PublishResult | None
    receipt: Receipt


def publish_document(session: Session, patient: str, document: dict[str, Any]) -> PublishResult:
    """Encrypt and publish one FHIR document as a BILLING record of `patient`. The plaintext is
    staged under the account's home only for the publish (its journal resumes from it) and removed
    once the record is registered."""
    outbox = session.home / "claims-outbox"
    outbox.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    fd, name = tempfile.mkstemp(dir=outbox, prefix=hashlib.sha256(data).hexdigest()[:16], suffix=".json")
    path = Path(name)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    result = publish(session, patient, BILLING, path)
    path.unlink(missing_ok=True)
    return result


def token_of(claims: ClaimsClient, token: str) -> TokenClient:
    return TokenClient(claims.chain, token, policy=claims.policy)


# -- insurer -----------------------------------------------------------------------------------


def register_coverage(
    session: Session,
    claims: ClaimsClient,
    *,
    patient: str,
    member_id: str,
    plan: str,
    token: str,
    start: int,
    end: int,
) -> CoverageResult:
    """The insurer publishes the patient's Coverage (which needs the patient's WRITE consent for
    billing records: the patient's acceptance) and registers it on chain."""
    if not member_id.strip() or not plan.strip():
        raise InvalidArgumentError("a coverage needs a member id and a plan name")
    if end <= start:
        raise InvalidArgumentError("a coverage ends after it starts")
    document = coverage_document(
        chain_id=session.ledger.chain.chain_id,
        patient=patient,
        insurer=session.address,
        member_id=member_id,
        plan=plan,
        start=start,
        end=end,
        token=token,
    )
    provider = session.ledger.providers.get(session.address)
    if provider.kind != ProviderKind.INSURER or provider.status != ProviderStatus.ACTIVE:
        raise AccessDeniedError(f"{session.address} is not an active insurer")
    published = publish_document(session, patient, document)
    receipt, coverage_id = claims.register_coverage(patient, published.digest, token, start, end)
    return CoverageResult(coverage_id, published, receipt)


def fund_escrow(claims: ClaimsClient, token: str, amount: int) -> Receipt:
    """Approve Claims for `amount` (when the allowance is short) and deposit it in the caller's escrow."""
    if claims.signer is None:
        raise InvalidArgumentError("funding needs a signer")
    erc20 = token_of(claims, token).as_signer(claims.signer)
    if erc20.allowance(claims.signer.address, claims.address) < amount:
        erc20.approve(claims.address, amount)
    return claims.fund(token, amount)


def read_for_payment(
    session: Session,
    claims: ClaimsClient,
    claim_id: bytes,
    destination: str | os.PathLike[str],
    *,
    digest: bytes | None = None,
) -> FetchResult:
    """The insurer reads the claim's document (or, with `digest`, one supporting record) for
    payment: purpose HPAYMT, through the key-release services, logged on chain."""
    claim = _claim(claims, claim_id)
    coverage = _coverage(claims, claim.coverage_id)
    target = digest if digest is not None else claim_document_digest(claims, claim_id)
    return fetch(session, coverage.patient, target, destination, purpose=Purpose.HPAYMT)


def pend_claim(
    session: Session, claims: ClaimsClient, claim_id: bytes, reason: int, *, note: str | None = None
) -> DecisionResult:
    """The insurer asks for more information: a ClaimResponse (queued) is published, then the claim pended."""
    claim = _claim(claims, claim_id)
    coverage = _coverage(claims, claim.coverage_id)
    claims.sender.call(claims.pend_call(claim_id, reason), sender=session.address)  # refuse before publishing
    response = _response(session, claims, claim, coverage, approved=0, share=0, reason=reason, pended=True, note=note)
    published = publish_document(session, coverage.patient, response)
    return DecisionResult(published, claims.pend(claim_id, reason, published.digest))


def adjudicate_claim(
    session: Session,
    claims: ClaimsClient,
    claim_id: bytes,
    *,
    approved: int,
    patient_share: int = 0,
    reason: int = 0,
    note: str | None = None,
) -> DecisionResult:
    """The insurer decides: the ClaimResponse is published as a billing record, then the decision
    (with its digest) goes on chain."""
    claim = _claim(claims, claim_id)
    coverage = _coverage(claims, claim.coverage_id)
    claims.sender.call(claims.adjudicate_call(claim_id, approved, patient_share, reason), sender=session.address)
    response = _response(
        session, claims, claim, coverage, approved=approved, share=patient_share, reason=reason, pended=False, note=note
    )
    published = publish_document(session, coverage.patient, response)
    return DecisionResult(published, claims.adjudicate(claim_id, approved, patient_share, reason, published.digest))


# -- provider ----------------------------------------------------------------------------------


def submit_claim(
    session: Session,
    claims: ClaimsClient,
    *,
    coverage_id: bytes,
    encounter: str,
    service_date: int,
    lines: Sequence[ClaimLine],
    diagnoses: Sequence[tuple[str, str]] = (),
    supporting: Sequence[bytes] = (),
) -> SubmitResult:
    """The provider bills an encounter: the FHIR Claim (codes, lines, supporting records) is
    encrypted and published as a billing record of the patient, then submitted on chain by digest."""
    coverage = _coverage(claims, coverage_id)
    billed = sum(line.amount for line in lines)
    if not lines or billed <= 0:
        raise InvalidArgumentError("a claim bills at least one service with a positive amount")
    ledger = session.ledger
    if not ledger.consent.has_access(coverage.patient, coverage.insurer, BILLING, Purpose.HPAYMT, Permission.READ):
        raise AccessDeniedError(
            f"{coverage.patient} has not let insurer {coverage.insurer} read billing records for payment (HPAYMT); "
            "the insurer could not read this claim"
        )
    digest_of_encounter = encounter_digest(coverage.patient, encounter)
    token = token_of(claims, coverage.token)
    document = claim_document(
        chain_id=ledger.chain.chain_id,
        patient=coverage.patient,
        provider=session.address,
        insurer=coverage.insurer,
        coverage_id=coverage_id,
        encounter=encounter,
        service_date=service_date,
        created=ledger.chain.now(),
        lines=lines,
        diagnoses=diagnoses,
        supporting=[record_uri(d.hex()) for d in supporting],
        decimals=token.decimals,
        symbol=token.symbol,
    )
    existing = claims.claim(claim_id_of(coverage_id, session.address, digest_of_encounter))
    if existing is not None:
        raise AccessDeniedError(
            f"encounter {encounter} is already claimed under this coverage ({existing.status.label})"
        )
    published = publish_document(session, coverage.patient, document)
    receipt, claim_id = claims.submit(coverage_id, digest_of_encounter, published.digest, service_date, billed)
    return SubmitResult(claim_id, digest_of_encounter, billed, published, receipt)


def supplement_claim(
    session: Session, claims: ClaimsClient, claim_id: bytes, source: str | os.PathLike[str]
) -> DecisionResult:
    """The provider answers a pended claim with a supporting document (any file: a letter, a FHIR
    resource), published as a billing record of the patient."""
    claim = _claim(claims, claim_id)
    coverage = _coverage(claims, claim.coverage_id)
    published = publish(session, coverage.patient, BILLING, source)
    return DecisionResult(published, claims.supplement(claim_id, published.digest))


# -- patient or provider -----------------------------------------------------------------------


def appeal_claim(session: Session, claims: ClaimsClient, claim_id: bytes, letter: str | None = None) -> DecisionResult:
    """The patient or the provider appeals; a letter, when given, is published as a billing record first."""
    claim = _claim(claims, claim_id)
    coverage = _coverage(claims, claim.coverage_id)
    claims.sender.call(claims.appeal_call(claim_id), sender=session.address)
    published = None
    if letter:
        published = publish_document(
            session,
            coverage.patient,
            {
                "resourceType": "Communication",
                "status": "completed",
                "subject": {
                    "identifier": {
                        "system": "urn:ietf:rfc:3986",
                        "value": f"eip155:{session.ledger.chain.chain_id}:{coverage.patient}",
                    }
                },
                "about": [
                    {"identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:medledger:claim:" + claim_id.hex()}}
                ],
                "payload": [{"contentString": letter}],
            },
        )
    return DecisionResult(published, claims.appeal(claim_id, published.digest if published else None))


# -- reads -------------------------------------------------------------------------------------


def claim_document_digest(claims: ClaimsClient, claim_id: bytes) -> bytes:
    events = claims.events("ClaimSubmitted", claimId=claim_id)
    if not events:
        raise InvalidArgumentError(f"no claim 0x{claim_id.hex()}")
    return bytes(events[0]["args"]["digest"])


def history_bundle(claims: ClaimsClient, claim_id: bytes, steps: Sequence[ClaimEvent] | None = None) -> Bundle:
    """The claim's on-chain history as a FHIR collection Bundle: Claim, ClaimResponse per step,
    ExplanationOfBenefit per payment."""
    claim = _claim(claims, claim_id)
    coverage = _coverage(claims, claim.coverage_id)
    token = token_of(claims, coverage.token)
    steps = list(steps) if steps is not None else claims.history(claim_id)
    resources = claim_history_resources(
        [
            {"event": s.name, "timestamp": s.timestamp, "tx_hash": s.tx_hash, "log_index": s.log_index, "args": s.args}
            for s in steps
        ],
        chain_id=claims.chain.chain_id,
        claim_id=claim_id,
        patient=coverage.patient,
        provider=claim.provider,
        insurer=coverage.insurer,
        decimals=token.decimals,
        symbol=token.symbol,
    )
    return bundle(resources, bundle_id="claim-" + claim_id.hex()[:16], timestamp=steps[-1].timestamp if steps else None)


def _claim(claims: ClaimsClient, claim_id: bytes) -> Claim:
    claim = claims.claim(claim_id)
    if claim is None:
        raise InvalidArgumentError(f"no claim 0x{bytes(claim_id).hex()} on this deployment")
    return claim


def _coverage(claims: ClaimsClient, coverage_id: bytes) -> Coverage:
    coverage = claims.coverage(coverage_id)
    if coverage is None:
        raise InvalidArgumentError(f"no coverage 0x{bytes(coverage_id).hex()} on this deployment")
    return coverage


def _response(
    session: Session,
    claims: ClaimsClient,
    claim: Claim,
    coverage: Coverage,
    *,
    approved: int,
    share: int,
    reason: int,
    pended: bool,
    note: str | None,
) -> dict[str, Any]:
    token = token_of(claims, coverage.token)
    return claim_response_document(
        chain_id=session.ledger.chain.chain_id,
        claim_id=claim.claim_id,
        patient=coverage.patient,
        provider=claim.provider,
        insurer=coverage.insurer,
        created=session.ledger.chain.now(),
        billed=claim.billed,
        approved=approved,
        patient_share=share,
        reason=reason,
        decimals=token.decimals,
        symbol=token.symbol,
        pended=pended,
        note=note,
    )
