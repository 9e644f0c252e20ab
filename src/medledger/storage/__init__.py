"""Blob storage: IPFS-compatible CIDs, an embedded block store, a Kubo RPC client, trustless
gateway reads, and replication over several stores.

Knows nothing of the chain or of encryption: blobs are opaque bytes named by CID.
"""

from .base import BlobStore
from .blockstore import LocalBlockStore
from .cid import CHUNK_SIZE, CODEC_DAG_PB, CODEC_RAW, MAX_LINKS, Block, Cid, CidBuilder, compute_cid
from .config import StorageConfig, StorageConfigError, StoreSpec, parse_storage_config
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
from .gateway import TrustlessGateway
from .kubo import KuboStore
from .replicated import ReplicatedStore, ReplicationError, open_replicated

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
    "ReplicatedStore",
    "ReplicationError",
    "StorageConfig",
    "StorageConfigError",
    "StorageError",
    "StorageTimeoutError",
    "StorageUnavailableError",
    "StoreSpec",
    "TrustlessGateway",
    "compute_cid",
    "open_replicated",
    "parse_storage_config",
]
