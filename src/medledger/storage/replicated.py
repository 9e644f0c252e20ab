"""One BlobStore over several stores: r pinned copies, reads that fall back, audit and repair.

- `put` stores and pins the blob on stores in configured order until r of them hold it (a
  store that fails is reported and the next one tried); fewer than r: ReplicationError naming
  every store and what it answered. `put_copies` does the same one copy at a time, telling the
  caller after each (the publish journal records which stores hold a copy).
- `get` walks the blob's DAG from its root; each block comes from the first store that serves it
  intact, then from the trustless gateways. A store that is down, lacks the block or sends bytes
  that do not hash to its CID (a lying node) is skipped for the rest of the read and noted in
  `incidents`; if no source serves a block the error names every store tried and its answer.
- `erase` unpins on every store and asks each to collect garbage, then checks each store no
  longer holds the blob's root block.
- `audit` checks one blob on every store (pinned? every block present and intact?) against an
  `Inventory` taken once per store for a whole audit; `repair` copies a blob block by block
  (verified) from a store holding it whole to stores that do not, then pins it there.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from .base import BlobStore
from .blockstore import LocalBlockStore
from .cid import Cid, compute_cid
from .config import EMBEDDED, StorageConfig, StoreSpec
from .dag import iter_blocks, iter_file, verify_block
from .errors import (
    BlobNotFoundError,
    CidMismatchError,
    MalformedDagError,
    StorageError,
    StorageTimeoutError,
    StorageUnavailableError,
)
from .gateway import TrustlessGateway
from .kubo import KuboStore

# Copy states (per store, per blob) and blob statuses, as audits report them.
COMPLETE, UNPINNED, MISSING, PARTIAL, CORRUPT, UNREACHABLE, SERVED, GONE = (
    "complete",  # pinned, every block present and verified
    "unpinned",  # every block present and verified, but not pinned: the next gc drops it
    "missing",  # the root block is not there
    "partial",  # the root is there, some block is not
    "corrupt",  # some block does not hash to its CID
    "unreachable",  # the store did not answer
    "served",  # (erased blob) the store still holds the root block
    "gone",  # (erased blob) the store no longer holds it
)
MAX_INCIDENTS = 100
HEALTHY, UNDER_REPLICATED, LOST, ERASED, ERASED_SERVED, UNVERIFIED = (
    "healthy",
    "under-replicated",
    "missing",
    "erased",
    "erased-but-served",
    "unverified",  # not enough copies confirmed and some store did not answer
)


class ReplicaStore(BlobStore, Protocol):
    """What a member of a ReplicatedStore offers beyond BlobStore (KuboStore, LocalBlockStore)."""

    def is_pinned(self, cid: Cid | str) -> bool: ...

    def gc(self) -> int: ...

    def put_block(self, cid: Cid | str, data: bytes) -> None: ...

    def pinned_roots(self) -> set[bytes]: ...

    def local_blocks(self) -> set[bytes]: ...


class ReplicationError(StorageError):
    """Fewer than r stores hold a copy. `holders` hold one; `failures` say why the others do not."""

    def __init__(self, message: str, *, holders: Sequence[str] = (), failures: Sequence[tuple[str, str]] = ()):
        super().__init__(message)
        self.holders = tuple(holders)
        self.failures = tuple(failures)


@dataclass(frozen=True)
class Member:
    name: str
    store: ReplicaStore

    @property
    def location(self) -> str:
        if isinstance(self.store, KuboStore):
            return self.store.api_url
        if isinstance(self.store, LocalBlockStore):
            return str(self.store.root)
        return type(self.store).__name__

    @property
    def label(self) -> str:
        return f"{self.name} ({self.location})"


@dataclass(frozen=True)
class Incident:
    """A store or gateway skipped during a read, and why."""

    source: str
    cid: str
    reason: str


@dataclass(frozen=True)
class PutReport:
    cid: Cid
    holders: tuple[str, ...]
    failures: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class StoreErasure:
    store: str
    state: str  # GONE, SERVED or UNREACHABLE
    detail: str = ""


@dataclass
class Inventory:
    """One store's pinned roots and held blocks (sha-256 digests), taken once per audit; None
    fields mean the store did not answer (`error` says how)."""

    pinned: set[bytes] | None
    local: set[bytes] | None
    error: str | None = None

    @property
    def reachable(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class CopyState:
    store: str
    state: str
    detail: str = ""


@dataclass(frozen=True)
class BlobAudit:
    cid: str
    erased: bool
    required: int
    copies: tuple[CopyState, ...]
    repaired: tuple[str, ...] = ()  # stores a repair copied the blob to
    repair_failures: tuple[tuple[str, str], ...] = ()

    @property
    def complete_on(self) -> tuple[str, ...]:
        return tuple(copy.store for copy in self.copies if copy.state == COMPLETE)

    @property
    def status(self) -> str:
        states = [copy.state for copy in self.copies]
        if self.erased:
            if SERVED in states:
                return ERASED_SERVED
            return UNVERIFIED if UNREACHABLE in states else ERASED
        count = states.count(COMPLETE)
        if count >= self.required:
            return HEALTHY
        if UNREACHABLE in states:
            return UNVERIFIED
        return UNDER_REPLICATED if count else LOST


@dataclass
class ReplicatedStore:
    """A BlobStore over `members` keeping `replication` pinned copies, reading with fallback to
    `gateways` (see the module docstring)."""

    members: tuple[Member, ...]
    replication: int
    gateways: tuple[TrustlessGateway, ...] = ()
    incidents: list[Incident] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.members:
            raise StorageError("a replicated store needs at least one store")
        if not 1 <= self.replication <= len(self.members):
            raise StorageError(f"replication {self.replication} needs between 1 and {len(self.members)} stores")

    def note(self, incident: Incident) -> None:
        """Keep an incident (the last MAX_INCIDENTS: a long-running server must not grow)."""
        self.incidents.append(incident)
        del self.incidents[:-MAX_INCIDENTS]

    @classmethod
    def single(cls, store: ReplicaStore, name: str = "default") -> ReplicatedStore:
        return cls((Member(name, store),), 1)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(member.name for member in self.members)

    def member(self, name: str) -> Member:
        for member in self.members:
            if member.name == name:
                return member
        raise StorageError(f"no store named {name!r} is configured (configured: {', '.join(self.names)})")

    # -- BlobStore ----------------------------------------------------------------------
    def put(self, stream: BinaryIO) -> Cid:
        return self.put_copies(stream).cid

    def put_copies(
        self,
        stream: BinaryIO,
        *,
        holders: Sequence[str] = (),
        on_copy: Callable[[str, Cid], None] | None = None,
    ) -> PutReport:
        """Store and pin the stream's blob on stores in order (skipping `holders`, which already
        hold it) until `replication` stores hold it; `on_copy(name, cid)` after each new copy.
        Raises ReplicationError when fewer than r could."""
        held = [name for name in holders if name in self.names]
        failures: list[tuple[str, str]] = []
        cid: Cid | None = None
        with _replayable(stream) as blob:
            start = blob.tell()
            for member in self.members:
                if len(held) >= self.replication:
                    break
                if member.name in held:
                    continue
                blob.seek(start)
                try:
                    copy = member.store.put(blob)
                except StorageError as exc:
                    failures.append((member.name, str(exc)))
                    continue
                if cid is not None and copy != cid:  # pragma: no cover - CIDs are deterministic
                    failures.append((member.name, f"stored the blob as {copy}, not {cid}"))
                    continue
                cid = copy
                held.append(member.name)
                if on_copy is not None:
                    on_copy(member.name, copy)
            if cid is None and held:  # every copy was made before (a resumed publish)
                blob.seek(start)
                cid = compute_cid(blob)
        if len(held) < self.replication or cid is None:
            tried = "; ".join(f"{name}: {reason}" for name, reason in failures) or "no other store configured"
            raise ReplicationError(
                f"the blob is pinned on {len(held)} of the {self.replication} stores required"
                + (f" ({', '.join(held)})" if held else "")
                + f"; {tried}",
                holders=held,
                failures=failures,
            )
        return PutReport(cid, tuple(held), tuple(failures))

    def get(self, cid: Cid | str) -> Iterator[bytes]:
        root = Cid.coerce(cid)
        read = _FallbackRead(self, root)
        first = read.block(root)  # fail at the call if no source has the root
        return iter_file(root, lambda block_cid: first if block_cid == root else read.block(block_cid))

    def get_block(self, cid: Cid | str) -> bytes:
        block_cid = Cid.coerce(cid)
        return _FallbackRead(self, block_cid).block(block_cid)

    def pin(self, cid: Cid | str) -> None:
        """Make sure r stores hold the blob pinned, copying it where needed (see `repair`)."""
        root = Cid.coerce(cid)
        inventories = self.inventories()
        audit = self.repair(root, inventories)
        if len(audit.complete_on) < self.replication:
            raise ReplicationError(
                f"cannot pin {root} on {self.replication} stores: it is whole on {len(audit.complete_on)} "
                f"({_states(audit.copies)})",
                holders=audit.complete_on,
                failures=audit.repair_failures,
            )

    def unpin(self, cid: Cid | str) -> None:
        self.unpin_on(self.names, cid)

    def unpin_on(self, names: Sequence[str], cid: Cid | str) -> None:
        """Unpin on each named store; every store is tried, then the failures are raised together."""
        root = Cid.coerce(cid)
        failures = []
        for member in self.members:
            if member.name not in names:
                continue
            try:
                member.store.unpin(root)
            except StorageError as exc:
                failures.append(f"{member.name}: {exc}")
        if failures:
            raise StorageError(f"could not unpin {root} on every store: " + "; ".join(failures))

    def has(self, cid: Cid | str) -> bool:
        root = Cid.coerce(cid)
        for member in self.members:
            with contextlib.suppress(StorageError):
                if member.store.has(root):
                    return True
        return False

    def close(self) -> None:
        for member in self.members:
            member.store.close()
        for gateway in self.gateways:
            gateway.close()

    def __enter__(self) -> ReplicatedStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- erasure ------------------------------------------------------------------------
    def erase(self, cid: Cid | str) -> tuple[StoreErasure, ...]:
        """Unpin on every store, collect garbage there, and say per store whether the blob's
        root block is gone, still served, or the store could not be asked."""
        root = Cid.coerce(cid)
        outcomes = []
        for member in self.members:
            try:
                member.store.unpin(root)
                if not (isinstance(member.store, LocalBlockStore) and member.store.auto_gc):
                    member.store.gc()
                held = root.digest in member.store.local_blocks()
            except (StorageUnavailableError, StorageTimeoutError) as exc:
                outcomes.append(StoreErasure(member.name, UNREACHABLE, str(exc)))
                continue
            except StorageError as exc:
                outcomes.append(StoreErasure(member.name, SERVED, f"garbage collection failed: {exc}"))
                continue
            if held:
                outcomes.append(StoreErasure(member.name, SERVED, "the node kept the blocks after unpin and gc"))
            else:
                outcomes.append(StoreErasure(member.name, GONE))
        return tuple(outcomes)

    # -- audit and repair ---------------------------------------------------------------
    def inventories(self) -> dict[str, Inventory]:
        """Each store's pinned roots and held blocks, asked once."""
        result = {}
        for member in self.members:
            try:
                result[member.name] = Inventory(member.store.pinned_roots(), member.store.local_blocks())
            except StorageError as exc:
                result[member.name] = Inventory(None, None, str(exc))
        return result

    def audit(self, cid: Cid | str, inventories: dict[str, Inventory], *, erased: bool = False) -> BlobAudit:
        root = Cid.coerce(cid)
        copies = tuple(self._copy_state(member, root, inventories[member.name], erased) for member in self.members)
        return BlobAudit(str(root), erased, self.replication, copies)

    def repair(self, cid: Cid | str, inventories: dict[str, Inventory]) -> BlobAudit:
        """Audit, then copy the blob from a store holding it whole to the next stores lacking it
        until r hold it (each block verified on the way, the copy re-verified after pinning)."""
        root = Cid.coerce(cid)
        audit = self.audit(root, inventories)
        if audit.status == HEALTHY or not audit.complete_on:
            return audit
        source = self.member(audit.complete_on[0])
        states = {copy.store: copy for copy in audit.copies}
        repaired: list[str] = []
        failures: list[tuple[str, str]] = []
        have = len(audit.complete_on)
        for member in self.members:
            if have >= self.replication:
                break
            state = states[member.name].state
            if state in (COMPLETE, UNREACHABLE):
                continue
            inventory = inventories[member.name]
            try:
                if state != UNPINNED:
                    local = inventory.local if inventory.local is not None else set()
                    for block_cid, data in iter_blocks(root, source.store.get_block):
                        if block_cid.digest not in local or state == CORRUPT:
                            member.store.put_block(block_cid, data)
                            local.add(block_cid.digest)
                member.store.pin(root)
                if inventory.pinned is not None:
                    inventory.pinned.add(root.digest)
                verified = self._copy_state(member, root, inventory, False)
            except StorageError as exc:
                failures.append((member.name, str(exc)))
                continue
            states[member.name] = verified
            if verified.state == COMPLETE:
                repaired.append(member.name)
                have += 1
            else:
                failures.append((member.name, f"still {verified.state} after the copy: {verified.detail}"))
        copies = tuple(states[member.name] for member in self.members)
        return BlobAudit(str(root), False, self.replication, copies, tuple(repaired), tuple(failures))

    def _copy_state(self, member: Member, root: Cid, inventory: Inventory, erased: bool) -> CopyState:
        if not inventory.reachable or inventory.local is None or inventory.pinned is None:
            return CopyState(member.name, UNREACHABLE, inventory.error or "")
        if erased:
            return CopyState(member.name, SERVED if root.digest in inventory.local else GONE)
        if root.digest not in inventory.local:
            return CopyState(member.name, MISSING)
        local = inventory.local

        def fetch(block_cid: Cid) -> bytes:
            if block_cid.digest not in local:  # never wait for a node to look for a block it lacks
                raise BlobNotFoundError(f"block {block_cid} is not on {member.name}", cid=str(block_cid))
            return member.store.get_block(block_cid)

        try:
            for _ in iter_blocks(root, fetch):
                pass
        except BlobNotFoundError as exc:
            return CopyState(member.name, PARTIAL, str(exc))
        except CidMismatchError as exc:
            return CopyState(member.name, CORRUPT, str(exc))
        except (StorageUnavailableError, StorageTimeoutError) as exc:
            return CopyState(member.name, UNREACHABLE, str(exc))
        except MalformedDagError as exc:
            return CopyState(member.name, CORRUPT, str(exc))
        if root.digest not in inventory.pinned:
            return CopyState(member.name, UNPINNED, "every block is there but nothing pins it")
        return CopyState(member.name, COMPLETE)


