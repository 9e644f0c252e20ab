"""ReplicatedStore on three real js-ipfs daemons (and the embedded store): r pinned copies,
reads that fall back past stores that are down, lack the blob or lie, trustless gateway reads,
audit, repair and erasure."""

from __future__ import annotations

import contextlib
import io
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from medledger.devnet.ipfs import IpfsDaemons
from medledger.devnet.ports import free_loopback_port
from medledger.storage import (
    BlobNotFoundError,
    KuboStore,
    LocalBlockStore,
    ReplicatedStore,
    ReplicationError,
    StorageUnavailableError,
    TrustlessGateway,
    compute_cid,
)
from medledger.storage.replicated import (
    COMPLETE,
    CORRUPT,
    ERASED,
    GONE,
    HEALTHY,
    MISSING,
    UNDER_REPLICATED,
    UNREACHABLE,
    Member,
)

pytestmark = [pytest.mark.ipfs]

KiB = 1024
# Bytes the lying proxy rewrites: 0xAA never occurs in HTTP headers, chunk sizes or JSON.
MARK, FLIPPED = 0xAA, 0xAB


@pytest.fixture(scope="module")
def daemons(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IpfsDaemons]:
    """Three real js-ipfs daemons on loopback for this module, stopped by process group."""
    with IpfsDaemons(3, tmp_path_factory.mktemp("replicas")) as started:
        yield started


def kubo(url: str) -> KuboStore:
    return KuboStore(url, block_timeout=1.0, has_timeout=0.5, pin_timeout=2.0, retries=0)


@pytest.fixture
def stores(daemons: IpfsDaemons) -> Iterator[list[KuboStore]]:
    opened = [kubo(daemon.api_url) for daemon in daemons]
    yield opened
    for store in opened:
        store.close()


def replicated(stores: list[KuboStore], r: int, **options) -> ReplicatedStore:  # type: ignore[no-untyped-def]
    return ReplicatedStore(tuple(Member(f"node-{i}", s) for i, s in enumerate(stores)), r, **options)


def blob(size: int, seed: int) -> bytes:
    """`size` bytes unique to `seed`, so no test finds another test's blocks."""
    import random

    return random.Random(seed).randbytes(size)


def marked(size: int, seed: int) -> bytes:
    """Unique bytes full of MARK, for the lying proxy to corrupt."""
    return seed.to_bytes(8, "big") + bytes([MARK]) * (size - 8)


def closed_port_url() -> str:
    """A loopback URL nothing listens on: a store that is down."""
    return f"http://127.0.0.1:{free_loopback_port()}"


