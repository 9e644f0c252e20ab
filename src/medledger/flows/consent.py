"""Granting and revoking with keyring handling, each as one atomic transaction (multicall).

A guardian acts for its ward with `on_behalf_of`: the same flows, through grantFor / revokeFor /
rotateKeyringFor, using the keyrings the guardian was given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from medledger.chain.transactions import Receipt
from medledger.crypto import build_grant_envelope
from medledger.flows.errors import NoReadableKeyError
from medledger.flows.keyrings import encryption_key, readable_keyrings, rotation_call
from medledger.flows.session import Session
from medledger.scopes import CATEGORY_COUNT, Permission, category_name


@dataclass(frozen=True)
class AccountSetup:
    receipt: Receipt | None
    published_key: bool
    created_keyrings: list[int]


def setup_account(session: Session, categories: Sequence[int] | None = None) -> AccountSetup:
    """Publish the account's encryption key and create keyrings for `categories` (patients),
    skipping what is already on chain; one transaction."""
    calls = []
    published = session.ledger.keys.encryption_key_of(session.address) != session.keypair.public
    if published:
        calls.append(session.ledger.contract.functions.setEncryptionKey(session.keypair.public))
    created = []
    for category in categories or []:
        if session.ledger.keys.keyring_of(session.address, category) is None:
            call, _ = rotation_call(session, category)
            calls.append(call)
            created.append(int(category))
    receipt = session.ledger.multicall(calls) if calls else None
    return AccountSetup(receipt, published, created)


def _categories(mask: int) -> list[int]:
    return [bit for bit in range(CATEGORY_COUNT) if mask >> bit & 1]


def key_envelope(session: Session, patient: str, recipient: str, categories: int) -> tuple[list[Any], bytes]:
    """(calls creating missing keyrings, envelope sealing every epoch of each category to `recipient`)."""
    recipient_key = encryption_key(session, recipient)
    calls, keyrings = [], []
    for category in _categories(categories):
        held = readable_keyrings(session, patient, category)
        if not held:
            if session.ledger.keys.keyring_of(patient, category):
                raise NoReadableKeyError(
                    f"{session.address} holds no {category_name(category)} keyring of {patient} "
                    "to share; the patient must grant this"
                )
            call, keyring = rotation_call(session, category, patient=patient)
            calls.append(call)
            held = [keyring]
        keyrings.extend(held)
    return calls, build_grant_envelope(keyrings, recipient_key)


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
    """Grant `grantee` consent and, for read access, hand it every epoch of each granted
    category's keyring (creating keyrings that do not exist yet) in the same transaction."""
    patient = on_behalf_of or session.address
    calls: list[Any] = []  # web3 contract function calls, sent together by multicall
    envelope = b""  # a write-only grantee seals to the keyring's public key and needs no secret
    if permissions & Permission.READ:
        calls, envelope = key_envelope(session, patient, grantee, categories)
    calls.append(
        session.ledger.consent.grant_call(
            grantee,
            categories=categories,
            purposes=purposes,
            permissions=permissions,
            expiry=expiry,
            envelope=envelope,
            patient=on_behalf_of,
        )
    )
    return session.ledger.multicall(calls)


def revoke(session: Session, grantee: str, *, rotate: bool = True, on_behalf_of: str | None = None) -> Receipt:
    """Revoke `grantee` and, in the same transaction, rotate every keyring it could read, so
    records written afterwards are sealed to keys it never received. What it already
    downloaded it keeps: no system can make a reader forget."""
    patient = on_behalf_of or session.address
    terms = session.ledger.consent.get(patient, grantee)
    calls = [session.ledger.consent.revoke_call(grantee, patient=on_behalf_of)]
    if rotate and terms.permissions & Permission.READ:
        for category in _categories(terms.categories):
            if session.ledger.keys.keyring_of(patient, category):
                call, _ = rotation_call(session, category, excluding=grantee, patient=patient)
                calls.append(call)
    return session.ledger.multicall(calls)


__all__ = ["AccountSetup", "grant", "key_envelope", "revoke", "setup_account"]
