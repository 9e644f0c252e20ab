"""Publishing, fetching, amending and erasing encrypted records.

publish: encrypt -> store and pin -> register the pointer, each step journaled first.
fetch:   resolve the pointer -> check access -> get (every block verified) -> unseal -> decrypt,
         streamed to a temporary file renamed into place only when every chunk authenticated.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from medledger.chain.errors import revert_class
from medledger.crypto import (
    AccountRecipient,
    EncryptionKeyPair,
    NotARecipientError,
    Recipient,
    decrypt_stream,
    encrypt_stream,
    rewrap,
)
from medledger.crypto.keyring import CategoryKeyring
from medledger.flows.errors import (
    AccessDeniedError,
    JournalError,
    NoReadableKeyError,
    RecordErasedError,
    RecordNotFoundError,
)
from medledger.flows.journal import DONE, ENCRYPTED, REGISTERED, ROLLED_BACK, STARTED, STORED, Journal, JournalEntry
from medledger.flows.keyrings import current_keyring, encryption_key, readable_keyrings
from medledger.flows.session import Session
from medledger.flows.streams import IteratorReader
from medledger.ledger.base import checked_address
from medledger.ledger.values import RecordPointer
from medledger.scopes import Permission, Purpose, category_name
from medledger.storage import Cid, compute_cid

Fault = Callable[[str], None]  # called after each publish step; tests inject crashes with it
Progress = Callable[[int], None]  # called with each batch of bytes processed (for progress bars)


@dataclass(frozen=True)
class PublishResult:
    journal_id: str
    cid: str
    digest: bytes
    codec: int
    tx_hash: str | None
    readable_by_keyring: bool  # False: sealed to the patient only (no keyring existed yet)


@dataclass(frozen=True)
class FetchResult:
    pointer: RecordPointer
    cid: str
    path: Path
    size: int


def can_write(session: Session, patient: str, category: int) -> bool:
    """The contract's write rule, asked before any work is done."""
    if session.address == patient:
        return True
    terms = session.ledger.consent.get(patient, session.address)
    now = int(session.ledger.chain.w3.eth.get_block("latest")["timestamp"])
    return (terms.expiry > now and bool(terms.categories >> int(category) & 1)
            and bool(terms.permissions & Permission.WRITE) and session.ledger.providers.is_active(session.address))


def publish(session: Session, patient: str, category: int, source: str | os.PathLike[str], *,
            supersedes: bytes | None = None, fault: Fault | None = None,
            progress: Progress | None = None) -> PublishResult:
    """Encrypt `source` for `patient`, store and pin it, and register its pointer on chain."""
    patient = checked_address(patient, "patient")
    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"{source} is not a readable file")
    if not can_write(session, patient, category):
        raise AccessDeniedError(
            f"{session.address} has no write consent from {patient} for {category_name(category)} records")
    recipients = _recipients(session, patient, category)  # fails early if the patient has no key
    journal = Journal(session.home)
    entry = journal.begin(author=session.address, patient=patient, category=category, source=source,
                          supersedes=supersedes)
    return _run(session, journal, entry, fault, recipients, progress)


def amend(session: Session, patient: str, previous: bytes, source: str | os.PathLike[str], *,
          fault: Fault | None = None) -> PublishResult:
    """Publish a new version of a record; the old one is marked superseded, never overwritten."""
    patient = checked_address(patient, "patient")
    pointer = _pointer(session, patient, previous)
    if pointer.superseded:  # the contract would refuse only after encrypting and storing
        raise revert_class("RecordAlreadySuperseded")(
            "RecordAlreadySuperseded", {"patient": patient, "digest": bytes(previous)})
    return publish(session, patient, pointer.category, source, supersedes=previous, fault=fault)


