"""A patient's history, read from the chain's events: consents, records, reads, erasures, guardians,
break-glass; and the key-release service sets (who can release shares of record keys)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from medledger.ledger import MedLedger
from medledger.ledger import claims as claims_module
from medledger.ledger.claims import ClaimsClient
from medledger.scopes import categories_in, purposes_in

PATIENT_EVENTS = (
    "ConsentGranted",
    "ConsentRevoked",
    "RecordAdded",
    "RecordErased",
    "AccessLogged",
    "GuardianAppointed",
    "GuardianRemoved",
    "EmergencyAccessOpened",
    "EmergencyAccessClosed",
    "EmergencyPreferencesSet",
)
SERVICE_EVENTS = ("ServiceSetProposed", "ServiceSetCancelled", "ServiceEndpointSet")
EMERGENCY_REASONS = {1: "unconscious", 2: "life-threatening", 3: "unable-to-consent", 4: "other"}


@dataclass(frozen=True)
class AuditEntry:
    block: int
    timestamp: int
    tx_hash: str
    log_index: int
    event: str
    actor: str  # who caused it: the patient, or a record's author
    details: dict[str, object]


def _details(name: str, args: Any) -> tuple[str, dict[str, object]]:  # args: web3's decoded event arguments
    if name == "ConsentGranted":
        return args.patient, {
            "grantee": args.grantee,
            "categories": categories_in(args.categories),
            "purposes": purposes_in(args.purposes),
            "read": bool(args.permissions & 1),
            "write": bool(args.permissions & 2),
            "expiry": args.expiry,
        }
    if name == "ConsentRevoked":
        return args.patient, {"grantee": args.grantee}
    if name == "RecordAdded":
        return args.author, {
            "digest": "0x" + bytes(args.digest).hex(),
            "codec": args.codec,
            "category": categories_in(1 << args.category)[0],
            "supersedes": ("0x" + bytes(args.supersedes).hex()) if any(args.supersedes) else None,
        }
    if name == "RecordErased":
        return args.patient, {"digest": "0x" + bytes(args.digest).hex()}
    if name == "AccessLogged":
        return args.accessor, {"digest": "0x" + bytes(args.digest).hex(), "purpose": purposes_in(1 << args.purpose)[0]}
    if name == "GuardianAppointed":
        return args.appointedBy, {
            "guardian": args.guardian,
            "until": args.until or None,
            "can_appoint": args.canAppoint,
        }
    if name == "GuardianRemoved":
        return args.removedBy, {"guardian": args.guardian}
    if name == "EmergencyAccessOpened":
        return args.provider, {"reason": EMERGENCY_REASONS.get(args.reason, args.reason), "until": args.until}
    if name == "EmergencyAccessClosed":
        return args.closedBy, {"provider": args.provider}
    if name == "EmergencyPreferencesSet":
        return args.patient, {"opted_out": args.optedOut, "categories": categories_in(args.categories)}
    raise ValueError(name)


def _service_details(name: str, args: Any, sender: str) -> tuple[str, dict[str, object]]:
    if name == "ServiceSetProposed":
        return sender, {
            "version": args.version,
            "members": list(args.members),
            "threshold": args.threshold,
            "activates_at": args.activatesAt,
        }
    if name == "ServiceSetCancelled":
        return sender, {"version": args.version}
    if name == "ServiceEndpointSet":
        return args.service, {"service": args.service, "url": args.url}
    raise ValueError(name)


def patient_history(ledger: MedLedger, patient: str, *, from_block: int = 0) -> list[AuditEntry]:
    """Every event about `patient`, in chain order."""
    return _entries(
        ledger.chain.w3,
        PATIENT_EVENTS,
        lambda name: ledger.events(name, from_block=from_block, patient=patient),
        lambda name, args, _sender: _details(name, args),
    )


def service_history(ledger: MedLedger, *, from_block: int = 0) -> list[AuditEntry]:
    """Every key-release service-set event (proposed, cancelled, endpoint published), in chain order;
    the actor of a proposal or cancellation is the transaction's sender (the admin)."""
    return _entries(
        ledger.chain.w3,
        SERVICE_EVENTS,
        lambda name: ledger.services.events(name, from_block=from_block),
        lambda name, args, sender: _service_details(name, args, sender()),
    )


