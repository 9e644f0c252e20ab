"""Header proofs: the blocks on a CID's first path prove a blob's first bytes to a party that
reads no IPFS; anything else is refused."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from medledger.crypto import (
    AccountRecipient,
    ContainerBinding,
    EncryptionKeyPair,
    ServiceRecipient,
    ThresholdPolicy,
    encrypt_stream,
    read_header,
    read_header_bytes,
)
from medledger.storage import (
    CHUNK_SIZE,
    CODEC_DAG_PB,
    CODEC_RAW,
    BlobNotFoundError,
    Cid,
    CidMismatchError,
    HeaderProofError,
    InvalidCidError,
    LocalBlockStore,
    MalformedDagError,
)
from medledger.storage.dag import MAX_BLOCK_SIZE
from medledger.storage.proof import header_proof_blocks, verify_header_proof

KiB = 1024
MiB = 1024 * KiB


@pytest.fixture(params=["local", pytest.param("kubo", marks=pytest.mark.ipfs)])
def store(request):
    """The embedded block store, and a real js-ipfs daemon through the Kubo RPC client."""
    return request.getfixturevalue(request.param)


def _put(store, data: bytes) -> Cid:
    return store.put(io.BytesIO(data))


def _proof(store, data: bytes) -> tuple[Cid, list[bytes]]:
    cid = _put(store, data)
    return cid, header_proof_blocks(store, cid)


def _flip(block: bytes, at: int = 0) -> bytes:
    return block[:at] + bytes([block[at] ^ 1]) + block[at + 1 :]


# --- honest proofs --------------------------------------------------------------------


def test_the_proof_of_a_one_block_blob_is_that_raw_block(store, blobs):
    data = blobs.data(10 * KiB)
    cid, blocks = _proof(store, data)
    assert cid.codec == CODEC_RAW and blocks == [data]
    assert verify_header_proof(cid.digest, cid.codec, blocks) == data


def test_the_proof_of_a_multi_block_blob_runs_from_the_root_to_the_first_leaf(store, blobs):
    data = blobs.data(CHUNK_SIZE * 3 + 5)
    cid, blocks = _proof(store, data)
    assert cid.codec == CODEC_DAG_PB and len(blocks) == 2
    assert hashlib.sha256(blocks[0]).digest() == cid.digest
    assert verify_header_proof(cid.digest, cid.codec, blocks) == data[:CHUNK_SIZE]


def test_the_verified_prefix_holds_the_whole_container_header(store):
    binding = ContainerBinding(
        chain_id=31337, registry=b"\x11" * 20, patient=b"\x22" * 20, category=3, author=b"\x33" * 20
    )
    services = tuple(ServiceRecipient(i, EncryptionKeyPair.generate().public) for i in range(1, 6))
    container = io.BytesIO()
    encrypt_stream(
        io.BytesIO(bytes(CHUNK_SIZE * 2)),
        container,
        binding=binding,
        recipients=[AccountRecipient(EncryptionKeyPair.generate().public)],
        threshold_policy=ThresholdPolicy(1, 3, services),
    )
    cid, blocks = _proof(store, container.getvalue())
    prefix = verify_header_proof(cid.digest, cid.codec, blocks)
    assert read_header_bytes(prefix) == read_header(io.BytesIO(container.getvalue()))


def test_a_three_level_blob_proves_through_every_level(tmp_path: Path):
    store = LocalBlockStore(tmp_path / "deep", fsync=False)
    # More leaves than one node links (174): the root links to inner nodes.
    size = 175 * CHUNK_SIZE
    cid = store.put(_Pattern(size))
    blocks = header_proof_blocks(store, cid)
    assert len(blocks) == 3
    assert verify_header_proof(cid.digest, cid.codec, blocks) == _Pattern(size).read(CHUNK_SIZE)
    with pytest.raises(HeaderProofError, match="at most 2"):
        verify_header_proof(cid.digest, cid.codec, blocks, max_blocks=2)
    with pytest.raises(HeaderProofError, match="more than 2 levels deep"):
        header_proof_blocks(store, cid, max_blocks=2)


_TILE = bytes(range(251))


class _Pattern(io.RawIOBase):
    """Deterministic bytes (the byte offset mod 251), produced as read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = min(len(buffer), self.size - self.pos)
        start = self.pos % 251
        buffer[:n] = (_TILE * (n // 251 + 2))[start : start + n]
        self.pos += n
        return n


# --- refusals -------------------------------------------------------------------------


def test_a_tampered_leaf_is_refused(store, blobs):
    cid, blocks = _proof(store, blobs.data(CHUNK_SIZE + 1))
    with pytest.raises(CidMismatchError, match=r"block 1 does not hash to .*first link of block 0"):
        verify_header_proof(cid.digest, cid.codec, [blocks[0], _flip(blocks[1], 100)])


def test_a_tampered_root_is_refused(store, blobs):
    cid, blocks = _proof(store, blobs.data(CHUNK_SIZE + 1))
    with pytest.raises(CidMismatchError, match=r"block 0 does not hash to .*the root"):
        verify_header_proof(cid.digest, cid.codec, [_flip(blocks[0], 10), blocks[1]])


def test_a_tampered_raw_blob_is_refused(store, blobs):
    cid, blocks = _proof(store, blobs.data(100))
    with pytest.raises(CidMismatchError, match="block 0"):
        verify_header_proof(cid.digest, cid.codec, [_flip(blocks[0])])


def test_the_proof_of_another_blob_is_refused(store, blobs):
    cid, _ = _proof(store, blobs.data(CHUNK_SIZE + 1, seed=1))
    _, other = _proof(store, blobs.data(CHUNK_SIZE + 1, seed=2))
    with pytest.raises(CidMismatchError, match="the root"):
        verify_header_proof(cid.digest, cid.codec, other)


def test_a_path_down_a_later_link_is_refused(store, blobs):
    data = blobs.data(CHUNK_SIZE * 2)
    cid, blocks = _proof(store, data)
    second_leaf = data[CHUNK_SIZE:]
    with pytest.raises(CidMismatchError, match="first link of block 0"):
        verify_header_proof(cid.digest, cid.codec, [blocks[0], second_leaf])


def test_a_path_that_stops_before_the_leaf_is_refused(store, blobs):
    cid, blocks = _proof(store, blobs.data(CHUNK_SIZE + 1))
    with pytest.raises(HeaderProofError, match="before reaching the first leaf"):
        verify_header_proof(cid.digest, cid.codec, blocks[:1])


def test_an_empty_proof_is_refused(blobs):
    with pytest.raises(HeaderProofError, match="holds no block"):
        verify_header_proof(hashlib.sha256(b"").digest(), CODEC_RAW, [])


def test_blocks_after_the_leaf_are_refused(store, blobs):
    cid, blocks = _proof(store, blobs.data(CHUNK_SIZE + 1))
    with pytest.raises(HeaderProofError, match="continues after its leaf"):
        verify_header_proof(cid.digest, cid.codec, [*blocks, blocks[-1]])


def test_a_proof_longer_than_the_bound_is_refused_before_hashing(blobs):
    with pytest.raises(HeaderProofError, match="5 blocks, at most 4"):
        verify_header_proof(bytes(32), CODEC_DAG_PB, [b"x"] * 5)


def test_a_block_larger_than_any_valid_block_is_refused(blobs):
    with pytest.raises(HeaderProofError, match="larger than any valid block"):
        verify_header_proof(bytes(32), CODEC_RAW, [bytes(MAX_BLOCK_SIZE + 1)])


def test_a_dag_pb_root_that_is_not_a_unixfs_file_node_is_refused():
    not_a_node = b"\xff\xff"
    with pytest.raises(MalformedDagError):
        verify_header_proof(hashlib.sha256(not_a_node).digest(), CODEC_DAG_PB, [not_a_node])


def test_a_codec_other_than_raw_or_dag_pb_is_refused():
    with pytest.raises(InvalidCidError, match="codec 0x71"):
        verify_header_proof(bytes(32), 0x71, [b"x"])


# --- block access ---------------------------------------------------------------------


def test_get_block_returns_a_blocks_verified_bytes(store, blobs):
    data = blobs.data(3 * KiB)
    cid = _put(store, data)
    assert store.get_block(cid) == data
    assert store.get_block(str(cid)) == data


def test_get_block_of_an_absent_block_is_not_found(store):
    with pytest.raises(BlobNotFoundError):
        store.get_block(Cid.for_block(b"never stored", CODEC_RAW))


def test_a_damaged_local_block_is_refused_by_get_block(local, blobs):
    cid = _put(local, blobs.data(KiB))
    path = local.block_path(cid)
    path.write_bytes(_flip(path.read_bytes()))
    with pytest.raises(CidMismatchError):
        local.get_block(cid)
