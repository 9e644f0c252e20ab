"""Category keyrings and the envelopes that carry them on chain.

For each patient and category there is a keyring: an X25519 key pair with an epoch. Record
writers seal each record's data key to the keyring's public key; readers hold the keyring
secret. Two envelopes move keyring secrets around, as opaque ``bytes`` in chain events:

Grant envelope (carried by a grant), all integers big-endian::

    version   u8 = 1
    type      u8 = 0x01
    count     u16          1 .. MAX_GRANT_ENTRIES
    entries   count x { category u8, epoch u32, sealed_secret 80 }
              strictly ascending by (category, epoch)

Rotation envelope (published when a keyring is created or rotated)::

    version        u8 = 1
    type           u8 = 0x02
    category       u8
    epoch          u32
    public         32          the keyring's new public key (writers seal to it)
    patient_secret 80          secret sealed to the patient, who can thus recover every
                               keyring from the chain with only their Ethereum key
    count          u16         0 .. MAX_ROTATION_SHARES
    shares         count x { grantee address 20, sealed_secret 80 }
                   strictly ascending by address

A revoked grantee simply has no share in the next rotation envelope: records sealed to the
new epoch are closed to them. What they already downloaded, or the secrets of earlier epochs
they hold, cannot be unlearned; old records stay readable to them unless re-encrypted
(:func:`medledger.crypto.container.rewrap`).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from nacl.bindings import crypto_scalarmult_base
from nacl.public import PrivateKey

from ._codec import ByteReader
from .errors import (
    EnvelopeError,
    EnvelopeKeyError,
    KeyFormatError,
    NotAGranteeError,
    SealedBoxError,
    UnsupportedEnvelopeVersionError,
)
from .keys import X25519_KEY_BYTES, require_length
from .sealing import SEALED_KEY_BYTES, X25519KeyPair, open_sealed, seal

__all__ = [
    "ADDRESS_BYTES",
    "ENVELOPE_VERSION",
    "MAX_CATEGORY",
    "MAX_EPOCH",
    "MAX_GRANT_ENTRIES",
    "MAX_ROTATION_SHARES",
    "CategoryKeyring",
    "GrantEntry",
    "GrantEnvelope",
    "RotationEnvelope",
    "RotationShare",
    "build_grant_envelope",
    "build_rotation_envelope",
    "new_keyring",
    "open_grant_envelope",
    "open_rotation_envelope",
    "parse_grant_envelope",
    "parse_rotation_envelope",
]

ADDRESS_BYTES = 20
MAX_CATEGORY = 255  # categories are bit positions of a uint256 bitmask
MAX_EPOCH = 2**32 - 1
ENVELOPE_VERSION = 1
MAX_GRANT_ENTRIES = 1024
MAX_ROTATION_SHARES = 1024

_TYPE_GRANT = 0x01
_TYPE_ROTATION = 0x02
_GRANT_ENTRY = struct.Struct(">BI")
_ROTATION_HEAD = struct.Struct(">BBBI")


def check_category(category: int) -> int:
    if isinstance(category, bool) or not isinstance(category, int):
        raise ValueError(f"category must be an int 0..{MAX_CATEGORY}")
    if not 0 <= category <= MAX_CATEGORY:
        raise ValueError(f"category must be 0..{MAX_CATEGORY}, got {category}")
    return category


def check_epoch(epoch: int) -> int:
    if isinstance(epoch, bool) or not isinstance(epoch, int):
        raise ValueError(f"epoch must be an int 0..{MAX_EPOCH}")
    if not 0 <= epoch <= MAX_EPOCH:
        raise ValueError(f"epoch must be 0..{MAX_EPOCH}, got {epoch}")
    return epoch


@dataclass(frozen=True)
class CategoryKeyring:
    """One epoch of a patient's keyring for one category. ``repr`` never shows the secret."""

    category: int
    epoch: int
    public: bytes
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        check_category(self.category)
        check_epoch(self.epoch)
        public = require_length(self.public, X25519_KEY_BYTES, "keyring public key")
        secret = require_length(self.secret, X25519_KEY_BYTES, "keyring secret key")
        if crypto_scalarmult_base(secret) != public:
            raise KeyFormatError("keyring public key does not match the secret key")
        object.__setattr__(self, "public", public)
        object.__setattr__(self, "secret", secret)

    @classmethod
    def from_secret(cls, category: int, epoch: int, secret: bytes) -> CategoryKeyring:
        secret = require_length(secret, X25519_KEY_BYTES, "keyring secret key")
        return cls(category, epoch, crypto_scalarmult_base(secret), secret)


