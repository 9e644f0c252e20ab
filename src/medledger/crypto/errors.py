"""Exceptions raised by :mod:`medledger.crypto`.

Every message names what was expected and where; none ever contains key material or
plaintext.
"""

from __future__ import annotations

from medledger.errors import MedLedgerError

__all__ = [
    "BindingMismatchError",
    "ContainerError",
    "CryptoError",
    "InsufficientSharesError",
    "KeyFormatError",
    "MalformedContainerError",
    "NotARecipientError",
    "NotAServiceError",
    "SealedBoxError",
    "ShareError",
    "TamperedContainerError",
    "TamperedShareError",
    "TruncatedContainerError",
    "UnsupportedVersionError",
    "WrongKeyError",
]


class CryptoError(MedLedgerError):
    """Base class of every error raised by the crypto layer."""


class KeyFormatError(CryptoError, ValueError):
    """A key has the wrong length or is not a usable key."""


class SealedBoxError(CryptoError):
    """A sealed box did not open: wrong key pair, or the ciphertext was altered."""


# --- record container -------------------------------------------------------------------


class ContainerError(CryptoError):
    """Base class of every record-container error."""


class MalformedContainerError(ContainerError):
    """The bytes are not a well-formed container (bad magic, a length out of bounds,
    trailing data after the final chunk)."""


class UnsupportedVersionError(ContainerError):
    """The container declares a format version this code does not read."""

    def __init__(self, version: int, supported: tuple[int, ...]) -> None:
        self.version = version
        self.supported = supported
        super().__init__(
            f"container format version {version} is not supported (supported: {', '.join(map(str, supported))})"
        )


class BindingMismatchError(ContainerError):
    """The container was made for another chain, registry, patient or category."""


class WrongKeyError(ContainerError):
    """The key offered does not decrypt this container (key-commitment mismatch, or a
    matching recipient stanza did not open)."""


class NotARecipientError(WrongKeyError):
    """No recipient stanza of the container is addressed to the identity offered."""


class TamperedContainerError(ContainerError):
    """A chunk failed authentication: flipped bits, reordered or dropped chunks, an edited
    header or a swapped stream header."""

    def __init__(self, chunk_index: int, detail: str = "failed authentication") -> None:
        self.chunk_index = chunk_index
        super().__init__(f"chunk {chunk_index} {detail}")


class TruncatedContainerError(ContainerError):
    """The container ends before its final chunk."""


# --- threshold key shares ---------------------------------------------------------------


class ShareError(CryptoError, ValueError):
    """A key share or its encoding is invalid: an index out of range, a duplicate index,
    a wrong length."""


class NotAServiceError(ContainerError):
    """The container holds no share stanza for the service index or key pair offered (or no
    threshold section at all)."""


class TamperedShareError(ContainerError):
    """A share does not match the commitment in the container header, or its sealed stanza
    does not open with the key it is addressed to. ``index`` names the share."""

    def __init__(self, index: int, detail: str) -> None:
        self.index = index
        super().__init__(f"share {index} {detail}")


class InsufficientSharesError(ContainerError):
    """Fewer shares were offered than the container's threshold."""
