"""Reading many records of one patient at once, with their accesses logged in batches.

The rules are those of one read (flows.release): every record is fetched and verified, its
access logged on chain and confirmed, and only then are its key shares asked for; each
key-release service checks, per record, that the logged access names it. What changes is the
cost: the pointers come in one batched request, the reader's right to each category is asked
once, the blobs are fetched several at once, one multicall logs up to LOG_BATCH accesses, and
the releases and decryptions run several at once.

Everything that can refuse the read is asked before any access is logged: a missing, erased or
forbidden record stops the whole batch with nothing logged, as one bad record stops one read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from medledger.flows.errors import AccessDeniedError, RecordErasedError, RecordNotFoundError
from medledger.flows.release import FetchedBlob, decrypt_blob, default_client, download_blob, releasable, release_key
from medledger.flows.session import Session
from medledger.keyservice.client import KeyReleaseClient
from medledger.ledger.base import checked_address
from medledger.ledger.values import RecordPointer
from medledger.scopes import Permission, Purpose, category_name

LOG_BATCH = 100  # accesses per logAccess multicall (~36k gas each)
_GAS_BASE, _GAS_PER_LOG = 60_000, 60_000  # a bound, so the batch needs one eth_call, not an estimate
DEFAULT_WORKERS = 4


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
) -> list[BatchRead]:
    """Read `digests` of `patient` through the key-release services into `directory`, one
    file per record named by its CID; the reads in the order given."""
    patient = checked_address(patient, "patient")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    pointers = session.ledger.records.get_many(patient, list(digests))
    _require_readable(session, pointers, purpose)
    client = client or default_client()
    blobs: list[FetchedBlob] = []
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            blobs = list(pool.map(lambda pointer: download_blob(session, pointer, directory), pointers))
        for blob in blobs:
            releasable(blob)  # before anything is logged: a record no service releases is not read
        reads: list[BatchRead] = []
        for start in range(0, len(blobs), LOG_BATCH):
            chunk = blobs[start : start + LOG_BATCH]
            access_tx = _log_reads(session, chunk, purpose)

            def open_one(blob: FetchedBlob, access_tx: bytes = access_tx) -> BatchRead:
                key = release_key(session, blob, access_tx, purpose, client=client)
                target = directory / str(blob.cid)
                size = decrypt_blob(session, blob, key.data_key, target)
                if progress:
                    progress(1)
                return BatchRead(str(blob.cid), target, size, "0x" + access_tx.hex())

            with ThreadPoolExecutor(max_workers=workers) as pool:
                reads += list(pool.map(open_one, chunk))
        return reads
    finally:
        for blob in blobs:
            with contextlib.suppress(FileNotFoundError):
                blob.path.unlink()


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


def _log_reads(session: Session, blobs: list[FetchedBlob], purpose: Purpose) -> bytes:
    """One multicall of logAccess for `blobs`, confirmed; its transaction hash."""
    ledger = session.ledger
    log_access = ledger.records.codec("logAccess")
    calls = [log_access.encode(blob.pointer.patient, blob.pointer.digest, int(purpose)) for blob in blobs]
    receipt = ledger.sender.send(
        session.signer,
        ledger.contract.functions.multicall(calls),
        gas_limit=_GAS_BASE + _GAS_PER_LOG * len(calls),
    )
    return bytes.fromhex(receipt.tx_hash[2:])
