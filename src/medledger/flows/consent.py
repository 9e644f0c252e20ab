"""Granting and revoking with keyring handling, each as one atomic transaction (multicall)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from medledger.chain.transactions import Receipt
from medledger.crypto import build_grant_envelope, build_rotation_envelope, new_keyring
from medledger.flows.keyrings import current_grantees, encryption_key, patient_keyrings, rotation_call
from medledger.flows.session import Session
from medledger.scopes import CATEGORY_COUNT, Permission


@dataclass(frozen=True)
class AccountSetup:
    receipt: Receipt | None
    published_key: bool
    created_keyrings: list[int]


def setup_account(session: Session, categories: list[int] | None = None) -> AccountSetup:
    """Publish the account's encryption key and create keyrings for `categories` (patients),
    skipping what is already on chain; one transaction."""
    calls = []
    published = session.ledger.keys.encryption_key_of(session.address) != session.keypair.public
    if published:
        calls.append(session.ledger.contract.functions.setEncryptionKey(session.keypair.public))
    created = []
    for category in categories or []:
        if session.ledger.keys.keyring_of(session.address, category) is None:
            keyring = new_keyring(int(category), 1)
            envelope = build_rotation_envelope(keyring, session.keypair.public, {})
            calls.append(session.ledger.keys.rotate_keyring_call(category, keyring.public, envelope))
            created.append(int(category))
    receipt = session.ledger.multicall(calls) if calls else None
    return AccountSetup(receipt, published, created)


def grant(session: Session, grantee: str, *, categories: int, purposes: int, permissions: int,
          expiry: int | datetime | timedelta) -> Receipt:
    """Grant `grantee` consent and, for read access, hand it every epoch of each granted
    category's keyring (creating keyrings that do not exist yet) in the same transaction."""
    calls = []
    keyrings = []
    if permissions & Permission.READ:
        grantee_key = encryption_key(session, grantee)
        for category in range(CATEGORY_COUNT):
            if not categories >> category & 1:
                continue
            held = patient_keyrings(session, category)
            if not held:
                call, keyring = rotation_call(session, category)
                calls.append(call)
                held = [keyring]
            keyrings.extend(held)
        envelope = build_grant_envelope(keyrings, grantee_key)
    else:
        envelope = b""  # a write-only grantee seals to the keyring's public key and needs no secret
    calls.append(session.ledger.consent.grant_call(grantee, categories=categories, purposes=purposes,
                                                   permissions=permissions, expiry=expiry, envelope=envelope))
    return session.ledger.multicall(calls)


def revoke(session: Session, grantee: str, *, rotate: bool = True) -> Receipt:
    """Revoke `grantee` and, in the same transaction, rotate every keyring it could read, so
    records written afterwards are sealed to keys it never received. What it already
    downloaded it keeps: no system can make a reader forget."""
    terms = session.ledger.consent.get(session.address, grantee)
    calls = [session.ledger.consent.revoke_call(grantee)]
    if rotate and terms.permissions & Permission.READ:
        for category in range(CATEGORY_COUNT):
            if terms.categories >> category & 1 and session.ledger.keys.keyring_of(session.address, category):
                call, _ = rotation_call(session, category, excluding=grantee)
                calls.append(call)
    return session.ledger.multicall(calls)


__all__ = ["AccountSetup", "current_grantees", "grant", "revoke", "setup_account"]
