"""Anonymous public-key encryption of small secrets (libsodium ``crypto_box_seal``).

A sealed box is 48 bytes longer than its plaintext (an ephemeral X25519 public key and a
Poly1305 tag): a 32-byte key seals to 80 bytes.
"""

from __future__ import annotations

from typing import Protocol

from nacl.bindings import crypto_box_seal, crypto_box_seal_open
from nacl.exceptions import CryptoError as NaclCryptoError

from .errors import KeyFormatError, SealedBoxError
from .keys import X25519_KEY_BYTES, require_length

__all__ = ["SEALED_KEY_BYTES", "SEAL_OVERHEAD", "X25519KeyPair", "open_sealed", "seal"]

SEAL_OVERHEAD = 48
SEALED_KEY_BYTES = X25519_KEY_BYTES + SEAL_OVERHEAD  # 80


class X25519KeyPair(Protocol):
    """Anything holding an X25519 pair: an account key pair, a service's, a reader's one-time pair."""

    @property
    def public(self) -> bytes: ...

    @property
    def secret(self) -> bytes: ...


def seal(plaintext: bytes, recipient_public: bytes) -> bytes:
    """Seal ``plaintext`` so that only the holder of ``recipient_public``'s secret opens it."""
    public = require_length(recipient_public, X25519_KEY_BYTES, "recipient X25519 public key")
    try:
        return crypto_box_seal(bytes(plaintext), public)
    except NaclCryptoError:
        # libsodium refuses low-order points, whose shared secret would be all zeros.
        raise KeyFormatError("recipient X25519 public key is not a usable point") from None


def open_sealed(ciphertext: bytes, keypair: X25519KeyPair) -> bytes:
    """Open a sealed box with ``keypair``; :class:`SealedBoxError` if it does not open."""
    if len(ciphertext) < SEAL_OVERHEAD:
        raise SealedBoxError(f"sealed box must be at least {SEAL_OVERHEAD} bytes, got {len(ciphertext)}")
    try:
        return crypto_box_seal_open(bytes(ciphertext), keypair.public, keypair.secret)
    except NaclCryptoError:
        raise SealedBoxError("sealed box did not open with this key pair") from None
