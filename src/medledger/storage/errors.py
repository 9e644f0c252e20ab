"""Exceptions raised by blob stores and CID handling."""

from __future__ import annotations

from medledger.errors import MedLedgerError


class StorageError(MedLedgerError):
    """Base class for every storage-layer failure."""


class InvalidCidError(StorageError, ValueError):
    """A string or byte sequence is not a CID this layer accepts."""


class CidMismatchError(StorageError):
    """Bytes received do not hash to the CID that named them."""

    def __init__(self, message: str, *, expected: str | None = None, actual: str | None = None) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class MalformedDagError(StorageError):
    """Blocks hash correctly but do not form a UnixFS file this layer can read."""


class HeaderProofError(StorageError):
    """A header proof (the blocks from a CID's root down to its first leaf) is empty, too
    long, or stops before the leaf."""


class BlobNotFoundError(StorageError):
    """The store does not hold (all of) the blocks of a blob."""

    def __init__(self, message: str, *, cid: str | None = None) -> None:
        super().__init__(message)
        self.cid = cid


class StorageUnavailableError(StorageError):
    """The storage backend cannot be reached (for example the IPFS daemon is down)."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class StorageTimeoutError(StorageError, TimeoutError):
    """The storage backend did not answer within the configured timeout."""
