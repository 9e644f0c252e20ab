"""The one interface every blob store implements, and the errors it raises."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Protocol, runtime_checkable

from .cid import Cid
from .errors import (
    BlobNotFoundError,
    CidMismatchError,
    HeaderProofError,
    InvalidCidError,
    MalformedDagError,
    StorageError,
    StorageTimeoutError,
    StorageUnavailableError,
)

__all__ = [
    "BlobNotFoundError",
    "BlobStore",
    "CidMismatchError",
    "HeaderProofError",
    "InvalidCidError",
    "MalformedDagError",
    "StorageError",
    "StorageTimeoutError",
    "StorageUnavailableError",
]


@runtime_checkable
class BlobStore(Protocol):
    """Content-addressed storage of opaque (already encrypted) blobs.

    CIDs are those of `ipfs add --cid-version=1 --raw-leaves`. Every read verifies each block
    against the CID that named it, walking the DAG from the root, and raises CidMismatchError
    before any unverified byte is yielded.
    """

    def put(self, stream: BinaryIO) -> Cid:
        """Store the stream's bytes (read incrementally), pin them, and return the root CID."""
        ...

    def get(self, cid: Cid | str) -> Iterator[bytes]:
        """Stream the blob's bytes. Raises BlobNotFoundError if a block is missing."""
        ...

    def pin(self, cid: Cid | str) -> None:
        """Keep the blob through garbage collection. Raises BlobNotFoundError if absent."""
        ...

    def unpin(self, cid: Cid | str) -> None:
        """Stop keeping the blob; a no-op when it is not pinned."""
        ...

    def has(self, cid: Cid | str) -> bool:
        """Whether the store holds the blob's root block, without fetching from elsewhere."""
        ...

    def get_block(self, cid: Cid | str) -> bytes:
        """One block's raw bytes, verified against `cid` (CidMismatchError otherwise).
        Raises BlobNotFoundError if the store does not have it."""
        ...

    def close(self) -> None:
        """Release connections and other resources."""
        ...
