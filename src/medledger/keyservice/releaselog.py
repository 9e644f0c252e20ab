"""A service's own release log: append-only SQLite, one row per request it decided on.

Two tables, both insert-only (triggers refuse UPDATE and DELETE):

- ``releases``: time, reader, patient, digest, purpose, accessTx, set version, outcome (``released``
  or the refusal code). Never a share, a key, or a signature.
- ``claims``: one row per (accessTx, digest, reader) triple ever released; its primary key is what
  refuses a replay, atomically, even between concurrent requests.
- ``headers``: one row per (key commitment, digest) pair the service found a release allowed for:
  which records it has seen carry a header with a given data key. A container header names no
  single record, so a writer could register a second record (a decoy) whose blob reuses another
  record's header; the record registered first on chain (smallest ``createdAt``) owns the
  commitment, and a release for any other digest carrying it is refused (``header-reused``).

The database runs in WAL mode with ``synchronous=NORMAL``: a committed row survives the process
being killed; an operating-system crash may lose the last transactions (at worst a reader could
then be re-sent a share it was already sent, for an access already logged on chain).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ReleaseEntry", "ReleaseLog"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS releases (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    reader TEXT NOT NULL,
    patient TEXT NOT NULL,
    digest TEXT NOT NULL,
    purpose INTEGER NOT NULL,
    access_tx TEXT NOT NULL,
    set_version INTEGER,
    outcome TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    access_tx TEXT NOT NULL,
    digest TEXT NOT NULL,
    reader TEXT NOT NULL,
    time REAL NOT NULL,
    PRIMARY KEY (access_tx, digest, reader)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS headers (
    key_commitment TEXT NOT NULL,
    digest TEXT NOT NULL,
    patient TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    time REAL NOT NULL,
    PRIMARY KEY (key_commitment, digest)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS releases_no_update BEFORE UPDATE ON releases
    BEGIN SELECT RAISE(ABORT, 'the release log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS releases_no_delete BEFORE DELETE ON releases
    BEGIN SELECT RAISE(ABORT, 'the release log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS claims_no_update BEFORE UPDATE ON claims
    BEGIN SELECT RAISE(ABORT, 'the release log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS claims_no_delete BEFORE DELETE ON claims
    BEGIN SELECT RAISE(ABORT, 'the release log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS headers_no_update BEFORE UPDATE ON headers
    BEGIN SELECT RAISE(ABORT, 'the release log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS headers_no_delete BEFORE DELETE ON headers
    BEGIN SELECT RAISE(ABORT, 'the release log is append-only'); END;
"""


@dataclass(frozen=True)
class ReleaseEntry:
    time: float
    reader: str
    patient: str
    digest: bytes
    purpose: int
    access_tx: bytes
    set_version: int | None
    outcome: str


class ReleaseLog:
    """The append-only log; safe to share between the server's worker threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def claim(self, access_tx: bytes, digest: bytes, reader: str) -> bool:
        """Record that this triple is released; False when it already was (a replay)."""
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO claims VALUES (?, ?, ?, ?)", (access_tx.hex(), digest.hex(), reader, time.time())
                )
            except sqlite3.IntegrityError:
                return False
            return True

    def was_claimed(self, access_tx: bytes, digest: bytes, reader: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM claims WHERE access_tx = ? AND digest = ? AND reader = ?",
                (access_tx.hex(), digest.hex(), reader),
            ).fetchone()
        return row is not None

    def bind_header(self, key_commitment: bytes, patient: str, digest: bytes, created_at: int) -> bytes | None:
        """Note that record `digest` (registered at `created_at`) carries a header with this key
        commitment; None when it owns the commitment, else the digest of a record that does (or
        that ties with it: two records registered in the same second share it, and both are refused).

        The owner is the record registered first on chain, so a decoy released first does not
        block the older original: once the original is seen it owns the commitment for good."""
        commitment = key_commitment.hex()
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO headers VALUES (?, ?, ?, ?, ?)",
                (commitment, digest.hex(), patient, created_at, time.time()),
            )
            rows = self._db.execute(
                "SELECT digest FROM headers WHERE key_commitment = ? AND created_at = "
                "(SELECT MIN(created_at) FROM headers WHERE key_commitment = ?) ORDER BY digest",
                (commitment, commitment),
            ).fetchall()
        owners = [row[0] for row in rows]
        if owners == [digest.hex()]:
            return None
        return bytes.fromhex(next(owner for owner in owners if owner != digest.hex()))

    def append(
        self,
        *,
        reader: str,
        patient: str,
        digest: bytes,
        purpose: int,
        access_tx: bytes,
        set_version: int | None,
        outcome: str,
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO releases (time, reader, patient, digest, purpose, access_tx, set_version, outcome) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), reader, patient, digest.hex(), purpose, access_tx.hex(), set_version, outcome),
            )

    def entries(self, *, limit: int = 1000) -> list[ReleaseEntry]:
        """The latest entries, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT time, reader, patient, digest, purpose, access_tx, set_version, outcome FROM releases "
                "ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            ReleaseEntry(row[0], row[1], row[2], bytes.fromhex(row[3]), row[4], bytes.fromhex(row[5]), row[6], row[7])
            for row in reversed(rows)
        ]

    def writable(self) -> bool:
        """Whether the log can take a write now (for the health endpoint); writes nothing."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                return False
        return True

    def close(self) -> None:
        with self._lock:
            self._db.close()
