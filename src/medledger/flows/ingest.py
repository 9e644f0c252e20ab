"""Batched ingestion: many records encrypted in parallel, stored concurrently, and registered
many per transaction (a multicall of addRecord), for a hospital migrating its archive.

A batch is the unit of work and of crash safety. It has one journal entry (one JSON file,
replaced atomically, one fsync per step) and one staging file holding its encrypted containers
back to back (one fsync), and moves through the states of a single publish (flows/journal.py):

  started     sources journaled (absolute paths, byte ranges for NDJSON lines)
  encrypted   every container staged; the journal holds each one's offset and length
  stored      every blob stored and pinned (on r stores, when the store replicates)
  sent        the registration transaction signed, its hash and nonce journaled, then broadcast
  registered  every pointer on chain, in one transaction: all of the batch or none of it
  done, rolled-back

`resume_batch` drives an entry forward from any state and `resume_batch(..., rollback=True)`
undoes one that is not registered, exactly as for one record: a sent transaction is waited for
(never a second one sent while the first may still be mined), a dropped one has its nonce used
up before the blobs are unpinned, and a registered batch is never rolled back (erase removes a
record).

Every record gets its own data key, sealed to the patient and the author and split over the
service set that is current when the batch starts (asked again after SEALING_TTL seconds of a
long import); the contract checks write consent per call.

Batches overlap. `import_records` encrypts and stores the next PREPARE_AHEAD batches (each in
its own thread, its own journal entry) while the current one is registered, and keeps up to
`in_flight` registration transactions pending, each signed with the next nonce from the chain's
NonceTracker (chain/transactions.py) and journaled SENT before it is broadcast. The order of
steps within a batch, and what a crash at any of them leaves, are those of a batch run alone:
a failure stops the import, waits for the registrations already sent, and leaves the failed
batch and any begun after it journaled, each to be resumed or rolled back on its own.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from medledger.chain.errors import ChainError
from medledger.chain.transactions import PendingTransaction, SentTransaction, TxStatus
from medledger.crypto import encrypt_stream
from medledger.flows.errors import (
    AccessDeniedError,
    AlreadyRegisteredError,
    EmptyRecordError,
    JournalError,
    RegistrationPendingError,
)
from medledger.flows.journal import DONE, ENCRYPTED, REGISTERED, ROLLED_BACK, SENT, STARTED, STATES, STORED, Journal
from medledger.flows.records import Sealing, can_write, sealing_for
from medledger.flows.session import Session
from medledger.flows.streams import RangeReader
from medledger.ledger.base import checked_address
from medledger.scopes import category_name
from medledger.storage import Cid, KuboStore, StorageError, compute_cid

DEFAULT_BATCH_SIZE = 50  # ~33k gas per record in a multicall of 50, against ~50k for one
MAX_BATCH_SIZE = 200  # keeps a batch's transaction far below a block's gas limit
DEFAULT_WORKERS = 4
DEFAULT_IN_FLIGHT = 4  # registration transactions pending at once
MAX_IN_FLIGHT = 16
PREPARE_AHEAD = 2  # batches encrypted and stored while earlier ones are being registered
SEALING_TTL = 60.0  # seconds an import reuses the patient's key and the current service set
# A bound on a batch's gas, so its registration needs one eth_call rather than an estimate (a
# bisection over the whole batch). addRecord costs ~50k for a new pointer (less in a batch) and
# at most ~80k when it takes over a digest; unused gas is not paid for.
_GAS_BASE, _GAS_PER_RECORD = 60_000, 90_000
BATCH_PREFIX = "batch-"

Fault = Callable[[str], None]  # called after each step; tests inject crashes with it
Progress = Callable[[int], None]  # told how many records finished a step


@dataclass(frozen=True)
class Source:
    """A record's plaintext: a whole file, or `length` bytes at `offset` (a line of NDJSON)."""

    path: str
    offset: int = 0
    length: int | None = None

    def size(self) -> int:
        return self.length if self.length is not None else Path(self.path).stat().st_size


@dataclass
class BatchEntry:
    id: str
    state: str
    author: str
    patient: str
    category: int
    sources: list[dict[str, object]]  # Source fields, in order
    staging: str | None = None
    spans: list[list[int]] | None = None  # [offset, length] of each container in the staging file
    cids: list[str] | None = None
    tx_hash: str | None = None
    nonce: int | None = None
    service_set: int | None = None
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)

    @property
    def finished(self) -> bool:
        return self.state in (DONE, ROLLED_BACK)

    def source_list(self) -> list[Source]:
        return [Source(**item) for item in self.sources]  # type: ignore[arg-type]


