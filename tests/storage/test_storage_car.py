"""Many blobs in one CAR import (`dag/import`): the daemon stores and pins each under the very
CID `add` gives it, one-block and multi-block blobs alike."""

from __future__ import annotations

import random

import pytest

from medledger.storage import KuboStore
from medledger.storage.car import header, varint, write_car
from medledger.storage.cid import CHUNK_SIZE, Block, Cid, compute_cid

pytestmark = pytest.mark.ipfs


def test_varints_are_unsigned_leb128() -> None:
    assert [varint(n) for n in (0, 1, 127, 128, 300, 16384)] == [
        b"\x00",
        b"\x01",
        b"\x7f",
        b"\x80\x01",
        b"\xac\x02",
        b"\x80\x80\x01",
    ]


def test_the_header_is_the_canonical_dag_cbor_of_roots_and_version() -> None:
    cid = compute_cid(b"hello")
    raw = b"\x00" + cid.to_bytes()
    body = b"\xa2" + b"\x65roots" + b"\x81" + b"\xd8\x2a" + bytes([0x58, len(raw)]) + raw + b"\x67version\x01"

    assert header([cid]) == varint(len(body)) + body


def test_a_block_shared_by_two_blobs_is_written_once() -> None:
    block = Block(Cid.for_block(b"same", 0x55), b"same")

    car = write_car([block.cid], [block, block])

    assert car.count(b"same") == 1


def test_put_many_pins_every_blob_under_the_cid_add_gives_it(ipfs_daemon) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    blobs = [
        b"x",
        rng.randbytes(1024),
        rng.randbytes(CHUNK_SIZE),
        rng.randbytes(CHUNK_SIZE + 1),
        rng.randbytes(700_000),
    ]
    store = KuboStore(ipfs_daemon.api_url)
    try:
        cids = store.put_many(blobs)

        assert cids == [compute_cid(blob) for blob in blobs]
        assert all(store.is_pinned(cid) for cid in cids)
        assert [b"".join(store.get(cid)) for cid in cids] == blobs
    finally:
        for cid in cids:
            store.unpin(cid)
        store.close()


def test_put_many_splits_a_large_batch_into_several_imports(ipfs_daemon) -> None:  # type: ignore[no-untyped-def]
    blobs = [random.Random(i).randbytes(5000) for i in range(6)]
    store = KuboStore(ipfs_daemon.api_url)
    try:
        cids = store.put_many(blobs, max_car_bytes=12_000)

        assert all(store.is_pinned(cid) for cid in cids)
    finally:
        for cid in cids:
            store.unpin(cid)
        store.close()