def reencrypt(session: Session, digest: bytes, *, fault: Fault | None = None) -> PublishResult:
    """Re-encrypt one of the session patient's records under a fresh data key sealed to the
    patient and the category keyring's current epoch, publish it as an amendment, and erase the
    old version (unpin its blob, mark its pointer). Afterwards, keyring epochs held by revoked
    parties no longer open this record, though nothing can recall a copy they already made.

    The new container is journaled like any publish; if a crash strikes before the old version is
    erased, `medledger record erase OLD` finishes the job."""
    patient = session.address
    pointer = _pointer(session, patient, digest)
    if pointer.superseded:
        raise revert_class("RecordAlreadySuperseded")(
            "RecordAlreadySuperseded", {"patient": patient, "digest": bytes(digest)})
    binding = session.binding(patient, pointer.category)
    recipients = _recipients(session, patient, pointer.category)
    journal = Journal(session.home)
    entry = journal.begin(author=patient, patient=patient, category=pointer.category,
                          source=Path(f"reencrypt:0x{digest.hex()}"), supersedes=digest)
    staging = journal.staging_path(entry)
    tmp = staging.with_suffix(".tmp")
    old = Cid.from_digest(pointer.digest, pointer.codec)
    with tmp.open("wb") as dst:
        rewrap(IteratorReader(session.store.get(old)), dst, binding=binding,
               identity=_identities(session, patient, pointer.category), recipients=recipients)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(tmp, staging)
    journal.advance(entry, ENCRYPTED, staging=str(staging))
    (fault or (lambda step: None))(ENCRYPTED)
    result = _run(session, journal, entry, fault, recipients)
    erase(session, digest)
    return result


def resume(session: Session, journal_id: str, *, rollback: bool = False) -> JournalEntry:
    """Finish (or roll back) a publish a crash interrupted. Safe to run any number of times."""
    journal = Journal(session.home)
    entry = journal.load(journal_id)
    if entry.finished:
        return entry
    if entry.author != session.address:
        raise JournalError(f"journal entry {journal_id} belongs to {entry.author}, not {session.address}")
    registered = entry.cid is not None and _pointer_exists(session, entry)
    if rollback and not registered and entry.state != REGISTERED:
        cid = entry.cid or _staged_cid(entry)  # a crash after put, before the CID was journaled
        if cid:
            session.store.unpin(cid)
        staging = journal.staging_path(entry)
        _remove(entry.staging)
        _remove(str(staging))
        _remove(str(staging.with_suffix(".tmp")))  # a crash while encrypting
        journal.advance(entry, ROLLED_BACK)
        return entry
    _run(session, journal, entry, None, None)
    return entry


def fetch(session: Session, patient: str, digest: bytes, destination: str | os.PathLike[str], *,
          purpose: Purpose = Purpose.TREAT, progress: Progress | None = None,
          log_access: bool = True) -> FetchResult:
    """Fetch and decrypt one record to `destination` (written whole or not at all).

    With `log_access` (the default) the read is first recorded on chain (`logAccess`, which
    itself refuses a reader without access), so the audit shows who read what, when and why.
    """
    patient = checked_address(patient, "patient")
    pointer = _pointer(session, patient, digest)
    if not session.ledger.consent.has_access(patient, session.address, pointer.category, purpose, Permission.READ):
        raise AccessDeniedError(
            f"{session.address} may not read {patient}'s {category_name(pointer.category)} records for {purpose.name}")
    if log_access:
        session.ledger.records.log_access(patient, pointer.digest, purpose)
    cid = Cid.from_digest(pointer.digest, pointer.codec)
    identities = _identities(session, patient, pointer.category)
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            reader = IteratorReader(_counted(session.store.get(cid), progress))
            try:
                info = decrypt_stream(reader, out, binding=session.binding(patient, pointer.category),
                                      identity=identities)
            except NotARecipientError:
                raise _no_key(session, patient, pointer) from None
        os.replace(tmp, destination)
    except BaseException:
        _remove(tmp)
        raise
    return FetchResult(pointer, str(cid), destination, info.plaintext_bytes)


def erase(session: Session, digest: bytes) -> RecordPointer:
    """Erase one of the session patient's records: unpin the blob (with the only copies of
    its sealed data keys), then mark the pointer erased. Re-running finishes a partial erase."""
    pointer = _pointer(session, session.address, digest, allow_erased=True)
    if pointer.erased:
        raise RecordErasedError(f"record {digest.hex()} is already erased")
    session.store.unpin(Cid.from_digest(pointer.digest, pointer.codec))
    session.ledger.records.erase(digest)
    return session.ledger.records.get(session.address, digest)


# -- internals ---------------------------------------------------------------------------------

def _recipients(session: Session, patient: str, category: int) -> list[Recipient]:
    recipients: list[Recipient] = [AccountRecipient(encryption_key(session, patient))]
    keyring = current_keyring(session, patient, category)
    if keyring is not None:
        recipients.append(keyring)
    return recipients


