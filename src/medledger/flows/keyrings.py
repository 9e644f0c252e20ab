"""Category keyrings on chain: creating, rotating and recovering them.

Every keyring secret reaches the chain only sealed: to the patient in each KeyringRotated
envelope, to each grantee in its grant envelope or in a rotation share. So the patient's (and
each grantee's) keys can always be rebuilt from the chain and one Ethereum key.
"""

from __future__ import annotations

from typing import Any

from medledger.crypto import (
    CategoryKeyring,
    CryptoError,
    KeyringRecipient,
    build_rotation_envelope,
    new_keyring,
    open_grant_envelope,
    open_rotation_envelope,
)
from medledger.flows.errors import MissingEncryptionKeyError
from medledger.flows.session import Session
from medledger.scopes import CATEGORY_COUNT, Permission


def current_keyring(session: Session, patient: str, category: int) -> KeyringRecipient | None:
    """The public half of the patient's current keyring for `category`, for a writer to seal to."""
    found = session.ledger.keys.keyring_of(patient, category)
    if found is None:
        return None
    public, epoch = found
    return KeyringRecipient(int(category), epoch, public)


def encryption_key(session: Session, account: str) -> bytes:
    """`account`'s published X25519 key, or a clear error telling them to publish one."""
    key = session.ledger.keys.encryption_key_of(account)
    if key is None:
        raise MissingEncryptionKeyError(
            f"{account} has not published an encryption key; they must run `medledger keys publish` first")
    return key


def patient_keyrings(session: Session, category: int) -> list[CategoryKeyring]:
    """Every epoch of the session account's own keyring for `category` (the patient's view)."""
    keyrings = []
    for event in session.ledger.events("KeyringRotated", from_block=session.from_block,
                                       patient=session.address, category=int(category)):
        try:
            keyrings.append(open_rotation_envelope(bytes(event.args.envelope), session.keypair))
        except CryptoError:
            continue  # an envelope not made by this key (e.g. a key rotated since): skip it
    return keyrings


def granted_keyrings(session: Session, patient: str) -> list[CategoryKeyring]:
    """Every keyring of `patient` this account received, by a grant envelope or a rotation share."""
    found: dict[tuple[int, int], CategoryKeyring] = {}
    for event in session.ledger.events("ConsentGranted", from_block=session.from_block, patient=patient,
                                       grantee=session.address):
        envelope = bytes(event.args.envelope)
        if not envelope:
            continue
        try:
            for keyring in open_grant_envelope(envelope, session.keypair):
                found[(keyring.category, keyring.epoch)] = keyring
        except CryptoError:
            continue
    me = bytes.fromhex(session.address[2:])
    for event in session.ledger.events("KeyringRotated", from_block=session.from_block, patient=patient):
        try:
            keyring = open_rotation_envelope(bytes(event.args.envelope), session.keypair, grantee_address=me)
        except CryptoError:
            continue  # no share for this account in that rotation
        found[(keyring.category, keyring.epoch)] = keyring
    return list(found.values())


def current_grantees(session: Session, patient: str, category: int) -> dict[bytes, bytes]:
    """Grantees who may read `category` now: address -> X25519 key (they get rotation shares)."""
    now = int(session.ledger.chain.w3.eth.get_block("latest")["timestamp"])
    seen: set[str] = set()
    shares: dict[bytes, bytes] = {}
    for event in session.ledger.events("ConsentGranted", from_block=session.from_block, patient=patient):
        grantee = event.args.grantee
        if grantee in seen:
            continue
        seen.add(grantee)
        terms = session.ledger.consent.get(patient, grantee)
        if terms.expiry > now and terms.categories >> int(category) & 1 and terms.permissions & Permission.READ:
            key = session.ledger.keys.encryption_key_of(grantee)
            if key is not None:
                shares[bytes.fromhex(grantee[2:])] = key
    return shares


def rotation_call(session: Session, category: int, *, excluding: str | None = None) -> tuple[Any, CategoryKeyring]:
    """The call that starts the next epoch of the session patient's keyring for `category`,
    sealed to the patient and to every current reader except `excluding`."""
    if not 0 <= int(category) < CATEGORY_COUNT:
        raise ValueError(f"category {category} is out of range")
    current = session.ledger.keys.keyring_of(session.address, category)
    epoch = (current[1] if current else 0) + 1
    keyring = new_keyring(int(category), epoch)
    shares = current_grantees(session, session.address, category)
    if excluding is not None:
        shares.pop(bytes.fromhex(excluding[2:]), None)
    envelope = build_rotation_envelope(keyring, session.keypair.public, shares)
    return session.ledger.keys.rotate_keyring_call(category, keyring.public, envelope), keyring