@dataclass(frozen=True)
class BatchResult:
    id: str
    cids: tuple[str, ...]
    tx_hash: str | None
    service_set: int | None


class BatchJournal(Journal):
    """Batch entries beside the single-record journal, under <home>/journal/batches."""

    def __init__(self, home: Path):
        super().__init__(home)
        self.directory = Path(home) / "journal" / "batches"

    def begin_batch(self, *, author: str, patient: str, category: int, sources: Sequence[Source]) -> BatchEntry:
        entry = BatchEntry(
            id=BATCH_PREFIX + time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(4),
            state=STARTED,
            author=author,
            patient=patient,
            category=int(category),
            sources=[asdict(source) for source in sources],
        )
        self.save(entry)  # type: ignore[arg-type]
        return entry

    def load(self, entry_id: str) -> BatchEntry:  # type: ignore[override]
        if not entry_id.startswith(BATCH_PREFIX) or "/" in entry_id:
            raise JournalError(f"{entry_id!r} is not a batch journal entry id")
        path = self.directory / f"{entry_id}.json"
        try:
            entry = BatchEntry(**_json(path))
        except FileNotFoundError:
            raise JournalError(f"no batch journal entry {entry_id} in {self.directory}") from None
        except (ValueError, TypeError) as exc:
            raise JournalError(f"batch journal entry {path} is malformed: {exc}") from None
        if entry.state not in STATES:
            raise JournalError(f"batch journal entry {entry_id} has unknown state {entry.state!r}")
        return entry

    def entries(self) -> list[BatchEntry]:  # type: ignore[override]
        if not self.directory.exists():
            return []
        entries = [self.load(path.stem) for path in self.directory.glob(f"{BATCH_PREFIX}*.json")]
        return sorted(entries, key=lambda entry: (entry.created, entry.id))  # in the order they were begun

    def pending(self) -> list[BatchEntry]:  # type: ignore[override]
        return [entry for entry in self.entries() if not entry.finished]

    def batch_staging_path(self, entry: BatchEntry) -> Path:
        self.staging_directory.mkdir(parents=True, exist_ok=True)
        return self.staging_directory / f"{entry.id}.mlb"


def import_records(
    session: Session,
    patient: str,
    category: int,
    sources: Sequence[Source],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = DEFAULT_WORKERS,
    in_flight: int = DEFAULT_IN_FLIGHT,
    progress: Progress | None = None,
    fault: Fault | None = None,
) -> list[BatchResult]:
    """Publish every source as one record of `patient`, in batches of `batch_size`.

    Checks everything it can before the first batch (readable, non-empty sources; write
    consent; the patient's key), so bad input costs nothing. Batches overlap: while one
    batch's registration is pending, the next ones are encrypted and stored (up to
    PREPARE_AHEAD at once), and up to `in_flight` registration transactions are pending at
    once, each with the next locally tracked nonce. Every batch keeps its own journal entry
    and goes through the same states as when run alone. A failure stops the import: the
    registrations already sent are waited for, and the failed batch, and any prepared after
    it, stay journaled (resume or roll each back); the batches before it are registered."""
    patient = checked_address(patient, "patient")
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"the batch size must be 1..{MAX_BATCH_SIZE}, not {batch_size}")
    if not 1 <= in_flight <= MAX_IN_FLIGHT:
        raise ValueError(f"the transactions in flight must be 1..{MAX_IN_FLIGHT}, not {in_flight}")
    if not sources:
        raise ValueError("nothing to import: no sources")
    checked = [_checked_source(source) for source in sources]
    if not can_write(session, patient, category):
        raise AccessDeniedError(
            f"{session.address} has no write consent from {patient} for {category_name(category)} records"
        )
    sealings = _Sealings(session)
    sealings.get(patient)  # fails early if the patient has no key
    journal = BatchJournal(session.home)
    checkpoint = fault or (lambda step: None)
    chunks = [checked[start : start + batch_size] for start in range(0, len(checked), batch_size)]
    results: list[BatchResult] = []
    prepared: deque[tuple[BatchEntry, Future[None]]] = deque()
    sent: deque[tuple[BatchEntry, PendingTransaction | None]] = deque()
    scheduled = 0

    def prepare_more(pool: ThreadPoolExecutor) -> None:
        nonlocal scheduled
        while scheduled < len(chunks) and len(prepared) < PREPARE_AHEAD:
            entry = journal.begin_batch(
                author=session.address, patient=patient, category=category, sources=chunks[scheduled]
            )
            prepared.append((entry, pool.submit(_prepare, session, journal, entry, workers, checkpoint, sealings)))
            scheduled += 1

    with ThreadPoolExecutor(max_workers=PREPARE_AHEAD, thread_name_prefix="ingest-prepare") as pool:
        try:
            prepare_more(pool)
            while prepared:
                entry, future = prepared.popleft()
                future.result()
                prepare_more(pool)
                sent.append((entry, _submit_registration(session, journal, entry, checkpoint, fresh=True)))
                while len(sent) >= in_flight or (sent and not prepared):
                    results.append(_finish(session, journal, *sent.popleft(), checkpoint, progress))
        except BaseException as exc:
            for _, future in prepared:
                future.cancel()
            for entry, pending in sent:  # close what is already sent, so only the failure stays open
                with contextlib.suppress(Exception):
                    _finish(session, journal, entry, pending, lambda step: None, progress)
            later = len(prepared)
            if later and isinstance(exc, Exception) and exc.args == (str(exc),):  # a plain message: extend it
                exc.args = (
                    f"{exc.args[0]} ({later} later batch{'es' if later > 1 else ''} begun meanwhile "
                    "stay journaled: `medledger record import --pending` lists them)",
                )
            raise
    return results