def _entries(
    w3: Any,
    names: Sequence[str],
    logs_of: Callable[[str], Iterable[Any]],
    describe: Callable[[str, Any, Callable[[], str]], tuple[str, dict[str, object]]],
) -> list[AuditEntry]:
    """Audit entries of the events `names` (`logs_of(name)` gives each one's decoded logs), in chain
    order. `describe(name, args, sender)` gives a row's actor and details; `sender()` reads the
    transaction's sender, for the rows whose actor is not in the event."""
    entries = []
    timestamps: dict[int, int] = {}
    for name in names:
        for log in logs_of(name):
            block = log.blockNumber
            if block not in timestamps:
                timestamps[block] = int(w3.eth.get_block(block)["timestamp"])
            tx_hash = log.transactionHash
            actor, details = describe(name, log.args, functools.partial(_sender_of, w3, tx_hash))
            entries.append(
                AuditEntry(block, timestamps[block], "0x" + bytes(tx_hash).hex(), log.logIndex, name, actor, details)
            )
    return sorted(entries, key=lambda entry: (entry.block, entry.log_index))


def _sender_of(w3: Any, tx_hash: Any) -> str:
    return str(w3.eth.get_transaction(tx_hash)["from"])


# -- claims (the Claims module beside the ledger) ----------------------------------------------

CLAIM_EVENTS = ("CoverageRegistered", "CoverageEnded", *claims_module.CLAIM_EVENTS)
_CLAIM_ACTOR = ("provider", "insurer", "appellant")


def claim_history(claims: ClaimsClient, patient: str, *, from_block: int = 0) -> list[AuditEntry]:
    """Every claims event about `patient` (coverages, claim steps, payments), in chain order. Each
    entry's details name the claim (`claim`) and the record the step touched (`record`: the digest
    of the Coverage, Claim, response, supplement or appeal document), so an audit shows which claims
    touched which records; reads for payment are the ledger's AccessLogged entries (purpose HPAYMT)."""
    return _entries(
        claims.chain.w3,
        CLAIM_EVENTS,
        lambda name: claims.events(name, from_block=from_block, patient=patient),
        lambda name, args, _sender: _claim_details(args),
    )


def _claim_details(event_args: Any) -> tuple[str, dict[str, object]]:
    args = dict(event_args)
    actor = next((str(args[k]) for k in _CLAIM_ACTOR if k in args), str(args.get("insurer", "")))
    details: dict[str, object] = {
        key: "0x" + bytes(value).hex() if isinstance(value, bytes | bytearray) else value
        for key, value in args.items()
        if key != "patient"
    }
    if "claimId" in details:
        details["claim"] = details.pop("claimId")
    digest = details.pop("digest", None)
    if isinstance(digest, str) and int(digest, 16):
        details["record"] = digest
    return actor, details


def records_claimed(entries: list[AuditEntry]) -> dict[str, list[str]]:
    """Record digest -> the claims (ids) whose steps named it, from `claim_history` entries."""
    touched: dict[str, list[str]] = {}
    for entry in entries:
        record, claim = entry.details.get("record"), entry.details.get("claim")
        if isinstance(record, str) and isinstance(claim, str) and claim not in touched.get(record, []):
            touched.setdefault(record, []).append(claim)
    return touched


STUDY_EVENTS = ("ParticipantEnrolled", "ParticipantWithdrawn", "StudyDataAccessed", "RewardPaid")


def _study_details(name: str, args: Any, sender: Callable[[], str]) -> tuple[str, dict[str, object]]:
    study = int(args.studyId)
    if name == "ParticipantEnrolled":
        return args.patient, {
            "study": study,
            "records": ["0x" + bytes(d).hex() for d in args.digests],
            "relayed_by": None if args.relayer == args.patient else args.relayer,
        }
    if name == "ParticipantWithdrawn":
        return sender(), {"study": study, "place_released": bool(args.placeReleased)}
    if name == "StudyDataAccessed":
        return args.researcher, {
            "study": study,
            "digest": "0x" + bytes(args.digest).hex(),
            "purpose": "HRESCH",
            "reward_earned": bool(args.first),
        }
    if name == "RewardPaid":
        return sender(), {"study": study, "token": args.token, "amount": int(args.amount)}
    raise ValueError(name)


def study_history(studies: Any, patient: str, *, from_block: int = 0) -> list[AuditEntry]:
    """`patient`'s rows from the Studies contract (a `ledger.studies.StudiesClient`): enrolments,
    withdrawals, the researcher's logged study reads and rewards paid, in chain order. The actor
    of a withdrawal or a payment is the transaction's sender (the patient, or a relayer)."""
    return _entries(
        studies.chain.w3,
        STUDY_EVENTS,
        lambda name: getattr(studies.contract.events, name).get_logs(
            from_block=from_block, argument_filters={"patient": patient}
        ),
        lambda name, args, sender: _study_details(name, args, sender),
    )