def open_replicated(config: StorageConfig) -> ReplicatedStore:
    """The stores and gateways a configuration names, with its replication factor."""
    members = tuple(Member(spec.name, _open(spec)) for spec in config.stores)
    gateways = tuple(
        TrustlessGateway(g.url, headers=g.credentials.headers, auth=g.credentials.basic) for g in config.gateways
    )
    return ReplicatedStore(members, config.replication, gateways)


def _open(spec: StoreSpec) -> ReplicaStore:
    if spec.kind == EMBEDDED:
        assert spec.path is not None
        return LocalBlockStore(spec.path)
    assert spec.url is not None
    block_timeout = spec.timeout or 10.0
    return KuboStore(
        spec.url,
        headers=spec.credentials.headers,
        auth=spec.credentials.basic,
        block_timeout=block_timeout,
        has_timeout=min(2.0, block_timeout),
        pin_timeout=max(60.0, block_timeout),
    )


class _FallbackRead:
    """One read: sources in order (stores, then gateways); a source that fails is skipped for
    the rest of the read and its answer kept for the error message."""

    def __init__(self, store: ReplicatedStore, root: Cid) -> None:
        self.store = store
        self.root = root
        sources: list[tuple[str, Callable[[Cid], bytes]]] = [
            (member.label, member.store.get_block) for member in store.members
        ]
        sources += [(f"gateway {gateway.url}", gateway.get_block) for gateway in store.gateways]
        self.sources = sources
        self.failed: dict[str, str] = {}
        self.unreachable: set[str] = set()

    def block(self, cid: Cid) -> bytes:
        for label, fetch in self.sources:
            if label in self.failed:
                continue
            try:
                return verify_block(cid, fetch(cid))
            except CidMismatchError as exc:
                reason = f"served a wrong block (skipped): {exc}"
                self.store.note(Incident(label, str(cid), reason))
            except (StorageUnavailableError, StorageTimeoutError) as exc:
                reason = f"unreachable: {exc}"
                self.unreachable.add(label)
            except BlobNotFoundError as exc:
                reason = f"does not have it: {exc}"
            except StorageError as exc:
                reason = str(exc)
            self.failed[label] = reason
        tried = "; ".join(f"{label}: {reason}" for label, reason in self.failed.items())
        what = f"blob {self.root}" if cid == self.root else f"block {cid} of blob {self.root}"
        message = f"{what} could not be read from any of the {len(self.sources)} stores and gateways tried: {tried}"
        if self.unreachable and len(self.unreachable) == len(self.sources):
            raise StorageUnavailableError(message)
        raise BlobNotFoundError(message, cid=str(cid))


@contextlib.contextmanager
def _replayable(stream: BinaryIO) -> Iterator[BinaryIO]:
    """`stream` if it can seek back, else a spooled copy (the blob is sent once per store)."""
    try:
        if stream.seekable():
            stream.tell()
            yield stream
            return
    except (AttributeError, OSError, ValueError):
        pass
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        shutil.copyfileobj(stream, spool)
        spool.seek(0)
        yield spool  # type: ignore[misc]


def _states(copies: Sequence[CopyState]) -> str:
    return ", ".join(f"{copy.store}: {copy.state}" for copy in copies)


__all__ = [
    "COMPLETE",
    "CORRUPT",
    "ERASED",
    "ERASED_SERVED",
    "GONE",
    "HEALTHY",
    "LOST",
    "MISSING",
    "PARTIAL",
    "SERVED",
    "UNDER_REPLICATED",
    "UNPINNED",
    "UNREACHABLE",
    "UNVERIFIED",
    "BlobAudit",
    "CopyState",
    "Incident",
    "Inventory",
    "Member",
    "PutReport",
    "ReplicaStore",
    "ReplicatedStore",
    "ReplicationError",
    "StoreErasure",
    "open_replicated",
]
