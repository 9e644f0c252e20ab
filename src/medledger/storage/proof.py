"""Header proofs: the blocks that tie a blob's first bytes to its CID, for a party without IPFS.

A key-release service reads no storage. A reader shows it which container header belongs to
a record by sending the blocks on the FIRST path of the blob's DAG, from the root named by
the record's on-chain CID (sha2-256 digest + codec) down to the first leaf:

* raw CID (a blob of one chunk): ``[the block]``; the prefix is the whole blob;
* dag-pb CID: ``[root, first child, ..., first leaf]``; each block must hash to the first
  link of the node before it, and the prefix is the leaf's bytes (the blob's first
  256 KiB, as the importer cuts fixed-size chunks).

The verifier recomputes every hash, so the prefix it returns is exactly the start of the
blob the CID names, whoever sent the blocks. A container header is at most 123,297 bytes
(crypto/container.py), so it always lies in that prefix.
"""

from __future__ import annotations

from collections.abc import Sequence

from .base import BlobStore
from .cid import CODEC_RAW, Cid
from .dag import MAX_BLOCK_SIZE, _children, verify_block
from .errors import CidMismatchError, HeaderProofError, MalformedDagError

__all__ = ["DEFAULT_MAX_PROOF_BLOCKS", "header_proof_blocks", "verify_header_proof"]

# Root, two inner levels, leaf: a balanced tree of 174-link nodes this deep holds
# 174**3 leaves of 256 KiB (about 1.3 PB), far beyond any record.
DEFAULT_MAX_PROOF_BLOCKS = 4


def _first_step(cid: Cid, block: bytes) -> tuple[bytes | None, Cid | None]:
    """For a verified block: (the prefix, if this block is the first leaf) or (None, next CID)."""
    if cid.codec == CODEC_RAW:
        return block, None
    data, links = _children(cid, block)
    if not links:
        # A leaf-only dag-pb file (imported without raw leaves): its bytes are inline.
        return data or b"", None
    if data:
        raise MalformedDagError(
            f"dag-pb node {cid} holds inline data before its children; not a file this layer writes"
        )
    return None, links[0]


def header_proof_blocks(store: BlobStore, cid: Cid | str, *, max_blocks: int = DEFAULT_MAX_PROOF_BLOCKS) -> list[bytes]:
    """The blocks from ``cid``'s root down its first links to the first leaf, each verified
    as it is fetched (``store.get_block``)."""
    expected: Cid | None = Cid.coerce(cid)
    blocks: list[bytes] = []
    while expected is not None:
        if len(blocks) == max_blocks:
            raise HeaderProofError(f"blob {cid} is more than {max_blocks} levels deep; no header proof is built")
        block = store.get_block(expected)
        blocks.append(block)
        _, expected = _first_step(expected, block)
    return blocks


def verify_header_proof(
    digest: bytes, codec: int, blocks: Sequence[bytes], *, max_blocks: int = DEFAULT_MAX_PROOF_BLOCKS
) -> bytes:
    """Check a header proof against the CID ``(digest, codec)`` and return the verified prefix.

    Each block must hash (sha2-256) to the CID it is reached by: the first to the given one,
    each next one to the first link of the dag-pb node before it; the last must be a leaf.
    Raises :class:`CidMismatchError` (a block that does not hash to its CID: tampered, or
    the proof of another blob), :class:`MalformedDagError` (a node that is not a UnixFS file
    node), :class:`HeaderProofError` (empty, longer than ``max_blocks``, a block after the
    leaf, or a path that stops before the leaf) or :class:`InvalidCidError` (not a
    sha2-256 raw/dag-pb CID)."""
    if isinstance(codec, bool) or not isinstance(codec, int):
        raise HeaderProofError(f"CID codec must be an int, got {type(codec).__name__}")
    root = Cid.from_digest(bytes(digest), codec)
    blocks = list(blocks)
    if not blocks:
        raise HeaderProofError(f"header proof for {root} holds no block")
    if len(blocks) > max_blocks:
        raise HeaderProofError(f"header proof for {root} holds {len(blocks)} blocks, at most {max_blocks} are accepted")
    expected: Cid | None = root
    for position, block in enumerate(blocks):
        assert expected is not None  # the loop returns at the leaf
        if not isinstance(block, (bytes, bytearray, memoryview)):
            raise HeaderProofError(f"header proof block {position} is not bytes")
        data = bytes(block)
        if len(data) > MAX_BLOCK_SIZE:
            raise HeaderProofError(f"header proof block {position} is {len(data)} bytes, larger than any valid block")
        try:
            verify_block(expected, data)
        except CidMismatchError as exc:
            what = "the root" if position == 0 else f"the first link of block {position - 1}"
            raise CidMismatchError(
                f"header proof block {position} does not hash to {expected}, {what} of {root}",
                expected=exc.expected,
                actual=exc.actual,
            ) from None
        prefix, expected = _first_step(expected, data)
        if prefix is not None:
            if position != len(blocks) - 1:
                raise HeaderProofError(
                    f"header proof for {root} continues after its leaf (block {position} of {len(blocks)})"
                )
            return prefix
    raise HeaderProofError(f"header proof for {root} stops after {len(blocks)} blocks, before reaching the first leaf")
