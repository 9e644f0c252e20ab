"""Category keyrings on chain: creating, rotating and recovering them.

Every keyring secret reaches the chain only sealed: to the patient in each KeyringRotated
envelope; to a grantee in its grant envelope or a rotation share; to a guardian in its
appointment envelope or a rotation share; to the emergency key service in rotation shares of
emergency categories, which it re-seals to a provider only while that provider's break-glass is
open. So every party's keys can be rebuilt from the chain and its one Ethereum key.
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
from medledger.ledger.emergency import EMERGENCY_KEY_SERVICE_ROLE
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
            f"{account} has not published an encryption key; they must run `medledger keys publish` first"
        )
    return key


def patient_keyrings(session: Session, category: int) -> list[CategoryKeyring]:
    """Every epoch of the session account's own keyring for `category` (the patient's view)."""
    keyrings = []
    for event in session.ledger.events(
        "KeyringRotated", from_block=session.from_block, patient=session.address, category=int(category)
    ):
        try:
            keyrings.append(open_rotation_envelope(bytes(event.args.envelope), session.keypair))
        except CryptoError:
            continue  # an envelope not made by this key (e.g. a key rotated since): skip it
    return keyrings


def granted_keyrings(session: Session, patient: str) -> list[CategoryKeyring]:
    """Every keyring of `patient` this account received: grant and guardian envelopes, emergency
    releases, and rotation shares."""
    found: dict[tuple[int, int], CategoryKeyring] = {}
    sources = (
        ("ConsentGranted", {"grantee": session.address}),
        ("GuardianAppointed", {"guardian": session.address}),
        ("EmergencyKeysReleased", {"provider": session.address}),
    )
    for name, recipient in sources:
        for event in session.ledger.events(name, from_block=session.from_block, patient=patient, **recipient):
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


def keyring_categories(session: Session, patient: str) -> list[int]:
    """The categories `patient` has keyrings for, from one log query (not one call per category)."""
    found = {
        int(log.args.category)
        for log in session.ledger.events("KeyringRotated", from_block=session.from_block, patient=patient)
    }
    return sorted(found)


def readable_keyrings(session: Session, patient: str, category: int | None = None) -> list[CategoryKeyring]:
    """The keyrings of `patient` this account can open: all of them for the patient, the shared
    ones for grantees, guardians and emergency providers."""
    if session.address == patient:
        categories = keyring_categories(session, patient) if category is None else [int(category)]
        return [k for c in categories for k in patient_keyrings(session, c)]
    return [k for k in granted_keyrings(session, patient) if category is None or k.category == int(category)]


def _accounts_named(session: Session, event: str, field: str, **filters: Any) -> list[str]:
    """Each account named in `field` of `event` logs, once, in first-seen order."""
    seen: list[str] = []
    for log in session.ledger.events(event, from_block=session.from_block, **filters):
        account = getattr(log.args, field)
        if account not in seen:
            seen.append(account)
    return seen


def emergency_key_services(session: Session) -> list[str]:
    """Accounts ever granted the emergency key service role that still hold it."""
    return [
        account
        for account in _accounts_named(session, "RoleGranted", "account", role=EMERGENCY_KEY_SERVICE_ROLE)
        if session.ledger.contract.functions.hasRole(EMERGENCY_KEY_SERVICE_ROLE, account).call()
    ]


def current_readers(session: Session, patient: str, category: int) -> dict[bytes, bytes]:
    """Who must receive a share of `patient`'s keyring for `category`: grantees who may read it
    now, active guardians, and (for emergency categories of a patient who has not opted out)
    the emergency key services. Maps address -> X25519 key; accounts without a key are skipped."""
    now = session.ledger.chain.now()
    readers: list[str] = []
    for grantee in _accounts_named(session, "ConsentGranted", "grantee", patient=patient):
        terms = session.ledger.consent.get(patient, grantee)
        if terms.expiry > now and terms.categories >> int(category) & 1 and terms.permissions & Permission.READ:
            readers.append(grantee)
    for guardian in _accounts_named(session, "GuardianAppointed", "guardian", patient=patient):
        if session.ledger.guardians.is_guardian(patient, guardian):
            readers.append(guardian)
    opted_out, emergency_categories = session.ledger.emergency.preferences(patient)
    if not opted_out and emergency_categories >> int(category) & 1:
        readers.extend(emergency_key_services(session))
    shares: dict[bytes, bytes] = {}
    for account in readers:
        key = session.ledger.keys.encryption_key_of(account)
        if key is not None:
            shares[bytes.fromhex(account[2:])] = key
    return shares


def rotation_call(
    session: Session, category: int, *, excluding: str | None = None, patient: str | None = None
) -> tuple[Any, CategoryKeyring]:
    """The call that starts the next epoch of `patient`'s keyring for `category` (the session's
    own by default; a guardian passes the ward), sealed to the patient and every current reader
    except `excluding`."""
    if not 0 <= int(category) < CATEGORY_COUNT:
        raise ValueError(f"category {category} is out of range")
    owner = patient or session.address
    current = session.ledger.keys.keyring_of(owner, category)
    epoch = (current[1] if current else 0) + 1
    keyring = new_keyring(int(category), epoch)
    shares = current_readers(session, owner, category)
    if excluding is not None:
        shares.pop(bytes.fromhex(excluding[2:]), None)
    patient_public = session.keypair.public if owner == session.address else encryption_key(session, owner)
    envelope = build_rotation_envelope(keyring, patient_public, shares)
    call = session.ledger.keys.rotate_keyring_call(
        category, keyring.public, envelope, patient=None if owner == session.address else owner
    )
    return call, keyring