def resume_batch(
    session: Session, batch_id: str, *, rollback: bool = False, workers: int = DEFAULT_WORKERS
) -> BatchEntry:
    """Finish (or with `rollback`, undo) a batch a crash or a failure left unfinished."""
    journal = BatchJournal(session.home)
    entry = journal.load(batch_id)
    if entry.author != session.address:
        raise JournalError(f"batch {batch_id} was started by {entry.author}, not {session.address}")
    if rollback:
        if not entry.finished:
            _rollback(session, journal, entry)
        elif entry.state == DONE:
            raise AlreadyRegisteredError(f"batch {batch_id} is registered on chain; erase its records to remove them")
        return entry
    if not entry.finished:
        _run(session, journal, entry, workers=workers)
    return entry


def pending_batches(session: Session) -> list[BatchEntry]:
    return [entry for entry in BatchJournal(session.home).pending() if entry.author == session.address]


# -- the steps --------------------------------------------------------------------------------
def _run(
    session: Session,
    journal: BatchJournal,
    entry: BatchEntry,
    *,
    workers: int,
    progress: Progress | None = None,
    fault: Fault | None = None,
) -> BatchResult:
    """Drive one batch forward from whatever state it is in (a resumed batch), step by step."""
    checkpoint = fault or (lambda step: None)
    if entry.state in (STARTED, ENCRYPTED):
        _prepare(session, journal, entry, workers, checkpoint, _Sealings(session))
    if entry.state == STORED:
        pending = _submit_registration(session, journal, entry, checkpoint)
        return _finish(session, journal, entry, pending, checkpoint, progress)
    while not entry.finished:
        if entry.state == SENT:
            _settle(session, journal, entry, rolling_back=False)
            if entry.state == STORED:
                return _run(session, journal, entry, workers=workers, progress=progress, fault=fault)
        elif entry.state == REGISTERED:
            return _finish(session, journal, entry, None, checkpoint, progress)
    if entry.state != DONE:
        raise JournalError(f"batch {entry.id} is {entry.state}; it cannot be resumed")
    return _result(entry)


def _prepare(
    session: Session, journal: BatchJournal, entry: BatchEntry, workers: int, checkpoint: Fault, sealings: _Sealings
) -> None:
    """STARTED -> ENCRYPTED -> STORED (from wherever the entry is on that way)."""
    if entry.state == STARTED:
        checkpoint(STARTED)  # journaled, nothing else done yet
        _encrypt(session, journal, entry, workers, sealings)
        checkpoint(ENCRYPTED)
    if entry.state == ENCRYPTED:
        _store(session, journal, entry, workers)
        checkpoint(STORED)


def _finish(
    session: Session,
    journal: BatchJournal,
    entry: BatchEntry,
    pending: PendingTransaction | None,
    checkpoint: Fault,
    progress: Progress | None,
) -> BatchResult:
    """SENT -> REGISTERED (waiting for `pending`) -> DONE."""
    if pending is not None:
        _confirm_registration(session, journal, entry, pending)
        checkpoint(REGISTERED)
    _remove(entry.staging)
    _advance(journal, entry, DONE)
    checkpoint(DONE)
    if progress:
        progress(len(entry.sources))
    return _result(entry)