def new_keyring(category: int, epoch: int = 0) -> CategoryKeyring:
    """A fresh random keyring for ``category`` at ``epoch``."""
    return CategoryKeyring.from_secret(category, epoch, bytes(PrivateKey.generate()))


def _check_address(address: bytes, what: str) -> bytes:
    if not isinstance(address, (bytes, bytearray)) or len(address) != ADDRESS_BYTES:
        raise ValueError(f"{what} must be {ADDRESS_BYTES} bytes")
    return bytes(address)


def _open_keyring_secret(
    sealed: bytes, keypair: X25519KeyPair, category: int, epoch: int, what: str
) -> CategoryKeyring:
    try:
        secret = open_sealed(sealed, keypair)
    except SealedBoxError:
        raise EnvelopeKeyError(f"{what} did not open with this key pair") from None
    if len(secret) != X25519_KEY_BYTES:
        raise EnvelopeKeyError(f"{what} does not hold a {X25519_KEY_BYTES}-byte secret")
    return CategoryKeyring.from_secret(category, epoch, secret)


def _read_envelope_head(reader: ByteReader, expected_type: int, name: str) -> None:
    version = reader.uint(1, f"{name} version")
    if version != ENVELOPE_VERSION:
        raise UnsupportedEnvelopeVersionError(
            f"{name} version {version} is not supported (supported: {ENVELOPE_VERSION})"
        )
    kind = reader.uint(1, f"{name} type")
    if kind != expected_type:
        raise EnvelopeError(f"not a {name}: type byte is {kind:#04x}, expected {expected_type:#04x}")


# --- grant envelope ---------------------------------------------------------------------


@dataclass(frozen=True)
class GrantEntry:
    category: int
    epoch: int
    sealed_secret: bytes = field(repr=False)


@dataclass(frozen=True)
class GrantEnvelope:
    entries: tuple[GrantEntry, ...]


def build_grant_envelope(keyrings: Sequence[CategoryKeyring], grantee_public: bytes) -> bytes:
    """Seal each keyring's secret to the grantee; one entry per (category, epoch)."""
    if not keyrings:
        raise ValueError("a grant envelope needs at least one keyring")
    if len(keyrings) > MAX_GRANT_ENTRIES:
        raise ValueError(f"a grant envelope holds at most {MAX_GRANT_ENTRIES} keyrings")
    ordered = sorted(keyrings, key=lambda k: (k.category, k.epoch))
    labels = [(k.category, k.epoch) for k in ordered]
    if len(set(labels)) != len(labels):
        raise ValueError("a grant envelope must not hold the same (category, epoch) twice")
    parts = [bytes([ENVELOPE_VERSION, _TYPE_GRANT]), len(ordered).to_bytes(2, "big")]
    for keyring in ordered:
        parts.append(_GRANT_ENTRY.pack(keyring.category, keyring.epoch))
        parts.append(seal(keyring.secret, grantee_public))
    return b"".join(parts)


def parse_grant_envelope(envelope: bytes) -> GrantEnvelope:
    """Parse without opening; :class:`EnvelopeError` on any malformed input."""
    reader = ByteReader(envelope, EnvelopeError)
    _read_envelope_head(reader, _TYPE_GRANT, "grant envelope")
    count = reader.bounded_uint(2, "grant envelope entry count", 1, MAX_GRANT_ENTRIES)
    entries: list[GrantEntry] = []
    previous: tuple[int, int] | None = None
    for index in range(count):
        category, epoch = _GRANT_ENTRY.unpack(reader.take(_GRANT_ENTRY.size, f"grant entry {index}"))
        # Canonical order makes one grant have one encoding, and rules out duplicates.
        if previous is not None and (category, epoch) <= previous:
            raise EnvelopeError(f"grant entry {index} is out of order or duplicated")
        previous = (category, epoch)
        sealed = reader.take(SEALED_KEY_BYTES, f"grant entry {index} sealed secret")
        entries.append(GrantEntry(category, epoch, sealed))
    reader.finish("grant envelope")
    return GrantEnvelope(tuple(entries))


