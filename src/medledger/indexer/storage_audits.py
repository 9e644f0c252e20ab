"""The storage audit's read model: registered records in chain order, the last audit of each
record (`storage_audits`), and the checkpoint of an audit or repair run (two `meta` keys per run:
`storage_<run>_cursor`, the (block, log index) of the last record done, and
`storage_<run>_started`, when the run began). Rows and checkpoint are written in one transaction,
so an interrupted run continues after the last record whose audit was kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from medledger.indexer.store import Store


@dataclass(frozen=True)
class RegisteredRecord:
    block: int
    log_index: int
    patient: str
    digest: str  # 0x-prefixed hex
    codec: int
    erased: bool

    @property
    def position(self) -> tuple[int, int]:
        return (self.block, self.log_index)


@dataclass(frozen=True)
class StorageAuditRow:
    patient: str
    digest: str
    cid: str
    audited_at: int  # unix seconds
    status: str
    copies: int  # stores holding the blob whole and pinned
    required: int  # the replication factor at the time
    stores: tuple[dict[str, Any], ...]  # {"store", "state", "detail"} per configured store


def registered_records(store: Store, *, after: tuple[int, int] | None, limit: int) -> list[RegisteredRecord]:
    block, index = after if after is not None else (-1, -1)
    rows = store.query(
        "SELECT block_number, log_index, patient, digest, codec FROM record_changes "
        "WHERE action = 'added' AND (block_number > ? OR (block_number = ? AND log_index > ?)) "
        "ORDER BY block_number, log_index LIMIT ?",
        (block, block, index, limit),
    )
    if not rows:
        return []
    erased = {
        (patient, digest)
        for patient, digest in store.query("SELECT patient, digest FROM record_changes WHERE action = 'erased'")
    }
    return [
        RegisteredRecord(int(b), int(i), patient, digest, int(codec), (patient, digest) in erased)
        for b, i, patient, digest, codec in rows
    ]


def record_count(store: Store) -> int:
    return int(store.query("SELECT COUNT(*) FROM record_changes WHERE action = 'added'")[0][0])


def save_audit(store: Store, row: StorageAuditRow, *, checkpoint: tuple[str, tuple[int, int]] | None) -> None:
    with store.transaction():
        store.execute("DELETE FROM storage_audits WHERE patient = ? AND digest = ?", (row.patient, row.digest))
        store.execute(
            "INSERT INTO storage_audits (patient, digest, cid, audited_at, status, copies, required, stores) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.patient,
                row.digest,
                row.cid,
                row.audited_at,
                row.status,
                row.copies,
                row.required,
                json.dumps(list(row.stores)),
            ),
        )
        if checkpoint is not None:
            run, (block, index) = checkpoint
            _put_meta(store, f"storage_{run}_cursor", f"{block}:{index}")


def audits(store: Store, *, since: int = 0) -> list[StorageAuditRow]:
    """The kept audits made at or after `since` (unix seconds), by patient and digest."""
    return [
        StorageAuditRow(patient, digest, cid, int(at), status, int(copies), int(required), tuple(json.loads(stores)))
        for patient, digest, cid, at, status, copies, required, stores in store.query(
            "SELECT patient, digest, cid, audited_at, status, copies, required, stores FROM storage_audits "
            "WHERE audited_at >= ? ORDER BY patient, digest",
            (since,),
        )
    ]


def checkpoint(store: Store, run: str) -> tuple[int, int] | None:
    value = _get_meta(store, f"storage_{run}_cursor")
    if value is None:
        return None
    block, index = value.split(":")
    return int(block), int(index)


def run_started(store: Store, run: str) -> int | None:
    value = _get_meta(store, f"storage_{run}_started")
    return int(value) if value is not None else None


def set_checkpoint(store: Store, run: str, position: tuple[int, int] | None, started: int | None) -> None:
    """Start (`started` given), move, or with `position` None end a run."""
    with store.transaction():
        if position is None:
            store.execute("DELETE FROM meta WHERE key IN (?, ?)", (f"storage_{run}_cursor", f"storage_{run}_started"))
            return
        _put_meta(store, f"storage_{run}_cursor", f"{position[0]}:{position[1]}")
        if started is not None:
            _put_meta(store, f"storage_{run}_started", str(started))


def _get_meta(store: Store, key: str) -> str | None:
    rows = store.query("SELECT value FROM meta WHERE key = ?", (key,))
    return str(rows[0][0]) if rows else None


def _put_meta(store: Store, key: str, value: str) -> None:
    store.execute("DELETE FROM meta WHERE key = ?", (key,))
    store.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