def _result(entry: BatchEntry) -> BatchResult:
    return BatchResult(entry.id, tuple(entry.cids or ()), entry.tx_hash, entry.service_set)


class _Sealings:
    """Whom an import's records are sealed to, asked of the chain once per patient and again
    after SEALING_TTL seconds (a service-set rotation during a long import is picked up)."""

    def __init__(self, session: Session):
        self.session = session
        self._cache: dict[str, tuple[float, Sealing]] = {}
        self._lock = threading.Lock()

    def get(self, patient: str) -> Sealing:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(patient)
        if cached is not None and now - cached[0] < SEALING_TTL:
            return cached[1]
        sealing = sealing_for(self.session, patient)
        with self._lock:
            self._cache[patient] = (now, sealing)
        return sealing


def _encrypt(session: Session, journal: BatchJournal, entry: BatchEntry, workers: int, sealings: _Sealings) -> None:
    """Encrypt every source in parallel into its own part file, then join the parts into the
    batch's staging file with one fsync."""
    sealing = sealings.get(entry.patient)
    binding = session.binding(entry.patient, entry.category, author=entry.author)
    staging = journal.batch_staging_path(entry)
    parts = [staging.with_suffix(f".{index}.part") for index in range(len(entry.sources))]

    def encrypt_one(index: int) -> int:
        source = entry.source_list()[index]
        if not Path(source.path).is_file():
            raise JournalError(f"the source {source.path} of batch {entry.id} is gone; roll the batch back")
        with open(source.path, "rb") as raw, parts[index].open("wb") as out:
            info = encrypt_stream(
                _reader(raw, source.offset, source.length),
                out,
                binding=binding,
                recipients=sealing.recipients,
                threshold_policy=sealing.policy,
            )
        if info.plaintext_bytes == 0:
            raise EmptyRecordError(f"{_label(source)} became empty; roll back batch {entry.id}")
        return parts[index].stat().st_size

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            sizes = list(pool.map(encrypt_one, range(len(parts))))
        spans, offset = [], 0
        tmp = staging.with_suffix(".tmp")
        with tmp.open("wb") as joined:
            for part, size in zip(parts, sizes, strict=True):
                joined.write(part.read_bytes())
                spans.append([offset, size])
                offset += size
            joined.flush()
            os.fsync(joined.fileno())
        os.replace(tmp, staging)
    finally:
        for part in parts:
            _remove(str(part))
    set_version = sealing.policy.set_version if sealing.policy is not None else None
    _advance(journal, entry, ENCRYPTED, staging=str(staging), spans=spans, service_set=set_version)


def _store(session: Session, journal: BatchJournal, entry: BatchEntry, workers: int) -> None:
    """Store and pin every staged container: on one IPFS node as one CAR import (`dag/import`,
    one request for the batch), elsewhere several at once (content-addressed: a resumed batch
    stores the same CIDs again)."""
    staging, spans = _staged(entry)

    def store_one(span: list[int]) -> str:
        with open(staging, "rb") as raw:
            return str(session.store.put(_reader(raw, span[0], span[1])))

    try:
        if isinstance(session.store, KuboStore):  # one node: the whole batch in one CAR import
            with open(staging, "rb") as raw:
                blobs = [_reader(raw, offset, length).read() for offset, length in spans]
            cids = [str(cid) for cid in session.store.put_many(blobs)]
        else:  # the embedded store, or several replicas: blob by blob, several at once
            with ThreadPoolExecutor(max_workers=workers) as pool:
                cids = list(pool.map(store_one, spans))
    except StorageError as exc:
        exc.args = (
            f"{exc}; batch {entry.id} is kept with its encrypted copies in {staging}: run "
            f"`medledger record import --resume {entry.id}` once the store is back, or add --rollback to discard it",
        )
        raise
    _advance(journal, entry, STORED, cids=cids)


