"""Appointing and removing guardians, with the keys they need to read for the patient."""

from __future__ import annotations

from medledger.chain.transactions import Receipt
from medledger.flows.consent import key_envelope
from medledger.flows.keyrings import keyring_categories, rotation_call
from medledger.flows.session import Session


def appoint_guardian(
    session: Session, guardian: str, *, until: int, can_appoint: bool = False, patient: str | None = None
) -> Receipt:
    """Appoint `guardian` until `until` (a unix time; every guardianship ends, within the
    deployment's maximum term) for the session patient, or for `patient` by an appointing
    guardian, sealing every keyring the appointer holds to the guardian in the same transaction."""
    ward = patient or session.address
    mask = sum(1 << c for c in keyring_categories(session, ward))
    calls, envelope = key_envelope(session, ward, guardian, mask) if mask else ([], b"")
    calls.append(
        session.ledger.contract.functions.appointGuardian(ward, guardian, int(until), bool(can_appoint), envelope)
    )
    return session.ledger.multicall(calls)


def remove_guardian(session: Session, guardian: str, *, patient: str | None = None, rotate: bool = True) -> Receipt:
    """Remove a guardian and rotate every keyring, so later records are closed to it.

    The patient and an appointing guardian rotate (the latter through rotateKeyringFor); a
    guardian removing itself cannot (it would know the new keys it made, and is no longer a
    guardian once removed)."""
    ward = patient or session.address
    calls = [session.ledger.contract.functions.removeGuardian(ward, guardian)]
    if rotate and guardian != session.address:
        for category in keyring_categories(session, ward):
            calls.append(rotation_call(session, category, excluding=guardian, patient=ward)[0])
    return session.ledger.multicall(calls)
