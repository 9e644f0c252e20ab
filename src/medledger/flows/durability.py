"""Storage audit and repair over every registered record (the indexer's read model).

audit:  for each registered record in chain order: on how many stores its blob is pinned and
        whole (every block fetched from that store and verified), and for an erased record
        whether any store still serves its blocks. Each store is asked once per run for its
        pinned roots and held blocks; blocks are fetched only from stores that hold them.
repair: the same, and a live record whole on fewer than r stores is copied, block by block
        (verified), from a store holding it whole to the next stores lacking it, then pinned.

Each record's result is kept in the index (`storage_audits`, the last audit per record) together
with the run's checkpoint, in one transaction: an interrupted run, started again, continues after
the last record it kept (`restart=True` starts over). The report covers the whole run, resumed
parts included. Records are checked `workers` at a time (the stores answer in parallel); results
are kept in chain order, so the checkpoint never passes a record whose audit is not kept.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from medledger.indexer import Indexer
from medledger.indexer.storage_audits import RegisteredRecord, StorageAuditRow
from medledger.storage import Cid
from medledger.storage.replicated import (
    ERASED,
    HEALTHY,
    UNVERIFIED,
    BlobAudit,
    ReplicatedStore,
)

AUDIT, REPAIR = "audit", "repair"
_BATCH = 1000
DEFAULT_WORKERS = 8


@dataclass(frozen=True)
class RecordAudit:
    patient: str
    digest: str
    audit: BlobAudit


@dataclass(frozen=True)
class StorageReport:
    run: str  # AUDIT or REPAIR
    started: int  # unix seconds the run began (before a resume, the first part's start)
    resumed: bool
    audited: int  # records looked at by this invocation
    total: int  # records the whole run looked at
    replication: int
    stores: tuple[str, ...]
    statuses: dict[str, int]  # status -> records, over the whole run
    problems: tuple[StorageAuditRow, ...]  # records neither healthy nor cleanly erased
    unreachable: dict[str, str] = field(default_factory=dict)  # store -> why it could not be asked
    repaired: int = 0  # copies made by this invocation

    @property
    def clean(self) -> bool:
        return not self.problems and not self.unreachable

    @property
    def unverified(self) -> bool:
        """Some store did not answer, so not every record could be confirmed."""
        return bool(self.unreachable) or any(row.status == UNVERIFIED for row in self.problems)


def run_storage_audit(
    indexer: Indexer,
    store: ReplicatedStore,
    *,
    repair: bool = False,
    restart: bool = False,
    on_record: Callable[[RecordAudit], None] | None = None,
    clock: Callable[[], float] = time.time,
    workers: int = DEFAULT_WORKERS,
) -> StorageReport:
    """Audit (or repair) every registered record from the run's checkpoint on; see the module."""
    run = REPAIR if repair else AUDIT
    position = None if restart else indexer.storage_checkpoint(run)
    resumed = position is not None
    started = indexer.storage_run_started(run) if resumed else None
    if position is None or started is None:
        started = int(clock())
        position = (-1, -1)
        indexer.set_storage_checkpoint(run, position, started)
    inventories = store.inventories()
    unreachable = {name: inv.error for name, inv in inventories.items() if inv.error is not None}
    audited = repaired = 0

    def check(record: RegisteredRecord) -> BlobAudit:
        cid = Cid.from_digest(bytes.fromhex(record.digest.removeprefix("0x")), record.codec)
        if repair and not record.erased:
            return store.repair(cid, inventories)
        return store.audit(cid, inventories, erased=record.erased)

    pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="storage-audit")
    try:
        while batch := indexer.registered_records(after=position, limit=_BATCH):
            for record, result in zip(batch, pool.map(check, batch), strict=True):
                row = StorageAuditRow(
                    patient=record.patient,
                    digest=record.digest,
                    cid=result.cid,
                    audited_at=max(int(clock()), started),
                    status=result.status,
                    copies=len(result.complete_on),
                    required=result.required,
                    stores=tuple(
                        {"store": copy.store, "state": copy.state, "detail": copy.detail} for copy in result.copies
                    ),
                )
                indexer.save_storage_audit(row, checkpoint=(run, record.position))
                position = record.position
                audited += 1
                repaired += len(result.repaired)
                if on_record is not None:
                    on_record(RecordAudit(record.patient, record.digest, result))
    finally:  # interrupted: the checks not yet started are dropped, not run
        pool.shutdown(wait=True, cancel_futures=True)
    indexer.set_storage_checkpoint(run, None)
    rows = indexer.storage_audits(since=started)
    statuses = Counter(row.status for row in rows)
    problems = tuple(row for row in rows if row.status not in (HEALTHY, ERASED))
    return StorageReport(
        run=run,
        started=started,
        resumed=resumed,
        audited=audited,
        total=len(rows),
        replication=store.replication,
        stores=store.names,
        statuses=dict(statuses),
        problems=problems,
        unreachable=unreachable,
        repaired=repaired,
    )


__all__ = ["AUDIT", "REPAIR", "RecordAudit", "StorageReport", "run_storage_audit"]