def _submit_registration(
    session: Session, journal: BatchJournal, entry: BatchEntry, checkpoint: Fault, *, fresh: bool = False
) -> PendingTransaction | None:
    """Send one multicall registering every pointer of the batch not yet on chain, journaling
    the transaction's hash and nonce (state SENT) before it is broadcast; do not wait for it.
    None (and REGISTERED) when every pointer is on chain already.

    A `fresh` batch (stored by this run) is first sent whole without asking which pointers
    exist: the transaction's eth_call check refuses it if any does (the same content imported
    before), and only then are they asked and the rest sent."""
    if fresh:
        try:
            return _send_registration(session, journal, entry, [Cid.parse(cid) for cid in entry.cids or ()], checkpoint)
        except ChainError:
            if entry.state != STORED:
                raise
            missing = _unregistered(session, entry)
            if len(missing) == len(entry.cids or ()):
                raise
    else:
        missing = _unregistered(session, entry)
    if not missing:
        _advance(journal, entry, REGISTERED)
        checkpoint(REGISTERED)
        return None
    return _send_registration(session, journal, entry, missing, checkpoint)


def _send_registration(
    session: Session, journal: BatchJournal, entry: BatchEntry, missing: list[Cid], checkpoint: Fault
) -> PendingTransaction:
    ledger = session.ledger
    add_record = ledger.records.codec("addRecord")
    calls = [add_record.encode(entry.patient, cid.digest, cid.codec, entry.category, b"\x00" * 32) for cid in missing]

    def journaled(sent: SentTransaction) -> None:
        _advance(journal, entry, SENT, tx_hash=sent.tx_hash, nonce=sent.nonce)
        checkpoint(SENT)

    try:
        return ledger.sender.submit(
            session.signer,
            ledger.address,
            ledger.records.codec("multicall").encode(calls),
            gas_limit=_GAS_BASE + _GAS_PER_RECORD * len(missing),
            on_signed=journaled,
        )
    except ChainError:
        if entry.state == SENT and ledger.sender.status(_sent(session, entry)) is TxStatus.PENDING:
            raise _still_pending(entry, rolling_back=False) from None
        raise


def _confirm_registration(
    session: Session, journal: BatchJournal, entry: BatchEntry, pending: PendingTransaction
) -> None:
    sender = session.ledger.sender
    try:
        receipt = sender.settle(pending)
    except ChainError:
        if sender.status(_sent(session, entry)) is TxStatus.PENDING:
            raise _still_pending(entry, rolling_back=False) from None
        raise
    _advance(journal, entry, REGISTERED, tx_hash=receipt.tx_hash)


def _settle(session: Session, journal: BatchJournal, entry: BatchEntry, *, rolling_back: bool) -> None:
    """Decide a SENT batch as flows.records decides one record: wait for a pending or mined
    transaction; when rolling back, use up the nonce of one the node forgot; then REGISTERED if
    every pointer is on chain, else back to STORED."""
    sender = session.ledger.sender
    sent = _sent(session, entry)
    status = sender.status(sent)
    if status in (TxStatus.PENDING, TxStatus.MINED):
        try:
            sender.wait_for(sent.tx_hash)
        except ChainError:
            if sender.status(sent) is TxStatus.PENDING:
                raise _still_pending(entry, rolling_back) from None
    elif status is TxStatus.DROPPED and rolling_back:
        try:
            sender.cancel(session.signer, sent.nonce)
        except ChainError as exc:
            if sender.status(sent) in (TxStatus.PENDING, TxStatus.DROPPED):
                raise RegistrationPendingError(
                    f"batch {entry.id}: the node no longer knows registration transaction {sent.tx_hash}, and "
                    f"using up its nonce {sent.nonce} failed ({exc}); roll back again once that nonce is used"
                ) from None
    if not _unregistered(session, entry):
        _advance(journal, entry, REGISTERED)
    else:
        _advance(journal, entry, STORED, tx_hash=None, nonce=None)


def _rollback(session: Session, journal: BatchJournal, entry: BatchEntry) -> None:
    if entry.state == SENT:
        _settle(session, journal, entry, rolling_back=True)
    registered = entry.state in (REGISTERED, DONE) or (
        entry.cids is not None and len(_unregistered(session, entry)) < len(entry.cids)
    )
    if registered:
        raise AlreadyRegisteredError(
            f"batch {entry.id} is already registered on chain, so it cannot be rolled back: erase its records "
            f"to remove them, and run `medledger record import --resume {entry.id}` to close the entry"
        )
    for cid in entry.cids or _staged_cids(entry):  # a crash mid-store leaves CIDs unjournaled
        with contextlib.suppress(StorageError):  # not stored there: nothing to unpin
            session.store.unpin(cid)
    staging = journal.batch_staging_path(entry)
    for path in (entry.staging, str(staging), str(staging.with_suffix(".tmp"))):
        _remove(path)
    for part in staging.parent.glob(f"{entry.id}.*.part"):
        _remove(str(part))
    _advance(journal, entry, ROLLED_BACK)


