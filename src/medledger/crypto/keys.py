"""Account encryption keys: an X25519 key pair derived from the Ethereum private key.

One secret to back up: the X25519 secret is HKDF-SHA256 (RFC 5869) of the 32-byte Ethereum
private key under a fixed salt and a domain-separation label, so it can be recomputed at any
time and is unrelated to any other use of the Ethereum key.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from nacl.bindings import crypto_scalarmult_base
from nacl.public import PrivateKey

from .errors import KeyFormatError

__all__ = [
    "ENCRYPTION_KEY_INFO",
    "ENCRYPTION_KEY_SALT",
    "ETH_PRIVATE_KEY_BYTES",
    "X25519_KEY_BYTES",
    "EncryptionKeyPair",
    "derive_encryption_keypair",
    "hkdf_sha256",
]

ETH_PRIVATE_KEY_BYTES = 32
X25519_KEY_BYTES = 32

# Fixed, public domain-separation constants: changing either changes every derived key.
ENCRYPTION_KEY_SALT = b"medledger/v1/hkdf-salt"
ENCRYPTION_KEY_INFO = b"medledger/v1/x25519-encryption-key"

# Order of the secp256k1 group: valid private keys are 1 .. n-1.
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def require_length(value: object, expected: int, what: str) -> bytes:
    """Return ``value`` as ``bytes`` if it is a bytes-like of ``expected`` length."""
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise KeyFormatError(f"{what} must be {expected} bytes, got {type(value).__name__}")
    raw = bytes(value)
    if len(raw) != expected:
        raise KeyFormatError(f"{what} must be {expected} bytes, got {len(raw)}")
    return raw


def hkdf_sha256(ikm: bytes, *, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA256 extract-then-expand (RFC 5869)."""
    if not 0 < length <= 255 * 32:
        raise ValueError("HKDF-SHA256 output length must be 1..8160 bytes")
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block = b"", b""
    for counter in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
    return okm[:length]


@dataclass(frozen=True)
class EncryptionKeyPair:
    """An X25519 key pair. ``repr`` never shows the secret."""

    public: bytes
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        public = require_length(self.public, X25519_KEY_BYTES, "X25519 public key")
        secret = require_length(self.secret, X25519_KEY_BYTES, "X25519 secret key")
        # A pair whose halves disagree would seal to a key nobody can open.
        if crypto_scalarmult_base(secret) != public:
            raise KeyFormatError("X25519 public key does not match the secret key")
        object.__setattr__(self, "public", public)
        object.__setattr__(self, "secret", secret)

    @classmethod
    def from_secret(cls, secret: bytes) -> EncryptionKeyPair:
        """Build the pair from a 32-byte X25519 secret."""
        secret = require_length(secret, X25519_KEY_BYTES, "X25519 secret key")
        return cls(public=bytes(PrivateKey(secret).public_key), secret=secret)

    @classmethod
    def generate(cls) -> EncryptionKeyPair:
        """A fresh random pair (for keys that are not derived from an account)."""
        return cls.from_secret(bytes(PrivateKey.generate()))


def derive_encryption_keypair(eth_private_key: bytes) -> EncryptionKeyPair:
    """Derive an account's X25519 encryption key pair from its Ethereum private key.

    Deterministic: the same Ethereum key always yields the same pair.
    """
    ikm = require_length(eth_private_key, ETH_PRIVATE_KEY_BYTES, "Ethereum private key")
    if not 0 < int.from_bytes(ikm, "big") < _SECP256K1_N:
        raise KeyFormatError("Ethereum private key must be in 1 .. secp256k1 order - 1")
    secret = hkdf_sha256(ikm, salt=ENCRYPTION_KEY_SALT, info=ENCRYPTION_KEY_INFO)
    return EncryptionKeyPair.from_secret(secret)
