"""Break-glass: a clinician opens emergency access on chain, then reads like anyone else,
through the key-release services, for purpose ETREAT. Each service checks on chain that the
window is open, the patient has not opted out and the provider is active; when the window
closes (or the patient or a guardian closes it), every release stops. No party holds standing
keys to emergency categories."""

from __future__ import annotations

import os

from medledger.chain.transactions import Receipt
from medledger.flows.records import FetchResult, Step, fetch
from medledger.flows.session import Session
from medledger.keyservice.client import KeyReleaseClient
from medledger.ledger.emergency import EmergencyReason
from medledger.scopes import Purpose


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


def emergency_read(
    session: Session,
    patient: str,
    digest: bytes,
    destination: str | os.PathLike[str],
    *,
    step: Step | None = None,
    client: KeyReleaseClient | None = None,
) -> FetchResult:
    """Read one record under break-glass: a logged read for purpose ETREAT through the services."""
    return fetch(session, patient, digest, destination, purpose=Purpose.ETREAT, step=step, client=client)


__all__ = ["break_glass", "emergency_open", "emergency_read"]
