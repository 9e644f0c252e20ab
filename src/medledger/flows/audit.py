"""A patient's history, read from the chain's events: consents, keyrings, records, erasures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medledger.ledger import MedLedger
from medledger.scopes import categories_in, purposes_in

PATIENT_EVENTS = (
    "ConsentGranted",
    "ConsentRevoked",
    "KeyringRotated",
    "RecordAdded",
    "RecordErased",
    "AccessLogged",
    "GuardianAppointed",
    "GuardianRemoved",
    "EmergencyAccessOpened",
    "EmergencyAccessClosed",
    "EmergencyKeysReleased",
    "EmergencyPreferencesSet",
)
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
            "envelope_bytes": len(args.envelope),
        }
    if name == "ConsentRevoked":
        return args.patient, {"grantee": args.grantee}
    if name == "KeyringRotated":
        return args.patient, {"category": categories_in(1 << args.category)[0], "epoch": args.epoch}
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
    if name == "EmergencyKeysReleased":
        return args.provider, {"released_to": args.provider, "envelope_bytes": len(args.envelope)}
    if name == "EmergencyPreferencesSet":
        return args.patient, {"opted_out": args.optedOut, "categories": categories_in(args.categories)}
    raise ValueError(name)


def patient_history(ledger: MedLedger, patient: str, *, from_block: int = 0) -> list[AuditEntry]:
    """Every event about `patient`, in chain order."""
    entries = []
    timestamps: dict[int, int] = {}
    for name in PATIENT_EVENTS:
        for log in ledger.events(name, from_block=from_block, patient=patient):
            block = log.blockNumber
            if block not in timestamps:
                timestamps[block] = int(ledger.chain.w3.eth.get_block(block)["timestamp"])
            actor, details = _details(name, log.args)
            entries.append(
                AuditEntry(
                    block,
                    timestamps[block],
                    "0x" + bytes(log.transactionHash).hex(),
                    log.logIndex,
                    name,
                    actor,
                    details,
                )
            )
    return sorted(entries, key=lambda entry: (entry.block, entry.log_index))
