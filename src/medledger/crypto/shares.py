"""k-of-n secret sharing of a record's 32-byte data key, one share per key-release service.

The field arithmetic is pycryptodome's :class:`Crypto.Protocol.SecretSharing.Shamir`, a
maintained implementation of Shamir's scheme over GF(2^128) that shares 16-byte secrets. A
32-byte data key is split as two 16-byte halves under two independent random polynomials of
the same degree, evaluated at the same indexes: share ``i`` is ``p_lo(i) || p_hi(i)``. Any
``threshold`` shares with distinct indexes give both halves back; fewer give a value that is
independent of the secret (each half is information-theoretically hidden).

A share is committed to with keyed BLAKE2b-256 under the share's own value over its index
and the container's binding digest (:func:`share_commitment`). The commitment sits in the
record container's header, so a reader can tell which service returned a wrong share, and a
service refuses a share cut from one container and pasted into another (the binding digest
differs, and the commitment cannot be recomputed without the share).

Indexes are 1-based (1 .. :data:`MAX_SHARES`) and equal a service's position in the on-chain
service set. Pycryptodome's split evaluates at 1..n, so the shares of a set of n services
are exactly indexes 1..n.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field

from Crypto.Protocol.SecretSharing import Shamir

from .errors import ShareError
from .keys import require_length

__all__ = [
    "ENCODED_SHARE_BYTES",
    "MAX_SHARES",
    "SECRET_BYTES",
    "SHARE_COMMITMENT_BYTES",
    "KeyShare",
    "combine_shares",
    "decode_share",
    "encode_share",
    "share_commitment",
    "split_secret",
    "verify_share_commitment",
]

MAX_SHARES = 16
SECRET_BYTES = 32
ENCODED_SHARE_BYTES = 1 + SECRET_BYTES  # index u8 || value
SHARE_COMMITMENT_BYTES = 32
_HALF = 16  # pycryptodome's Shamir shares 16-byte secrets (elements of GF(2^128))
_PERSON_SHARE = b"medledger:shcm:1"  # BLAKE2b personalisation: the share-commitment domain
_COMMIT_LABEL = b"share-commitment"


def _check_index(index: object) -> int:
    if isinstance(index, bool) or not isinstance(index, int):
        raise ShareError(f"share index must be an int, got {type(index).__name__}")
    if not 1 <= index <= MAX_SHARES:
        raise ShareError(f"share index must be 1..{MAX_SHARES}, got {index}")
    return index


@dataclass(frozen=True)
class KeyShare:
    """One share of a data key: its 1-based index and 32-byte value. ``repr`` hides the value."""

    index: int
    value: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_index(self.index)
        object.__setattr__(self, "value", require_length(self.value, SECRET_BYTES, "share value"))


def _check_count(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be {low}..{high}, got {value}")
    return value


def split_secret(secret: bytes, threshold: int, count: int) -> list[KeyShare]:
    """Split a 32-byte secret into ``count`` shares (indexes 1..count), any ``threshold`` of
    which recombine it; ``1 <= threshold <= count <= MAX_SHARES``."""
    raw = require_length(secret, SECRET_BYTES, "secret to split")
    _check_count("share count", count, 1, MAX_SHARES)
    _check_count("threshold", threshold, 1, count)
    low = Shamir.split(threshold, count, raw[:_HALF], ssss=False)
    high = Shamir.split(threshold, count, raw[_HALF:], ssss=False)
    return [
        KeyShare(index, low_value + high_value) for (index, low_value), (_, high_value) in zip(low, high, strict=True)
    ]


def combine_shares(shares: Sequence[KeyShare]) -> bytes:
    """Recombine the secret from shares with distinct indexes.

    With at least the threshold's number of genuine shares the result is the secret; with
    fewer, or with a wrong share, it is an unrelated value (callers check a commitment)."""
    shares = tuple(shares)
    if not 1 <= len(shares) <= MAX_SHARES:
        raise ShareError(f"combining needs 1..{MAX_SHARES} shares, got {len(shares)}")
    seen: set[int] = set()
    for share in shares:
        if not isinstance(share, KeyShare):
            raise TypeError(f"shares must be KeyShare, got {type(share).__name__}")
        if share.index in seen:
            raise ShareError(f"share index {share.index} is given more than once")
        seen.add(share.index)
    low = Shamir.combine([(share.index, share.value[:_HALF]) for share in shares], ssss=False)
    high = Shamir.combine([(share.index, share.value[_HALF:]) for share in shares], ssss=False)
    return bytes(low) + bytes(high)


def share_commitment(share: KeyShare, binding_digest: bytes) -> bytes:
    """32-byte commitment to ``share`` for the container whose binding digest is given:
    BLAKE2b-256 keyed with the share value over a label, the index and the binding digest."""
    digest = require_length(binding_digest, 32, "binding digest")
    return hashlib.blake2b(
        _COMMIT_LABEL + bytes([share.index]) + digest,
        digest_size=SHARE_COMMITMENT_BYTES,
        key=share.value,
        person=_PERSON_SHARE,
    ).digest()


def verify_share_commitment(share: KeyShare, binding_digest: bytes, commitment: bytes) -> bool:
    """Whether ``commitment`` is the commitment to ``share`` under ``binding_digest``
    (constant-time comparison)."""
    return hmac.compare_digest(share_commitment(share, binding_digest), bytes(commitment))


def encode_share(share: KeyShare) -> bytes:
    """33 bytes: index u8 || value."""
    return bytes([share.index]) + share.value


def decode_share(data: bytes) -> KeyShare:
    """Parse the 33-byte encoding; :class:`ShareError` if it is not one."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ShareError(f"encoded share must be bytes, got {type(data).__name__}")
    raw = bytes(data)
    if len(raw) != ENCODED_SHARE_BYTES:
        raise ShareError(f"encoded share must be {ENCODED_SHARE_BYTES} bytes, got {len(raw)}")
    return KeyShare(_check_index(raw[0]), raw[1:])
