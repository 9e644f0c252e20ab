"""Verified reads: walk a UnixFS file DAG from its root, checking every block's hash first."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

from . import _pb
from .cid import CODEC_DAG_PB, CODEC_RAW, Cid
from .errors import CidMismatchError, InvalidCidError, MalformedDagError

# Kubo refuses blocks over 1 MiB from peers and js-ipfs writes at most 1 MiB + overhead; no
# honest block we read is larger, so anything bigger is rejected before it is buffered.
MAX_BLOCK_SIZE = 2 * 1024 * 1024

FetchBlock = Callable[[Cid], bytes]


def verify_block(cid: Cid, data: bytes) -> bytes:
    """Return `data` if it hashes to `cid`, else raise CidMismatchError."""
    actual = hashlib.sha256(data).digest()
    if actual != cid.digest:
        raise CidMismatchError(
            f"block {cid} failed verification: its bytes hash to sha256:{actual.hex()}",
            expected=str(cid),
            actual=actual.hex(),
        )
    return data


def _children(cid: Cid, block: bytes) -> tuple[bytes | None, list[Cid]]:
    """Split a verified dag-pb UnixFS file node into (inline data, child CIDs)."""
    node = _pb.decode_pb_node(block)
    if node.data is None:
        raise MalformedDagError(f"dag-pb node {cid} has no UnixFS Data")
    meta = _pb.decode_unixfs(node.data)
    if meta.type not in (_pb.UNIXFS_FILE, _pb.UNIXFS_RAW):
        raise MalformedDagError(f"dag-pb node {cid} is UnixFS type {meta.type}, not a file")
    try:
        links = [Cid.from_bytes(link.hash) for link in node.links]
    except InvalidCidError as exc:
        raise MalformedDagError(f"dag-pb node {cid} links to an unsupported CID: {exc}") from None
    return meta.data, links


def iter_file(root: Cid, fetch: FetchBlock) -> Iterator[bytes]:
    """Yield the file content under `root`, one verified block's payload at a time.

    `fetch` returns the raw bytes a backend holds for a CID; nothing it returns is yielded or
    followed before its hash matches the CID that named it, so a lying backend cannot
    substitute content. Memory: one block plus the pending links of each tree level.
    """
    stack: list[Iterator[Cid]] = [iter([root])]
    while stack:
        cid = next(stack[-1], None)
        if cid is None:
            stack.pop()
            continue
        block = verify_block(cid, fetch(cid))
        if cid.codec == CODEC_RAW:
            if block:
                yield block
        elif cid.codec == CODEC_DAG_PB:
            data, links = _children(cid, block)
            if data:
                yield data
            if links:
                stack.append(iter(links))
        else:  # pragma: no cover - Cid rejects other codecs at construction
            raise MalformedDagError(f"cannot read codec 0x{cid.codec:x}")


def iter_dag_cids(root: Cid, fetch: FetchBlock) -> Iterator[Cid]:
    """Yield every CID in the DAG under `root`; only dag-pb nodes are fetched (and verified)."""
    stack: list[Iterator[Cid]] = [iter([root])]
    while stack:
        cid = next(stack[-1], None)
        if cid is None:
            stack.pop()
            continue
        yield cid
        if cid.codec == CODEC_DAG_PB:
            _, links = _children(cid, verify_block(cid, fetch(cid)))
            stack.append(iter(links))


def iter_blocks(root: Cid, fetch: FetchBlock) -> Iterator[tuple[Cid, bytes]]:
    """Yield (CID, bytes) of every block of the DAG under `root`, leaves included, each fetched
    and verified against its CID before it is yielded or followed."""
    stack: list[Iterator[Cid]] = [iter([root])]
    while stack:
        cid = next(stack[-1], None)
        if cid is None:
            stack.pop()
            continue
        block = verify_block(cid, fetch(cid))
        yield cid, block
        if cid.codec == CODEC_DAG_PB:
            _, links = _children(cid, block)
            stack.append(iter(links))
