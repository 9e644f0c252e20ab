"""Reading a record through threshold key release: the reader's whole path.

    1. resolve the pointer (live, not erased) and check the reader's access, as the services will
    2. fetch the blob (every block verified against its CID) and read its container header
    3. build the header proof (the blocks from the CID's root to the first leaf)
    4. send `logAccess` and wait for its receipt (the session's confirmations)
    5. ask every service of the header's set version in parallel; combine k verified shares
    6. decrypt with the recovered data key to a temporary file, renamed into place when whole

Each step can be run on its own (tests and the CLI's progress lines use that); `read_record`
runs them all. The reader never holds more than this one record's data key.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from medledger.crypto.container import (
    ContainerHeader,
    DataKey,
    ThresholdSection,
    decrypt_stream_with_key,
    read_header,
)
from medledger.flows.errors import AccessDeniedError, RecordErasedError, RecordNotFoundError
from medledger.flows.session import Session
from medledger.keyservice.client import KeyReleaseClient, ReleaseResult
from medledger.keyservice.errors import ReleaseFailedError, ServiceAttempt
from medledger.keyservice.requests import ReleaseDomain
from medledger.ledger.base import checked_address
from medledger.ledger.values import RecordPointer
from medledger.scopes import Permission, Purpose, category_name
from medledger.storage import CODEC_RAW, Cid
from medledger.storage.proof import header_proof_blocks

__all__ = [
    "FetchedBlob",
    "ReadResult",
    "decrypt_blob",
    "default_client",
    "fetch_blob",
    "log_read",
    "read_record",
    "releasable",
    "release_key",
]

Step = Callable[[str], None]  # one progress line per step


@dataclass(frozen=True)
class FetchedBlob:
    """A verified blob on local disk, its header and its header proof."""

    pointer: RecordPointer
    cid: Cid
    path: Path
    header: ContainerHeader
    proof: tuple[bytes, ...]


@dataclass(frozen=True)
class ReadResult:
    pointer: RecordPointer
    cid: str
    path: Path
    size: int
    access_tx: str
    attempts: tuple[ServiceAttempt, ...]


_default_client: KeyReleaseClient | None = None
_default_lock = threading.Lock()


def default_client() -> KeyReleaseClient:
    """The process's shared client (its connections and directory cache outlive one read)."""
    global _default_client
    with _default_lock:
        if _default_client is None:
            _default_client = KeyReleaseClient()
        return _default_client


def fetch_blob(
    session: Session, patient: str, digest: bytes, directory: Path, purpose: Purpose = Purpose.TREAT
) -> FetchedBlob:
    """Steps 1-3: the pointer, the reader's access now, the verified blob and its header proof."""
    patient = checked_address(patient, "patient")
    pointer = session.ledger.records.get(patient, digest)
    if not pointer.exists:
        raise RecordNotFoundError(f"{patient} has no record {bytes(digest).hex()}")
    if pointer.erased:
        raise RecordErasedError(f"record {bytes(digest).hex()} of {patient} was erased; its content no longer exists")
    if not session.ledger.consent.has_access(patient, session.address, pointer.category, purpose, Permission.READ):
        raise AccessDeniedError(
            f"{session.address} may not read {patient}'s {category_name(pointer.category)} records for {purpose.name}"
        )
    return download_blob(session, pointer, directory)


def download_blob(session: Session, pointer: RecordPointer, directory: Path) -> FetchedBlob:
    """Step 3: the blob, every block verified, staged in `directory`, and its header proof."""
    cid = Cid.from_digest(pointer.digest, pointer.codec)
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix=".blob.", suffix=".part")
    path = Path(name)
    try:
        whole = bytearray()
        with os.fdopen(fd, "wb") as out:
            for chunk in session.store.get(cid):
                out.write(chunk)
                if cid.codec == CODEC_RAW:
                    whole += chunk
        with path.open("rb") as blob:
            header = read_header(blob)
        # A raw CID names one block, just fetched and verified: it is its own header proof.
        proof = (bytes(whole),) if cid.codec == CODEC_RAW else tuple(header_proof_blocks(session.store, cid))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return FetchedBlob(pointer, cid, path, header, proof)


