"""Break-glass and the emergency key service.

The patient is not online in an emergency, so the keys must already be somewhere: every
rotation of an emergency-category keyring (of a patient who has not opted out) seals a share
to each emergency key service account (a role the admin grants, e.g. to the registrar's
on-call service). When a provider breaks glass, the service checks on chain that the provider's
emergency access is open, re-seals those keyrings to the provider, and publishes that release
as an event the patient and auditors see. The risk: the service can read emergency categories
at any time; it is a trusted party, its key belongs in an HSM, and every release is on chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from medledger.chain.transactions import Receipt
from medledger.crypto import build_grant_envelope
from medledger.flows.errors import AccessDeniedError, NoReadableKeyError
from medledger.flows.keyrings import encryption_key, granted_keyrings
from medledger.flows.session import Session
from medledger.ledger.emergency import EmergencyReason


@dataclass(frozen=True)
class Release:
    patient: str
    provider: str
    categories: list[int]
    receipt: Receipt


def break_glass(session: Session, patient: str, reason: EmergencyReason | int) -> Receipt:
    """Open emergency access (the session is an active clinician or organisation)."""
    return session.ledger.emergency.break_glass(patient, reason)


def emergency_open(session: Session, patient: str, provider: str) -> bool:
    """The contract's rule: the window is open, the patient has not opted out, the provider is active."""
    now = session.ledger.chain.now()
    return (
        session.ledger.emergency.access_until(patient, provider) > now
        and not session.ledger.emergency.preferences(patient)[0]
        and session.ledger.providers.is_active(provider)
    )


def release_emergency_keys(service: Session, patient: str, provider: str) -> Release:
    """Run by the emergency key service: re-seal `patient`'s emergency keyrings to `provider`,
    only if the chain says the provider's break-glass is open now."""
    if not emergency_open(service, patient, provider):
        raise AccessDeniedError(
            f"{provider} has no open emergency access to {patient} "
            "(window closed, patient opted out, or provider suspended)"
        )
    _, categories = service.ledger.emergency.preferences(patient)
    keyrings = [k for k in granted_keyrings(service, patient) if categories >> k.category & 1]
    if not keyrings:
        raise NoReadableKeyError(
            f"the emergency key service holds no emergency keyrings of {patient} "
            "(the patient created none, or opted out)"
        )
    envelope = build_grant_envelope(keyrings, encryption_key(service, provider))
    receipt = service.ledger.emergency.release_keys(patient, provider, envelope)
    return Release(patient, provider, sorted({k.category for k in keyrings}), receipt)


def pending_releases(service: Session) -> list[tuple[str, str]]:
    """(patient, provider) pairs with open break-glass and no release yet: the service's work."""
    now = service.ledger.chain.now()
    released = {
        (e.args.patient, e.args.provider, e.blockNumber)
        for e in service.ledger.events("EmergencyKeysReleased", from_block=service.from_block)
    }
    pending = []
    for opened in service.ledger.events("EmergencyAccessOpened", from_block=service.from_block):
        pair = (opened.args.patient, opened.args.provider)
        if opened.args.until <= now or pair in pending or not emergency_open(service, *pair):
            continue
        if any((p, v) == pair and block >= opened.blockNumber for p, v, block in released):
            continue
        pending.append(pair)
    return pending
