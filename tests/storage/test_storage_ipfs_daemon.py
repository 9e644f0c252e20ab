"""Against a real js-ipfs daemon: same CIDs as the embedded store, verified streaming reads."""

from __future__ import annotations

import io
import time

import httpx
import pytest

from medledger.storage import (
    CHUNK_SIZE,
    MAX_LINKS,
    BlobNotFoundError,
    CidMismatchError,
    KuboStore,
    StorageTimeoutError,
    compute_cid,
)

pytestmark = pytest.mark.ipfs

KiB = 1024
MiB = 1024 * KiB

CID_SIZES = {
    "0B": 0,
    "1B": 1,
    "256KiB": CHUNK_SIZE,
    "256KiB+1": CHUNK_SIZE + 1,
    "5MiB": 5 * MiB,
    "175chunks-two-levels": MAX_LINKS * CHUNK_SIZE + 1,
}


@pytest.mark.parametrize("size", CID_SIZES.values(), ids=CID_SIZES.keys())
def test_embedded_store_cid_equals_the_daemons(kubo, local, blobs, size):
    from_daemon = kubo.put(blobs.stream(size, seed=size))  # put itself checks node == local
    assert local.put(blobs.stream(size, seed=size)) == from_daemon
    assert str(from_daemon).startswith("bafkrei" if size <= CHUNK_SIZE else "bafybei")


@pytest.mark.parametrize("size", [0, 1, MiB, 50 * MiB], ids=["0B", "1B", "1MiB", "50MiB"])
def test_round_trip_through_the_daemon_returns_identical_bytes_streamed(kubo, blobs, size):
    cid = kubo.put(blobs.stream(size, seed=size + 1))
    digest, total, largest = blobs.drain(kubo.get(cid))
    assert (digest, total) == (blobs.sha256(size, seed=size + 1), size)
    assert largest <= CHUNK_SIZE


def test_absent_cid_fails_within_the_configured_timeout_instead_of_hanging(kubo):
    absent = compute_cid(b"nobody ever stored this")
    started = time.monotonic()
    with pytest.raises((BlobNotFoundError, StorageTimeoutError)):
        b"".join(kubo.get(absent))
    assert time.monotonic() - started < kubo.block_timeout + 3


def test_has_is_false_for_an_absent_cid_within_the_configured_timeout(kubo):
    started = time.monotonic()
    assert not kubo.has(compute_cid(b"also never stored"))
    assert time.monotonic() - started < kubo.has_timeout + 3


def test_put_pins_and_has_is_true(kubo):
    cid = kubo.put(io.BytesIO(b"pinned on put"))
    assert kubo.has(cid) and kubo.is_pinned(cid)


def test_unpin_then_pin_again_restores_the_pin(kubo):
    cid = kubo.put(io.BytesIO(b"pin me twice"))
    kubo.unpin(cid)
    assert not kubo.is_pinned(cid)
    kubo.pin(cid)
    assert kubo.is_pinned(cid)


def test_unpin_of_an_unpinned_cid_is_a_no_op(kubo):
    kubo.unpin(compute_cid(b"never pinned"))


def test_pin_of_an_absent_cid_raises_blob_not_found(kubo):
    with pytest.raises(BlobNotFoundError):
        kubo.pin(compute_cid(b"not on this node"))


def test_unpin_and_gc_remove_the_blob_from_the_daemon(kubo, blobs):
    cid = kubo.put(blobs.stream(CHUNK_SIZE + 1, seed=99))
    kubo.unpin(cid)
    kubo.gc()
    assert not kubo.has(cid)


def test_embedded_blob_read_back_through_the_daemon_verifies(kubo, local, blobs):
    data = blobs.data(2 * CHUNK_SIZE + 3, seed=5)
    cid = local.put(io.BytesIO(data))
    assert kubo.put(io.BytesIO(data)) == cid
    assert b"".join(kubo.get(cid)) == data


def test_daemon_identity_answers(kubo):
    assert "ID" in kubo.id()


def test_a_lying_proxy_in_front_of_the_daemon_is_caught_before_the_bad_leaf(ipfs_daemon, blobs):
    data = b"".join(bytes([i]) * CHUNK_SIZE for i in range(3))
    honest = KuboStore(ipfs_daemon.api_url)
    cid = honest.put(io.BytesIO(data))
    victim = str(compute_cid(data[CHUNK_SIZE : 2 * CHUNK_SIZE]))
    upstream = httpx.HTTPTransport()

    def lie(request: httpx.Request) -> httpx.Response:
        real = upstream.handle_request(request)
        body = real.read()
        if request.url.path.endswith("/block/get") and request.url.params["arg"] == victim:
            body = b"X" + body[1:]
        return httpx.Response(real.status_code, headers=real.headers, content=body)

    received: list[bytes] = []
    with KuboStore(ipfs_daemon.api_url, transport=httpx.MockTransport(lie)) as liar, pytest.raises(CidMismatchError):
        for chunk in liar.get(cid):
            received.append(chunk)
    honest.close()
    assert received == [data[:CHUNK_SIZE]]
