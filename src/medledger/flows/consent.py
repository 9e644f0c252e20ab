"""Account setup, granting and revoking: each one transaction, carrying no key material.

Nobody receives a key when granted: readers ask the key-release services for each record's
key, and the services check the consent as it stands on chain at that moment. So a grant,
a narrowing (a new grant with fewer categories or purposes), an expiry or a revocation takes
effect for every record, old and new, as soon as it is on chain.

A guardian acts for its ward with `on_behalf_of`: the same flows, through grantFor / revokeFor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from medledger.chain.transactions import Receipt
from medledger.flows.session import Session


@dataclass(frozen=True)
class AccountSetup:
    receipt: Receipt | None
    published_key: bool  # False: the same key was already published


def setup_account(session: Session) -> AccountSetup:
    """Publish the account's X25519 key (derived from its Ethereum key), unless it already is."""
    if session.ledger.keys.encryption_key_of(session.address) == session.keypair.public:
        return AccountSetup(None, False)
    return AccountSetup(session.ledger.keys.publish(session.keypair.public), True)


def grant(
    session: Session,
    grantee: str,
    *,
    categories: int,
    purposes: int,
    permissions: int,
    expiry: int | datetime | timedelta,
    on_behalf_of: str | None = None,
) -> Receipt:
    """Grant `grantee` consent (or replace its grant: narrowing is a grant with less)."""
    call = session.ledger.consent.grant_call(
        grantee,
        categories=categories,
        purposes=purposes,
        permissions=permissions,
        expiry=expiry,
        patient=on_behalf_of,
    )
    return session.ledger.sender.send(session.signer, call)


def revoke(session: Session, grantee: str, *, on_behalf_of: str | None = None) -> Receipt:
    """Revoke `grantee`'s consent. From the next block no service releases it a key; what it
    already decrypted it keeps: no system can make a reader forget."""
    call = session.ledger.consent.revoke_call(grantee, patient=on_behalf_of)
    return session.ledger.sender.send(session.signer, call)


__all__ = ["AccountSetup", "grant", "revoke", "setup_account"]