def _run(session: Session, journal: Journal, entry: JournalEntry, fault: Fault | None,
         recipients: list[Recipient] | None, progress: Progress | None = None) -> PublishResult:
    """Drive `entry` forward from whatever state it is in. Every step is idempotent."""
    checkpoint = fault or (lambda step: None)
    if entry.state == STARTED:
        staging = journal.staging_path(entry)
        recipients = recipients or _recipients(session, entry.patient, entry.category)
        source = Path(entry.source)
        if not source.is_file():
            raise JournalError(f"the source file {source} of journal entry {entry.id} is gone; roll it back")
        tmp = staging.with_suffix(".tmp")
        with source.open("rb") as raw, tmp.open("wb") as dst:
            src = _CountingReader(raw, progress) if progress else raw
            encrypt_stream(src, dst, binding=session.binding(entry.patient, entry.category), recipients=recipients)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, staging)
        journal.advance(entry, ENCRYPTED, staging=str(staging))
        checkpoint(ENCRYPTED)
    if entry.state == ENCRYPTED:
        with open(entry.staging, "rb") as blob:  # type: ignore[arg-type]
            cid = session.store.put(blob)  # content-addressed: a repeat stores the same CID
        journal.advance(entry, STORED, cid=str(cid))
        checkpoint(STORED)
    if entry.state == STORED:
        cid = Cid.parse(entry.cid)  # type: ignore[arg-type]
        supersedes = bytes.fromhex(entry.supersedes) if entry.supersedes else None
        tx_hash = None
        if not _pointer_exists(session, entry):  # a crash after sending, before journaling
            receipt = session.ledger.records.add(entry.patient, cid.digest, cid.codec, entry.category,
                                                 supersedes=supersedes)
            tx_hash = receipt.tx_hash
        journal.advance(entry, REGISTERED, tx_hash=tx_hash)
        checkpoint(REGISTERED)
    if entry.state == REGISTERED:
        _remove(entry.staging)
        journal.advance(entry, DONE)
        checkpoint(DONE)
    if entry.state != DONE:
        raise JournalError(f"journal entry {entry.id} is {entry.state}; it cannot be resumed")
    cid = Cid.parse(entry.cid)  # type: ignore[arg-type]
    keyring = current_keyring(session, entry.patient, entry.category)
    return PublishResult(entry.id, str(cid), cid.digest, cid.codec, entry.tx_hash, keyring is not None)


def _staged_cid(entry: JournalEntry) -> Cid | None:
    """The CID the staged blob has (or would have) in any store, if it was staged."""
    if not entry.staging or not os.path.exists(entry.staging):
        return None
    with open(entry.staging, "rb") as blob:
        return compute_cid(blob)


def _pointer_exists(session: Session, entry: JournalEntry) -> bool:
    cid = Cid.parse(entry.cid)  # type: ignore[arg-type]
    return session.ledger.records.get(entry.patient, cid.digest).exists


def _pointer(session: Session, patient: str, digest: bytes, *, allow_erased: bool = False) -> RecordPointer:
    pointer = session.ledger.records.get(patient, digest)
    if not pointer.exists:
        raise RecordNotFoundError(f"{patient} has no record {digest.hex()}")
    if pointer.erased and not allow_erased:
        raise RecordErasedError(f"record {digest.hex()} of {patient} was erased; its content no longer exists")
    return pointer


def _identities(session: Session, patient: str, category: int) -> list[EncryptionKeyPair | CategoryKeyring]:
    return [session.keypair, *readable_keyrings(session, patient, category)]


def _no_key(session: Session, patient: str, pointer: RecordPointer) -> Exception:
    return NoReadableKeyError(
        f"none of {session.address}'s keys opens record {pointer.digest.hex()}: it was sealed to a keyring "
        "epoch this account never received (written after a revocation, or before a grant the patient has "
        "not re-encrypted it for)")


class _CountingReader:
    """Reports bytes read from a file to a progress callback."""

    def __init__(self, raw, progress: Progress):
        self._raw = raw
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._progress(len(data))
        return data

    def readinto(self, buffer) -> int:
        count = self._raw.readinto(buffer)
        self._progress(count or 0)
        return count


def _counted(chunks, progress: Progress | None):
    for chunk in chunks:
        if progress:
            progress(len(chunk))
        yield chunk


def _remove(path: str | None) -> None:
    if path:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


__all__ = ["FetchResult", "PublishResult", "amend", "can_write", "erase", "fetch", "publish", "reencrypt", "resume"]
