"""Blob storage: IPFS-compatible CIDs, an embedded block store and a Kubo RPC client.

Knows nothing of the chain or of encryption: blobs are opaque bytes named by CID.
"""

from .base import BlobStore
from .blockstore import LocalBlockStore
from .cid import CHUNK_SIZE, CODEC_DAG_PB, CODEC_RAW, MAX_LINKS, Block, Cid, CidBuilder, compute_cid
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
from .kubo import KuboStore

__all__ = [
    "CHUNK_SIZE",
    "CODEC_DAG_PB",
    "CODEC_RAW",
    "MAX_LINKS",
    "BlobNotFoundError",
    "BlobStore",
    "Block",
    "Cid",
    "CidBuilder",
    "CidMismatchError",
    "HeaderProofError",
    "InvalidCidError",
    "KuboStore",
    "LocalBlockStore",
    "MalformedDagError",
    "StorageError",
    "StorageTimeoutError",
    "StorageUnavailableError",
    "compute_cid",
]
