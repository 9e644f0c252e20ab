"""Appointing and removing guardians. A guardian receives no key: it reads its ward's records
through the key-release services, which check on chain that the guardianship holds at that
moment, so a removal or the end of the term closes every record to it at once."""

from __future__ import annotations

from medledger.chain.transactions import Receipt
from medledger.flows.session import Session


def appoint_guardian(
    session: Session, guardian: str, *, until: int, can_appoint: bool = False, patient: str | None = None
) -> Receipt:
    """Appoint `guardian` until `until` (a unix time; every guardianship ends, within the
    deployment's maximum term) for the session patient, or for `patient` by an appointing guardian."""
    ward = patient or session.address
    return session.ledger.guardians.appoint(ward, guardian, until=until, can_appoint=can_appoint)


def remove_guardian(session: Session, guardian: str, *, patient: str | None = None) -> Receipt:
    """End a guardianship (by the patient, an appointing guardian, or the guardian itself)."""
    return session.ledger.guardians.remove(patient or session.address, guardian)


__all__ = ["appoint_guardian", "remove_guardian"]