# -- helpers ----------------------------------------------------------------------------------
def _checked_source(source: Source) -> Source:
    path = Path(os.path.abspath(source.path))
    if not path.is_file():
        raise FileNotFoundError(f"{path} is not a readable file")
    checked = Source(str(path), source.offset, source.length)
    if checked.size() == 0:
        raise EmptyRecordError(f"{_label(checked)} is empty: there is nothing to publish")
    return checked


def _reader(raw: BinaryIO, offset: int, length: int | None) -> BinaryIO:
    return io.BufferedReader(RangeReader(raw, offset, length))


def _label(source: Source) -> str:
    return source.path if source.length is None else f"{source.path} (bytes {source.offset}..)"


def _staged(entry: BatchEntry) -> tuple[str, list[list[int]]]:
    if entry.staging is None or entry.spans is None:
        raise JournalError(f"batch {entry.id} is {entry.state} but names no staged file; it is damaged")
    return entry.staging, entry.spans


def _staged_cids(entry: BatchEntry) -> list[str]:
    if entry.staging is None or entry.spans is None or not Path(entry.staging).exists():
        return []
    with open(entry.staging, "rb") as raw:
        return [str(compute_cid(_reader(raw, offset, length))) for offset, length in entry.spans]


def _unregistered(session: Session, entry: BatchEntry) -> list[Cid]:
    """The batch's CIDs whose pointer is not on chain (read in one batched request)."""
    cids = [Cid.parse(cid) for cid in entry.cids or ()]
    pointers = session.ledger.records.get_many(entry.patient, [cid.digest for cid in cids])
    return [cid for cid, pointer in zip(cids, pointers, strict=True) if pointer.created_at == 0]


def _sent(session: Session, entry: BatchEntry) -> SentTransaction:
    if entry.tx_hash is None or entry.nonce is None:
        raise JournalError(f"batch {entry.id} is sent but names no transaction; it is damaged")
    return SentTransaction(
        tx_hash=entry.tx_hash, sender=entry.author, nonce=entry.nonce, chain_id=session.ledger.chain.chain_id
    )


def _still_pending(entry: BatchEntry, rolling_back: bool) -> RegistrationPendingError:
    what = "roll it back" if rolling_back else "finish it"
    return RegistrationPendingError(
        f"batch {entry.id}: registration transaction {entry.tx_hash} is still pending; "
        f"run `medledger record import --resume {entry.id}{' --rollback' if rolling_back else ''}` later to {what}"
    )


def _advance(journal: BatchJournal, entry: BatchEntry, state: str, **changes: object) -> None:
    journal.advance(entry, state, **changes)  # type: ignore[arg-type]


def _json(path: Path) -> dict[str, Any]:
    import json

    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def _remove(path: str | None) -> None:
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


# -- sources ----------------------------------------------------------------------------------
def sources_from(path: str | os.PathLike[str], *, validate: bool = True) -> list[Source]:
    """The records in `path`: every regular, non-hidden file of a directory (sorted by name,
    not recursive), or each non-blank line of an NDJSON file (`.ndjson`, `.jsonl`) holding one
    FHIR resource. With `validate`, each NDJSON line must be a valid FHIR R4 resource; the first
    that is not is named by its line number, before anything is done."""
    path = Path(os.path.abspath(path))
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise ValueError(f"{path} holds no files to import")
        return [Source(str(p)) for p in files]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is neither a directory nor a readable file")
    if path.suffix.lower() not in (".ndjson", ".jsonl"):
        raise ValueError(f"{path} is not a directory or an NDJSON file (.ndjson, .jsonl)")
    return _ndjson_sources(path, validate=validate)


def _ndjson_sources(path: Path, *, validate: bool) -> list[Source]:
    import json

    from medledger.fhir.validate import FhirValidationError, validate_resource

    sources, offset = [], 0
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    resource = json.loads(line)
                except (ValueError, UnicodeDecodeError) as exc:
                    raise ValueError(f"line {number} of {path} is not JSON: {exc}") from None
                if not isinstance(resource, dict) or "resourceType" not in resource:
                    raise ValueError(f"line {number} of {path} is not a FHIR resource (no resourceType)")
                if validate:
                    try:
                        validate_resource(resource)
                    except FhirValidationError as exc:
                        raise ValueError(f"line {number} of {path}: {exc}") from None
                sources.append(Source(str(path), offset, len(line)))
            offset += len(line)
    if not sources:
        raise ValueError(f"{path} holds no resources to import")
    return sources