class LyingProxy:
    """A TCP proxy in front of a real daemon that flips every MARK byte the daemon sends back:
    a real network fault, not a fake server."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stopped = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, flip: bool) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data.replace(bytes([MARK]), bytes([FLIPPED])) if flip else data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stopped = True
        self.listener.close()


# -- put ----------------------------------------------------------------------------------------


def test_put_pins_on_r_stores_in_order_and_reports_which(stores: list[KuboStore]) -> None:
    store = replicated(stores, 2)
    data = blob(3 * KiB, 1)

    report = store.put_copies(io.BytesIO(data))

    assert report.holders == ("node-0", "node-1")
    assert stores[0].is_pinned(report.cid) and stores[1].is_pinned(report.cid)
    assert report.cid.digest not in stores[2].local_blocks()


def test_put_skips_a_store_that_is_down_and_still_makes_r_copies(stores: list[KuboStore]) -> None:
    down = Member("down", kubo(closed_port_url()))
    store = ReplicatedStore((down, Member("node-1", stores[1]), Member("node-2", stores[2])), 2)

    report = store.put_copies(io.BytesIO(blob(2 * KiB, 2)))

    assert report.holders == ("node-1", "node-2")
    assert [name for name, _ in report.failures] == ["down"]
    assert "unreachable" in report.failures[0][1]


def test_put_with_fewer_reachable_stores_than_r_fails_naming_each_store(stores: list[KuboStore]) -> None:
    down = [Member(f"down-{i}", kubo(closed_port_url())) for i in range(2)]
    store = ReplicatedStore((Member("node-0", stores[0]), *down), 2)

    with pytest.raises(ReplicationError, match=r"pinned on 1 of the 2 stores required \(node-0\).*down-0.*down-1"):
        store.put(io.BytesIO(blob(KiB, 3)))


def test_a_resumed_put_copies_only_to_the_stores_not_yet_holding_it(stores: list[KuboStore]) -> None:
    data = blob(2 * KiB, 4)
    stores[0].put(io.BytesIO(data))
    copies: list[str] = []

    report = replicated(stores, 2).put_copies(
        io.BytesIO(data), holders=["node-0"], on_copy=lambda name, cid: copies.append(name)
    )

    assert copies == ["node-1"] and report.holders == ("node-0", "node-1")


# -- reads --------------------------------------------------------------------------------------


def test_get_falls_back_past_a_store_that_is_down(stores: list[KuboStore]) -> None:
    data = blob(600 * KiB, 5)  # three blocks and a root
    cid = stores[1].put(io.BytesIO(data))
    store = ReplicatedStore((Member("down", kubo(closed_port_url())), Member("node-1", stores[1])), 1)

    assert b"".join(store.get(cid)) == data


def test_get_falls_back_past_a_store_that_lacks_the_blob(stores: list[KuboStore]) -> None:
    data = blob(2 * KiB, 6)
    cid = stores[2].put(io.BytesIO(data))

    assert b"".join(replicated(stores, 1).get(cid)) == data


def test_get_when_no_store_answers_names_every_store_tried(stores: list[KuboStore]) -> None:
    cid = stores[0].put(io.BytesIO(blob(KiB, 7)))
    down = [Member(f"down-{i}", kubo(closed_port_url())) for i in range(2)]

    with pytest.raises(StorageUnavailableError, match=r"any of the 2 stores and gateways tried: down-0 .*down-1 "):
        ReplicatedStore(tuple(down), 1).get(cid)


def test_get_of_a_blob_no_store_has_is_not_found_naming_every_store(stores: list[KuboStore]) -> None:
    missing = compute_cid(io.BytesIO(b"a blob no test ever stores"))

    with pytest.raises(BlobNotFoundError) as failed:
        replicated(stores, 1).get(missing)

    message = str(failed.value)
    assert all(f"node-{i} (" in message for i in range(3)) and "does not have it" in message


def test_a_daemon_serving_a_wrong_block_is_skipped_and_named(daemons: IpfsDaemons, stores: list[KuboStore]) -> None:
    data = marked(4 * KiB, 8)
    cid = stores[0].put(io.BytesIO(data))
    stores[1].put(io.BytesIO(data))
    proxy = LyingProxy(daemons[0].api_port)  # type: ignore[arg-type]
    try:
        liar = kubo(proxy.url)
        store = ReplicatedStore((Member("liar", liar), Member("honest", stores[1])), 1)

        assert b"".join(store.get(cid)) == data

        [incident] = store.incidents
        assert incident.source.startswith("liar (") and "wrong block" in incident.reason
        liar.close()
    finally:
        proxy.close()


def test_a_lying_daemon_alone_yields_not_one_byte(daemons: IpfsDaemons, stores: list[KuboStore]) -> None:
    cid = stores[0].put(io.BytesIO(marked(2 * KiB, 9)))
    proxy = LyingProxy(daemons[0].api_port)  # type: ignore[arg-type]
    try:
        store = ReplicatedStore((Member("liar", kubo(proxy.url)),), 1)
        with pytest.raises(BlobNotFoundError, match=r"liar .*served a wrong block"):
            store.get(cid)
    finally:
        proxy.close()


# -- trustless gateway --------------------------------------------------------------------------


def test_a_single_block_blob_no_store_holds_is_read_from_a_gateway_and_verified(
    daemons: IpfsDaemons, stores: list[KuboStore]
) -> None:
    data = blob(5 * KiB, 10)  # one raw block: js-ipfs's gateway answers with exactly its bytes
    cid = stores[2].put(io.BytesIO(data))
    store = ReplicatedStore((Member("node-0", stores[0]),), 1, gateways=(TrustlessGateway(daemons[2].gateway_url),))

    assert b"".join(store.get(cid)) == data


def test_a_gateway_answering_with_file_content_instead_of_raw_blocks_is_refused(
    daemons: IpfsDaemons, stores: list[KuboStore]
) -> None:
    """js-ipfs 0.66's gateway ignores `?format=raw`: for a dag-pb root it sends the file's bytes,
    which do not hash to the root's CID."""
    cid = stores[2].put(io.BytesIO(blob(300 * KiB, 11)))
    gateway = TrustlessGateway(daemons[2].gateway_url)

    store = ReplicatedStore((Member("node-0", stores[0]),), 1, gateways=(gateway,))
    with pytest.raises(BlobNotFoundError, match=r"gateway http://127\.0\.0\.1:\d+: .*do not match it"):
        store.get(cid)