def open_grant_envelope(envelope: bytes, grantee_keypair: X25519KeyPair) -> list[CategoryKeyring]:
    """Recover the keyrings a grant carries, with the grantee's encryption key pair."""
    parsed = parse_grant_envelope(envelope)
    return [
        _open_keyring_secret(
            entry.sealed_secret,
            grantee_keypair,
            entry.category,
            entry.epoch,
            f"grant entry for category {entry.category} epoch {entry.epoch}",
        )
        for entry in parsed.entries
    ]


# --- rotation envelope ------------------------------------------------------------------


@dataclass(frozen=True)
class RotationShare:
    grantee: bytes
    sealed_secret: bytes = field(repr=False)


@dataclass(frozen=True)
class RotationEnvelope:
    category: int
    epoch: int
    public: bytes
    patient_sealed_secret: bytes = field(repr=False)
    shares: tuple[RotationShare, ...]

    @property
    def grantees(self) -> tuple[bytes, ...]:
        return tuple(share.grantee for share in self.shares)


def build_rotation_envelope(
    keyring: CategoryKeyring,
    patient_public: bytes,
    grantee_publics: Mapping[bytes, bytes],
) -> bytes:
    """Publish ``keyring``: its public key and epoch, its secret sealed to the patient, and
    one share per remaining grantee (``grantee address -> grantee X25519 public key``)."""
    if len(grantee_publics) > MAX_ROTATION_SHARES:
        raise ValueError(f"a rotation envelope holds at most {MAX_ROTATION_SHARES} shares")
    shares = sorted((_check_address(address, "grantee address"), public) for address, public in grantee_publics.items())
    if len({address for address, _ in shares}) != len(shares):
        raise ValueError("a rotation envelope must not hold the same grantee twice")
    parts = [
        _ROTATION_HEAD.pack(ENVELOPE_VERSION, _TYPE_ROTATION, keyring.category, keyring.epoch),
        keyring.public,
        seal(keyring.secret, patient_public),
        len(shares).to_bytes(2, "big"),
    ]
    for address, public in shares:
        parts.append(address)
        parts.append(seal(keyring.secret, public))
    return b"".join(parts)


def parse_rotation_envelope(envelope: bytes) -> RotationEnvelope:
    """Parse without opening; :class:`EnvelopeError` on any malformed input."""
    reader = ByteReader(envelope, EnvelopeError)
    _read_envelope_head(reader, _TYPE_ROTATION, "rotation envelope")
    category = reader.uint(1, "rotation envelope category")
    epoch = reader.uint(4, "rotation envelope epoch")
    public = reader.take(X25519_KEY_BYTES, "rotation envelope public key")
    patient_sealed = reader.take(SEALED_KEY_BYTES, "rotation envelope patient secret")
    count = reader.bounded_uint(2, "rotation envelope share count", 0, MAX_ROTATION_SHARES)
    shares: list[RotationShare] = []
    previous: bytes | None = None
    for index in range(count):
        address = reader.take(ADDRESS_BYTES, f"rotation share {index} address")
        if previous is not None and address <= previous:
            raise EnvelopeError(f"rotation share {index} is out of order or duplicated")
        previous = address
        shares.append(RotationShare(address, reader.take(SEALED_KEY_BYTES, f"rotation share {index} secret")))
    reader.finish("rotation envelope")
    return RotationEnvelope(category, epoch, public, patient_sealed, tuple(shares))


def open_rotation_envelope(
    envelope: bytes,
    keypair: X25519KeyPair,
    *,
    grantee_address: bytes | None = None,
) -> CategoryKeyring:
    """Recover the rotated keyring: as the patient (``grantee_address=None``) or as the
    grantee at ``grantee_address``. :class:`NotAGranteeError` if that grantee has no share."""
    parsed = parse_rotation_envelope(envelope)
    if grantee_address is None:
        sealed, what = parsed.patient_sealed_secret, "patient secret"
    else:
        address = _check_address(grantee_address, "grantee address")
        match = [share for share in parsed.shares if share.grantee == address]
        if not match:
            raise NotAGranteeError(
                f"rotation envelope for category {parsed.category} epoch {parsed.epoch} "
                f"holds no share for grantee 0x{address.hex()}"
            )
        sealed, what = match[0].sealed_secret, f"share for grantee 0x{address.hex()}"
    keyring = _open_keyring_secret(sealed, keypair, parsed.category, parsed.epoch, what)
    if keyring.public != parsed.public:
        raise EnvelopeKeyError(f"{what} does not match the envelope's public key")
    return keyring
