"""The embedded block store: IPFS-compatible blocks on disk, verified reads, real erasure."""

from __future__ import annotations

import io
import tracemalloc

import pytest

from medledger.storage import (
    CHUNK_SIZE,
    BlobNotFoundError,
    BlobStore,
    Cid,
    CidMismatchError,
    InvalidCidError,
    LocalBlockStore,
    compute_cid,
)

KiB = 1024
MiB = 1024 * KiB


def _block_files(store: LocalBlockStore) -> set[str]:
    return {p.name for p in (store.root / "blocks").glob("*/*")}


def test_local_store_implements_the_blob_store_protocol(local):
    assert isinstance(local, BlobStore)


@pytest.mark.parametrize("size", [0, 1, MiB, 50 * MiB], ids=["0B", "1B", "1MiB", "50MiB"])
def test_round_trip_returns_identical_bytes_streamed_in_chunks(local, blobs, size):
    cid = local.put(blobs.stream(size, seed=size))
    digest, total, largest = blobs.drain(local.get(cid))
    assert (digest, total) == (blobs.sha256(size, seed=size), size)
    assert largest <= CHUNK_SIZE


def test_put_returns_the_kubo_compatible_cid(local, blobs):
    data = blobs.data(3 * CHUNK_SIZE + 5)
    assert local.put(io.BytesIO(data)) == compute_cid(data)


def test_put_keeps_memory_bounded_whatever_the_blob_size(local, blobs):
    tracemalloc.start()
    try:
        local.put(blobs.stream(24 * MiB, seed=7))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * MiB


def test_get_accepts_a_cid_string(local):
    cid = local.put(io.BytesIO(b"record"))
    assert b"".join(local.get(str(cid))) == b"record"


def test_tampered_block_on_disk_raises_cid_mismatch(local, blobs):
    cid = local.put(blobs.stream(2 * CHUNK_SIZE + 1))
    leaf = next(p for p in (local.root / "blocks").glob("*/bafkrei*"))
    data = bytearray(leaf.read_bytes())
    data[0] ^= 0xFF
    leaf.write_bytes(bytes(data))
    with pytest.raises(CidMismatchError):
        b"".join(local.get(cid))


def test_tampered_block_is_never_yielded(local, blobs):
    cid = local.put(blobs.stream(3 * CHUNK_SIZE))
    leaves = sorted((local.root / "blocks").glob("*/bafkrei*"))
    # Corrupt whichever leaf is read second; the first must come out, nothing after it.
    order = []
    original = local._read_block

    def spy(block_cid):
        order.append(block_cid)
        return original(block_cid)

    local._read_block = spy  # type: ignore[method-assign]
    list(local.get(cid))
    second = local.block_path(order[2])
    assert second in leaves
    second.write_bytes(b"forged" + second.read_bytes()[6:])
    received = []
    with pytest.raises(CidMismatchError):
        for chunk in local.get(cid):
            received.append(chunk)
    assert len(received) == 1


def test_get_of_unknown_cid_raises_blob_not_found(local):
    with pytest.raises(BlobNotFoundError):
        local.get(compute_cid(b"never stored"))


def test_get_of_invalid_cid_string_raises_invalid_cid(local):
    with pytest.raises(InvalidCidError):
        local.get("not-a-cid")


def test_put_pins_and_has_reports_presence(local):
    cid = local.put(io.BytesIO(b"x"))
    assert local.has(cid) and local.is_pinned(cid)
    assert not local.has(compute_cid(b"y"))


def test_unpin_with_gc_removes_the_blob_from_disk(local, blobs):
    cid = local.put(blobs.stream(3 * CHUNK_SIZE + 1))
    assert len(_block_files(local)) == 5
    local.unpin(cid)
    assert not local.has(cid)
    assert _block_files(local) == set()


def test_gc_keeps_blocks_shared_with_another_pin(local):
    shared = b"s" * CHUNK_SIZE
    first = local.put(io.BytesIO(shared + b"a"))
    second = local.put(io.BytesIO(shared + b"b"))
    local.unpin(first)
    assert not local.has(first)
    assert b"".join(local.get(second)) == shared + b"b"


def test_gc_without_auto_gc_waits_for_an_explicit_collection(tmp_path):
    store = LocalBlockStore(tmp_path / "s", auto_gc=False)
    cid = store.put(io.BytesIO(b"z"))
    store.unpin(cid)
    assert store.has(cid)
    assert store.gc() == 1
    assert not store.has(cid)


def test_unpin_of_an_unpinned_cid_is_a_no_op(local):
    local.unpin(compute_cid(b"never stored"))


def test_pin_of_an_absent_blob_raises_blob_not_found(local):
    with pytest.raises(BlobNotFoundError):
        local.pin(compute_cid(b"never stored"))


def test_pinning_twice_then_unpinning_once_removes_the_pin(local):
    cid = local.put(io.BytesIO(b"p"))
    local.pin(cid)
    local.unpin(cid)
    assert not local.is_pinned(cid)


def test_a_damaged_block_is_rewritten_by_the_next_put(local):
    cid = local.put(io.BytesIO(b"heal me"))
    local.block_path(cid).write_bytes(b"rotten")
    local.put(io.BytesIO(b"heal me"))
    assert b"".join(local.get(cid)) == b"heal me"


def test_writes_leave_no_temporary_files(local, blobs):
    local.put(blobs.stream(2 * CHUNK_SIZE))
    assert list((local.root / "tmp").iterdir()) == []


def test_a_cidv0_names_the_same_blocks_as_its_cidv1(local, blobs):
    cid = local.put(blobs.stream(CHUNK_SIZE + 1))
    v0 = Cid(0, cid.codec, cid.digest)
    assert local.has(v0)
    assert b"".join(local.get(v0)) == blobs.data(CHUNK_SIZE + 1)
