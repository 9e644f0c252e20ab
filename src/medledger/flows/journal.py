"""The publish journal: a local write-ahead record of each publish, so a crash between any two
steps loses nothing and `resume` can finish or roll back idempotently.

Each entry is one JSON file, replaced atomically at every step. Entries hold paths, CIDs and
transaction hashes, never keys or plaintext.

States, and what `resume` / `resume --rollback` do in each (see flows.records.resume):

  started     source journaled (absolute path)  encrypt and go on      / delete the partial staging file
  encrypted   staged container written; with    store (on the stores   / unpin what a put may have stored,
              replicated storage, `stores` lists  not yet holding a       on every store
              each store holding a copy so far    copy) and go on
  stored      blob stored and pinned (on r      register and go on     / unpin (on every store that got a
              stores: `stores` names them)                               copy), delete the staging file
  sent        registration tx signed, its hash  wait for that tx (never a second one); if it can never
              and nonce journaled (not mined)   be mined, register again / wait for it: mined, it is a
                                                registered record; never mined (dropped: its nonce is
                                                used up first), roll back as for stored
  registered  the pointer is on chain           delete the staging file / refuse: already registered,
                                                only erasure removes a registered record
  done, rolled-back                             nothing to do
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from medledger.flows.errors import JournalError

# Not a state: the checkpoint reported after each copy of a replicated put (tests crash there).
COPIED = "copied"

# States, in order. A publish moves forward one step at a time (from SENT back to STORED when
# its transaction can never be mined); a rollback ends in ROLLED_BACK.
STARTED, ENCRYPTED, STORED, SENT, REGISTERED, DONE, ROLLED_BACK = (
    "started",
    "encrypted",
    "stored",
    "sent",
    "registered",
    "done",
    "rolled-back",
)
STATES = (STARTED, ENCRYPTED, STORED, SENT, REGISTERED, DONE, ROLLED_BACK)


@dataclass
class JournalEntry:
    id: str
    state: str
    author: str
    patient: str
    category: int
    source: str
    supersedes: str | None = None  # hex digest
    staging: str | None = None
    cid: str | None = None
    tx_hash: str | None = None
    nonce: int | None = None  # of the registration transaction, to tell a dropped one from a replaced one
    service_set: int | None = None  # the key-release service set the staged container's key is split over
    stores: list[str] | None = None  # replicated storage: the stores holding a pinned copy (older entries: None)
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)

    @property
    def finished(self) -> bool:
        return self.state in (DONE, ROLLED_BACK)


class Journal:
    def __init__(self, home: Path):
        self.directory = Path(home) / "journal"
        self.staging_directory = Path(home) / "staging"

    def begin(
        self, *, author: str, patient: str, category: int, source: Path, supersedes: bytes | None
    ) -> JournalEntry:
        entry = JournalEntry(
            id=time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(4),
            state=STARTED,
            author=author,
            patient=patient,
            category=int(category),
            source=str(source),
            supersedes=supersedes.hex() if supersedes else None,
        )
        self.save(entry)
        return entry

    def staging_path(self, entry: JournalEntry) -> Path:
        self.staging_directory.mkdir(parents=True, exist_ok=True)
        return self.staging_directory / f"{entry.id}.mlc"

    def advance(self, entry: JournalEntry, state: str, **changes: object) -> None:
        if state not in STATES:
            raise JournalError(f"unknown journal state {state!r}")
        for key, value in changes.items():
            setattr(entry, key, value)
        entry.state = state
        entry.updated = time.time()
        self.save(entry)

    def save(self, entry: JournalEntry) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{entry.id}", suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(entry), handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.directory / f"{entry.id}.json")

    def load(self, entry_id: str) -> JournalEntry:
        if not entry_id or "/" in entry_id or entry_id.startswith("."):
            raise JournalError(f"{entry_id!r} is not a journal entry id")
        path = self.directory / f"{entry_id}.json"
        try:
            data = json.loads(path.read_text())
            entry = JournalEntry(**data)
        except FileNotFoundError:
            raise JournalError(f"no journal entry {entry_id} in {self.directory}") from None
        except (json.JSONDecodeError, TypeError) as exc:
            raise JournalError(f"journal entry {path} is malformed: {exc}") from None
        if entry.state not in STATES:
            raise JournalError(f"journal entry {entry_id} has unknown state {entry.state!r}")
        return entry

    def entries(self) -> list[JournalEntry]:
        """Every entry, oldest first."""
        if not self.directory.exists():
            return []
        return [self.load(path.stem) for path in sorted(self.directory.glob("*.json"))]

    def pending(self) -> list[JournalEntry]:
        """Entries a crash left unfinished, oldest first."""
        return [entry for entry in self.entries() if not entry.finished]