# -- audit and repair ---------------------------------------------------------------------------


def test_audit_counts_copies_pinned_whole_on_each_store(stores: list[KuboStore]) -> None:
    store = replicated(stores, 2)
    cid = store.put(io.BytesIO(blob(300 * KiB, 12)))

    audit = store.audit(cid, store.inventories())

    assert audit.status == HEALTHY
    assert [c.state for c in audit.copies] == [COMPLETE, COMPLETE, MISSING]


def test_a_copy_garbage_collected_on_one_node_is_found_by_audit_and_restored_by_repair(
    stores: list[KuboStore],
) -> None:
    store = replicated(stores, 2)
    data = blob(600 * KiB, 13)
    cid = store.put(io.BytesIO(data))
    stores[0].unpin(cid)
    stores[0].gc()

    found = store.audit(cid, store.inventories())
    assert found.status == UNDER_REPLICATED and found.complete_on == ("node-1",)

    repaired = store.repair(cid, store.inventories())

    assert repaired.repaired == ("node-0",) and repaired.status == HEALTHY
    assert stores[0].is_pinned(cid)
    assert b"".join(stores[0].get(cid)) == data  # read from node-0 alone, every block verified
    assert store.audit(cid, store.inventories()).status == HEALTHY


def test_audit_marks_a_copy_served_wrong_as_corrupt_not_as_a_copy(
    daemons: IpfsDaemons, stores: list[KuboStore]
) -> None:
    data = marked(4 * KiB, 14)
    stores[0].put(io.BytesIO(data))
    proxy = LyingProxy(daemons[0].api_port)  # type: ignore[arg-type]
    try:
        store = ReplicatedStore((Member("liar", kubo(proxy.url)), Member("node-1", stores[1])), 1)
        cid = stores[1].put(io.BytesIO(data))

        audit = store.audit(cid, store.inventories())

        assert [c.state for c in audit.copies] == [CORRUPT, COMPLETE]
        assert audit.complete_on == ("node-1",)
    finally:
        proxy.close()


def test_a_store_that_is_down_is_reported_unreachable_by_the_audit(stores: list[KuboStore]) -> None:
    cid = stores[0].put(io.BytesIO(blob(KiB, 15)))
    store = ReplicatedStore((Member("node-0", stores[0]), Member("down", kubo(closed_port_url()))), 2)

    audit = store.audit(cid, store.inventories())

    assert [c.state for c in audit.copies] == [COMPLETE, UNREACHABLE]
    assert audit.status == "unverified"


def test_repair_copies_between_a_daemon_and_the_embedded_store(stores: list[KuboStore], tmp_path: Path) -> None:
    embedded = LocalBlockStore(tmp_path / "blocks", fsync=False)
    data = blob(700 * KiB, 16)
    cid = stores[0].put(io.BytesIO(data))
    store = ReplicatedStore((Member("node-0", stores[0]), Member("embedded", embedded)), 2)

    assert store.repair(cid, store.inventories()).repaired == ("embedded",)
    assert embedded.is_pinned(cid) and b"".join(embedded.get(cid)) == data


# -- erasure ------------------------------------------------------------------------------------


def test_erase_leaves_no_store_serving_the_blocks(stores: list[KuboStore]) -> None:
    store = replicated(stores, 3)
    cid = store.put(io.BytesIO(blob(600 * KiB, 17)))

    outcomes = store.erase(cid)

    assert [(o.store, o.state) for o in outcomes] == [(f"node-{i}", GONE) for i in range(3)]
    for node in stores:
        assert cid.digest not in node.local_blocks()
    assert store.audit(cid, store.inventories(), erased=True).status == ERASED


def test_erase_reports_a_store_it_cannot_reach(stores: list[KuboStore]) -> None:
    cid = stores[0].put(io.BytesIO(blob(KiB, 18)))
    store = ReplicatedStore((Member("node-0", stores[0]), Member("down", kubo(closed_port_url()))), 1)

    outcomes = store.erase(cid)

    assert [(o.store, o.state) for o in outcomes] == [("node-0", GONE), ("down", UNREACHABLE)]
