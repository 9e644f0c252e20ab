"""The Kubo RPC client trusts no node: answers are checked against locally computed CIDs."""

from __future__ import annotations

import io
import json

import httpx
import pytest

from medledger.devnet.ports import free_loopback_port
from medledger.storage import (
    CHUNK_SIZE,
    BlobNotFoundError,
    BlobStore,
    Block,
    CidMismatchError,
    KuboStore,
    LocalBlockStore,
    StorageTimeoutError,
    StorageUnavailableError,
    compute_cid,
)


def _serving(blocks: dict[str, bytes], *, forge: str | None = None, add_hash: str | None = None):
    """A fake node: block/get serves `blocks`, except `forge` which gets other bytes."""

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v0/")
        if path == "block/get":
            arg = request.url.params["arg"]
            if arg not in blocks:
                return httpx.Response(500, json={"Message": "request timed out", "Code": 0, "Type": "error"})
            data = blocks[arg]
            return httpx.Response(200, content=b"forged" + data[6:] if arg == forge else data)
        if path == "add":
            request.read()
            return httpx.Response(200, text=json.dumps({"Name": "blob", "Hash": add_hash, "Size": 1}) + "\n")
        return httpx.Response(404, text="404 page not found")

    return httpx.MockTransport(handler)


def _blocks_of(data: bytes) -> tuple[str, dict[str, bytes], list[str]]:
    collected: list[Block] = []
    root = compute_cid(data, on_block=collected.append)
    return str(root), {str(b.cid): b.data for b in collected}, [str(b.cid) for b in collected]


def test_kubo_store_implements_the_blob_store_protocol():
    with KuboStore("http://127.0.0.1:1") as store:
        assert isinstance(store, BlobStore)


def test_node_returning_wrong_bytes_for_a_single_block_blob_raises_cid_mismatch():
    root, blocks, _ = _blocks_of(b"the real record")
    with (
        KuboStore(transport=_serving(blocks, forge=root)) as store,
        pytest.raises(CidMismatchError),
    ):
        b"".join(store.get(root))


def test_node_lying_about_one_leaf_fails_before_that_leaf_is_yielded():
    data = b"".join(bytes([i]) * CHUNK_SIZE for i in range(3))  # three distinct leaves
    root, blocks, order = _blocks_of(data)
    second_leaf = order[1]
    received: list[bytes] = []
    with KuboStore(transport=_serving(blocks, forge=second_leaf)) as store, pytest.raises(CidMismatchError):
        for chunk in store.get(root):
            received.append(chunk)
    assert received == [data[:CHUNK_SIZE]]


def test_node_reporting_a_different_cid_for_an_upload_raises_cid_mismatch():
    liar = str(compute_cid(b"something else"))
    with KuboStore(transport=_serving({}, add_hash=liar)) as store, pytest.raises(CidMismatchError, match=liar):
        store.put(io.BytesIO(b"my record"))


def test_upload_is_accepted_when_the_node_agrees_on_the_cid():
    expected = str(compute_cid(b"my record"))
    with KuboStore(transport=_serving({}, add_hash=expected)) as store:
        assert str(store.put(io.BytesIO(b"my record"))) == expected


def test_upload_is_multipart_with_a_content_type_and_kubo_cid_options():
    seen: dict[str, object] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["params"] = dict(request.url.params)
        seen["body"] = request.read()
        seen["type"] = request.headers["content-type"]
        return httpx.Response(200, json={"Hash": str(compute_cid(b"abc"))})

    with KuboStore(transport=httpx.MockTransport(handler)) as store:
        store.put(io.BytesIO(b"abc"))
    assert seen["type"].startswith("multipart/form-data; boundary=")  # type: ignore[union-attr]
    assert b"Content-Type: application/octet-stream\r\n\r\nabc\r\n" in seen["body"]  # type: ignore[operator]
    params = seen["params"]
    assert params["cid-version"] == "1" and params["raw-leaves"] == "true"  # type: ignore[index]
    assert params["cid-base"] == "base32" and params["pin"] == "true"  # type: ignore[index]


def test_node_answering_timed_out_for_a_block_raises_blob_not_found():
    with KuboStore(transport=_serving({})) as store, pytest.raises(BlobNotFoundError):
        store.get(compute_cid(b"absent"))


def test_client_side_timeout_raises_storage_timeout():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with (
        KuboStore(transport=httpx.MockTransport(handler)) as store,
        pytest.raises(StorageTimeoutError),
    ):
        store.get(compute_cid(b"x"))


def test_down_daemon_raises_storage_unavailable_naming_the_url():
    url = f"http://127.0.0.1:{free_loopback_port()}"
    with KuboStore(url, retries=1, backoff=0.01) as store, pytest.raises(StorageUnavailableError, match=url) as caught:
        store.has(compute_cid(b"x"))
    assert "daemon" in str(caught.value) and caught.value.url == url


def test_down_daemon_on_upload_raises_storage_unavailable():
    url = f"http://127.0.0.1:{free_loopback_port()}"
    with KuboStore(url, retries=0) as store, pytest.raises(StorageUnavailableError, match=url):
        store.put(io.BytesIO(b"x"))


def test_connection_errors_are_retried_a_bounded_number_of_times():
    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request.url.path)
        raise httpx.ConnectError("refused", request=request)

    with (
        KuboStore(transport=httpx.MockTransport(handler), retries=2, backoff=0.001) as store,
        pytest.raises(StorageUnavailableError),
    ):
        store.has(compute_cid(b"x"))
    assert len(attempts) == 3


def test_a_connection_that_recovers_within_the_retries_succeeds():
    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) < 2:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"Key": "x", "Size": 1})

    with KuboStore(transport=httpx.MockTransport(handler), retries=2, backoff=0.001) as store:
        assert store.has(compute_cid(b"x"))


def test_node_errors_other_than_absence_are_not_retried():
    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        return httpx.Response(500, json={"Message": "disk full", "Code": 0, "Type": "error"})

    with (
        KuboStore(transport=httpx.MockTransport(handler)) as store,
        pytest.raises(Exception, match="disk full"),
    ):
        store.pin(compute_cid(b"x"))
    assert len(attempts) == 1


def test_reads_from_a_fake_node_match_the_local_store(tmp_path):
    data = bytes(range(256)) * (2 * CHUNK_SIZE // 256) + b"tail"
    local = LocalBlockStore(tmp_path / "s")
    root = local.put(io.BytesIO(data))
    _, blocks, _ = _blocks_of(data)
    with KuboStore(transport=_serving(blocks)) as store:
        assert b"".join(store.get(root)) == b"".join(local.get(root)) == data
