"""Reading many records of one patient at once, with their accesses logged in batches.

The rules are those of one read (flows.release): every record is fetched and verified, its
access logged on chain and confirmed, and only then are its key shares asked for; each
key-release service checks, per record, that the logged access names it. What changes is the
cost: the pointers come in one batched request, the reader's right to each category is asked
once, the blobs are fetched several at once, one multicall logs up to LOG_BATCH accesses, and
the releases and decryptions run several at once. The steps overlap: while one chunk's
logAccess transaction is pending, the next chunks' blobs download and earlier chunks' keys are
released and their records decrypted; up to `in_flight` logAccess transactions are pending at
once (nonces tracked locally, chain/transactions.py).

Everything the rules can refuse is asked before any access is logged: a missing, erased or
forbidden record stops the whole batch with nothing logged, as one bad record stops one read. A
record whose container no service can release (written before threshold key release) is found
when its blob arrives, before its own chunk's access is logged: the read stops there, the
chunks before it read and logged.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from medledger.chain.transactions import PendingTransaction
from medledger.flows.errors import AccessDeniedError, RecordErasedError, RecordNotFoundError
from medledger.flows.release import FetchedBlob, decrypt_blob, default_client, download_blob, releasable, release_key
from medledger.flows.session import Session
from medledger.keyservice.client import KeyReleaseClient
from medledger.ledger.base import checked_address
from medledger.ledger.values import RecordPointer
from medledger.scopes import Permission, Purpose, category_name

LOG_BATCH = 100  # accesses per logAccess multicall (~36k gas each)
_GAS_BASE, _GAS_PER_LOG = 60_000, 60_000  # a bound, so the batch needs one eth_call, not an estimate
DEFAULT_WORKERS = 8
DEFAULT_IN_FLIGHT = 2


@dataclass(frozen=True)
class BatchRead:
    cid: str
    path: Path
    size: int
    access_tx: str


def read_records(
    session: Session,
    patient: str,
    digests: Sequence[bytes],
    directory: str | Path,
    *,
    purpose: Purpose = Purpose.TREAT,
    workers: int = DEFAULT_WORKERS,
    client: KeyReleaseClient | None = None,
    progress: Callable[[int], None] | None = None,
    log_batch: int = LOG_BATCH,
    in_flight: int = DEFAULT_IN_FLIGHT,
) -> list[BatchRead]:
    """Read `digests` of `patient` through the key-release services into `directory`, one
    file per record named by its CID; the reads in the order given. `workers` threads download
    and as many release and decrypt; accesses are logged `log_batch` per transaction."""
    patient = checked_address(patient, "patient")
    if not 1 <= log_batch <= LOG_BATCH * 2:
        raise ValueError(f"the accesses per transaction must be 1..{LOG_BATCH * 2}, not {log_batch}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    pointers = session.ledger.records.get_many(patient, list(digests))
    _require_readable(session, pointers, purpose)
    client = client or default_client()
    downloads: list[Future[FetchedBlob]] = []
    logs: deque[tuple[list[FetchedBlob], PendingTransaction]] = deque()
    opened: list[Future[BatchRead]] = []
    with (
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch-download") as fetching,
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch-release") as releasing,
    ):
        try:
            downloads = [fetching.submit(download_blob, session, pointer, directory) for pointer in pointers]

            def open_chunk(chunk: list[FetchedBlob], pending: PendingTransaction) -> None:
                access_tx = bytes.fromhex(session.ledger.sender.settle(pending).tx_hash[2:])
                now = session.ledger.chain.now()

                def open_one(blob: FetchedBlob) -> BatchRead:
                    key = release_key(session, blob, access_tx, purpose, client=client, now=now)
                    target = directory / str(blob.cid)
                    size = decrypt_blob(session, blob, key.data_key, target)
                    if progress:
                        progress(1)
                    return BatchRead(str(blob.cid), target, size, "0x" + access_tx.hex())

                opened.extend(releasing.submit(open_one, blob) for blob in chunk)

            for start in range(0, len(downloads), log_batch):
                chunk = [future.result() for future in downloads[start : start + log_batch]]
                for blob in chunk:
                    releasable(blob)  # before this chunk is logged: a record no service releases is not read
                logs.append((chunk, _submit_log(session, chunk, purpose)))
                if len(logs) >= in_flight:
                    open_chunk(*logs.popleft())
            while logs:
                open_chunk(*logs.popleft())
            return [future.result() for future in opened]
        except BaseException:
            for future in downloads:
                future.cancel()
            for _, pending in logs:  # logged accesses stay logged; only stop waiting for them
                with contextlib.suppress(Exception):
                    session.ledger.sender.settle(pending)
            raise
        finally:
            for future in downloads:
                if future.done() and not future.cancelled() and future.exception() is None:
                    with contextlib.suppress(FileNotFoundError):
                        future.result().path.unlink()


def _require_readable(session: Session, pointers: list[RecordPointer], purpose: Purpose) -> None:
    allowed: dict[int, bool] = {}
    for pointer in pointers:
        digest = pointer.digest.hex()
        if not pointer.exists:
            raise RecordNotFoundError(f"{pointer.patient} has no record {digest}")
        if pointer.erased:
            raise RecordErasedError(f"record {digest} of {pointer.patient} was erased; its content no longer exists")
        if pointer.category not in allowed:
            allowed[pointer.category] = session.ledger.consent.has_access(
                pointer.patient, session.address, pointer.category, purpose, Permission.READ
            )
        if not allowed[pointer.category]:
            raise AccessDeniedError(
                f"{session.address} may not read {pointer.patient}'s {category_name(pointer.category)} records "
                f"for {purpose.name} (record {digest}); nothing was read or logged"
            )


def _submit_log(session: Session, blobs: list[FetchedBlob], purpose: Purpose) -> PendingTransaction:
    """One multicall of logAccess for `blobs`, submitted (settled by the caller)."""
    ledger = session.ledger
    log_access = ledger.records.codec("logAccess")
    calls = [log_access.encode(blob.pointer.patient, blob.pointer.digest, int(purpose)) for blob in blobs]
    return ledger.sender.submit(
        session.signer,
        ledger.address,
        ledger.records.codec("multicall").encode(calls),
        gas_limit=_GAS_BASE + _GAS_PER_LOG * len(calls),
    )
