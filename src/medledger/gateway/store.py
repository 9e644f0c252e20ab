"""The gateway's own state (SQLite): windows it sealed, where each reading went, device counters.

windows   one row per sealed window: its on-chain fields, its leaves (32 bytes each, in order),
          its state (`stored`: blob stored, not anchored yet; `anchored`; `skipped`: the chain
          refused it for that patient, e.g. consent withdrawn) and the anchoring transaction.
readings  (device, sequence) -> (window, position): what a proof request looks up.
devices   each device's last accepted sequence and timestamp, so a replay is refused after a restart.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medledger.ledger.streams import Window

_SCHEMA = """
CREATE TABLE IF NOT EXISTS windows (
    key TEXT PRIMARY KEY,
    patient TEXT NOT NULL, category INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
    root BLOB NOT NULL, digest BLOB NOT NULL, codec INTEGER NOT NULL, count INTEGER NOT NULL,
    cid TEXT NOT NULL, leaves BLOB NOT NULL, state TEXT NOT NULL,
    window_id BLOB, tx_hash TEXT, reason TEXT
);
CREATE TABLE IF NOT EXISTS readings (
    device TEXT NOT NULL, sequence INTEGER NOT NULL, window_key TEXT NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY (device, sequence)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS devices (
    device TEXT PRIMARY KEY, sequence INTEGER NOT NULL, timestamp INTEGER NOT NULL
) WITHOUT ROWID;
"""

STORED, ANCHORED, SKIPPED = "stored", "anchored", "skipped"


@dataclass(frozen=True)
class StoredWindow:
    key: str
    window: Window
    cid: str
    leaves: tuple[bytes, ...]
    state: str
    window_id: bytes | None
    tx_hash: str | None
    reason: str | None


def window_key(patient: str, category: int, start: int) -> str:
    return f"{patient}:{category}:{start}"


class GatewayStore:
    """One SQLite file; every method is one transaction, safe from any thread."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def devices(self) -> dict[str, tuple[int, int]]:
        with self._lock:
            rows = self._db.execute("SELECT device, sequence, timestamp FROM devices").fetchall()
        return {device: (sequence, timestamp) for device, sequence, timestamp in rows}

    def sealed_until(self, category: int) -> dict[str, int]:
        """Each patient's latest sealed window end (a restarted gateway opens no window before it)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT patient, max(end) FROM windows WHERE category = ? GROUP BY patient", (category,)
            ).fetchall()
        return {str(patient): int(end) for patient, end in rows}

    def save_window(
        self,
        key: str,
        window: Window,
        cid: str,
        leaves: list[bytes],
        readings: list[tuple[str, int]],
        devices: dict[str, tuple[int, int]],
    ) -> None:
        """A sealed, stored window, where its readings are, and the devices' counters, at once."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO windows (key, patient, category, start, end, root, digest, codec, count,"
                    " cid, leaves, state) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        key,
                        window.patient,
                        window.category,
                        window.start,
                        window.end,
                        window.root,
                        window.digest,
                        window.codec,
                        window.count,
                        cid,
                        b"".join(leaves),
                        STORED,
                    ),
                )
                self._db.executemany(
                    "INSERT OR REPLACE INTO readings (device, sequence, window_key, position) VALUES (?,?,?,?)",
                    [(device, sequence, key, position) for position, (device, sequence) in enumerate(readings)],
                )
                self._db.executemany(
                    "INSERT INTO devices (device, sequence, timestamp) VALUES (?,?,?) ON CONFLICT(device) DO UPDATE"
                    " SET sequence = max(sequence, excluded.sequence), timestamp = max(timestamp, excluded.timestamp)",
                    [(device, sequence, timestamp) for device, (sequence, timestamp) in devices.items()],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def mark(self, key: str, state: str, *, window_id: bytes | None, tx_hash: str | None, reason: str | None) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE windows SET state = ?, window_id = ?, tx_hash = ?, reason = ? WHERE key = ?",
                (state, window_id, tx_hash, reason, key),
            )

    def unanchored(self) -> list[StoredWindow]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM windows WHERE state = ? ORDER BY start", (STORED,))
            return [_stored(row) for row in rows.fetchall()]

    def locate(self, device: str, sequence: int) -> tuple[StoredWindow, int] | None:
        with self._lock:
            found = self._db.execute(
                "SELECT window_key, position FROM readings WHERE device = ? AND sequence = ?", (device, sequence)
            ).fetchone()
            if found is None:
                return None
            row = self._db.execute(f"SELECT {_COLUMNS} FROM windows WHERE key = ?", (found[0],)).fetchone()
        return (_stored(row), int(found[1])) if row else None

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, count(*), sum(count) FROM windows GROUP BY state").fetchall()
        result = {f"windows_{state}": int(n) for state, n, _ in rows}
        result.update({f"readings_{state}": int(total or 0) for state, _, total in rows})
        return result


_COLUMNS = (
    "key, patient, category, start, end, root, digest, codec, count, cid, leaves, state, window_id, tx_hash, reason"
)


def _stored(row: Any) -> StoredWindow:
    key, patient, category, start, end, root, digest, codec, count, cid, leaves, state, wid, tx, reason = row
    leaves_bytes = bytes(leaves)
    window = Window(
        str(patient), int(category), int(start), int(end), bytes(root), bytes(digest), int(codec), int(count)
    )
    return StoredWindow(
        str(key),
        window,
        str(cid),
        tuple(leaves_bytes[i : i + 32] for i in range(0, len(leaves_bytes), 32)),
        str(state),
        bytes(wid) if wid is not None else None,
        str(tx) if tx is not None else None,
        str(reason) if reason is not None else None,
    )