def log_read(session: Session, blob: FetchedBlob, purpose: Purpose = Purpose.TREAT) -> bytes:
    """Step 4: record the read on chain; returns the logAccess transaction hash once confirmed."""
    receipt = session.ledger.records.log_access(blob.pointer.patient, blob.pointer.digest, purpose)
    return bytes.fromhex(receipt.tx_hash[2:])


def release_key(
    session: Session,
    blob: FetchedBlob,
    access_tx: bytes,
    purpose: Purpose = Purpose.TREAT,
    *,
    client: KeyReleaseClient | None = None,
    on_answer: Callable[[ServiceAttempt], None] | None = None,
    now: int | None = None,
) -> ReleaseResult:
    """Step 5: the data key, from k services of the set the record was written under. `now`,
    the chain's time the requests' deadlines count from, is asked of the chain unless given (a
    batch asks once)."""
    section = releasable(blob)
    ledger = session.ledger
    client = client or default_client()
    services = client.directory(ledger, section.set_version)
    now = ledger.chain.now() if now is None else now
    return client.request_key(
        session.signer,
        ReleaseDomain(ledger.chain.chain_id, ledger.address),
        blob.header,
        blob.proof,
        patient=blob.pointer.patient,
        digest=blob.pointer.digest,
        purpose=int(purpose),
        access_tx=access_tx,
        services=services,
        now=now,
        on_answer=on_answer,
    )


def releasable(blob: FetchedBlob) -> ThresholdSection:
    """The header's threshold section, once the header is one the services can release: with
    shares, and binding its author (format version 3). Else ReleaseFailedError, asked before
    the access is logged, since no service would answer it."""
    section = blob.header.threshold
    digest = blob.pointer.digest.hex()
    if section is None:
        raise ReleaseFailedError(
            f"record {digest} holds no key-release service shares (written before threshold "
            "key release, or while no service set was current): only its patient and author can open it until "
            "the patient re-encrypts it (`medledger record reencrypt`)",
            (),
        )
    if blob.header.author is None:
        raise ReleaseFailedError(
            f"record {digest} was written before containers bound their author (format version "
            f"{blob.header.version}), and the key-release services no longer release such a key: only its patient "
            "and author can open it until the patient re-encrypts it (`medledger record reencrypt`)",
            (),
        )
    return section


def decrypt_blob(session: Session, blob: FetchedBlob, data_key: DataKey, destination: str | os.PathLike[str]) -> int:
    """Step 6: decrypt to `destination` (written whole or not at all); the plaintext size."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, blob.path.open("rb") as src:
            info = decrypt_stream_with_key(
                src,
                out,
                session.binding(blob.pointer.patient, blob.pointer.category, author=blob.pointer.author),
                data_key,
            )
        os.replace(tmp, destination)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return info.plaintext_bytes


def read_record(
    session: Session,
    patient: str,
    digest: bytes,
    destination: str | os.PathLike[str],
    *,
    purpose: Purpose = Purpose.TREAT,
    client: KeyReleaseClient | None = None,
    step: Step | None = None,
) -> ReadResult:
    """Fetch, log, release, decrypt: one record to `destination`, with a progress line per step."""
    say = step or (lambda line: None)
    destination = Path(destination)
    blob = fetch_blob(session, patient, digest, destination.parent, purpose)
    try:
        say(f"fetched and verified blob {blob.cid} ({blob.path.stat().st_size} bytes)")
        releasable(blob)  # before the access is logged: a record no service releases is not read
        access_tx = log_read(session, blob, purpose)
        say(f"access logged on chain in transaction 0x{access_tx.hex()}")
        result = release_key(
            session,
            blob,
            access_tx,
            purpose,
            client=client,
            on_answer=lambda attempt: say(f"key service {attempt.describe()}"),
        )
        say(f"data key recovered from {sum(a.outcome == 'share' for a in result.attempts)} services")
        size = decrypt_blob(session, blob, result.data_key, destination)
        say(f"decrypted {size} bytes to {destination}")
    finally:
        blob.path.unlink(missing_ok=True)
    return ReadResult(blob.pointer, str(blob.cid), destination, size, "0x" + access_tx.hex(), result.attempts)
