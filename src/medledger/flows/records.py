"""Publishing, fetching, amending and erasing encrypted records.

publish: encrypt -> store and pin -> register the pointer, each step journaled first (the
         registration transaction is journaled after signing, before broadcasting).
fetch:   resolve the pointer -> fetch the blob and verify every block (into a staged copy) ->
         log the access on chain (waiting for its receipt) -> obtain a key -> decrypt, streamed to
         a temporary file renamed into place only when every chunk authenticated. A fetch that
         fails before the blob is whole and verified logs nothing.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from medledger.chain.errors import ChainError, revert_class
from medledger.chain.transactions import SentTransaction, TxStatus
from medledger.crypto import (
    AccountRecipient,
    ContainerInfo,
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
    AlreadyRegisteredError,
    EmptyRecordError,
    JournalError,
    NoReadableKeyError,
    RecordErasedError,
    RecordNotFoundError,
    RegistrationPendingError,
)
from medledger.flows.journal import (
    DONE,
    ENCRYPTED,
    REGISTERED,
    ROLLED_BACK,
    SENT,
    STARTED,
    STORED,
    Journal,
    JournalEntry,
)
from medledger.flows.keyrings import current_keyring, encryption_key, readable_keyrings
from medledger.flows.session import Session
from medledger.flows.streams import IteratorReader
from medledger.ledger.base import checked_address
from medledger.ledger.values import RecordPointer
from medledger.scopes import Permission, Purpose, category_name
from medledger.storage import Cid, StorageError, compute_cid

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
    now = session.ledger.chain.now()
    return (
        terms.expiry > now
        and bool(terms.categories >> int(category) & 1)
        and bool(terms.permissions & Permission.WRITE)
        and session.ledger.providers.is_active(session.address)
    )


def publish(
    session: Session,
    patient: str,
    category: int,
    source: str | os.PathLike[str],
    *,
    supersedes: bytes | None = None,
    fault: Fault | None = None,
    progress: Progress | None = None,
) -> PublishResult:
    """Encrypt `source` for `patient`, store and pin it, and register its pointer on chain."""
    patient = checked_address(patient, "patient")
    source = Path(os.path.abspath(source))  # journaled absolute: a resume may run from anywhere
    if not source.is_file():
        raise FileNotFoundError(f"{source} is not a readable file")
    if source.stat().st_size == 0:
        raise _empty(source)
    if not can_write(session, patient, category):
        raise AccessDeniedError(
            f"{session.address} has no write consent from {patient} for {category_name(category)} records"
        )
    recipients = _recipients(session, patient, category)  # fails early if the patient has no key
    journal = Journal(session.home)
    entry = journal.begin(
        author=session.address, patient=patient, category=category, source=source, supersedes=supersedes
    )
    return _run(session, journal, entry, fault, recipients, progress)


def amend(
    session: Session, patient: str, previous: bytes, source: str | os.PathLike[str], *, fault: Fault | None = None
) -> PublishResult:
    """Publish a new version of a record; the old one is marked superseded, never overwritten."""
    patient = checked_address(patient, "patient")
    pointer = _pointer(session, patient, previous)
    if pointer.superseded:  # the contract would refuse only after encrypting and storing
        raise revert_class("RecordAlreadySuperseded")(
            "RecordAlreadySuperseded", {"patient": patient, "digest": bytes(previous)}
        )
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
            "RecordAlreadySuperseded", {"patient": patient, "digest": bytes(digest)}
        )
    binding = session.binding(patient, pointer.category)
    recipients = _recipients(session, patient, pointer.category)
    journal = Journal(session.home)
    entry = journal.begin(
        author=patient,
        patient=patient,
        category=pointer.category,
        source=Path(f"reencrypt:0x{digest.hex()}"),
        supersedes=digest,
    )
    staging = journal.staging_path(entry)
    tmp = staging.with_suffix(".tmp")
    old = Cid.from_digest(pointer.digest, pointer.codec)
    with tmp.open("wb") as dst:
        rewrap(
            cast(BinaryIO, IteratorReader(session.store.get(old))),
            dst,
            binding=binding,
            identity=_identities(session, patient, pointer.category),
            recipients=recipients,
        )
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(tmp, staging)
    journal.advance(entry, ENCRYPTED, staging=str(staging))
    (fault or (lambda step: None))(ENCRYPTED)
    result = _run(session, journal, entry, fault, recipients)
    erase(session, digest)
    return result


def resume(session: Session, journal_id: str, *, rollback: bool = False) -> JournalEntry:
    """Finish (or roll back) a publish a crash interrupted. Safe to run any number of times.

    Every journal state has both (see flows.journal). A registration transaction already sent is
    waited for, never sent a second time; a rollback never unpins a blob whose registration may
    still be mined; a publish registered on chain is never rolled back (AlreadyRegisteredError:
    only erasure removes a registered record)."""
    journal = Journal(session.home)
    entry = journal.load(journal_id)
    if entry.state == ROLLED_BACK or (entry.state == DONE and not rollback):
        return entry
    if entry.author != session.address:
        raise JournalError(f"journal entry {journal_id} belongs to {entry.author}, not {session.address}")
    if rollback:
        _rollback(session, journal, entry)
    else:
        _run(session, journal, entry, None, None)
    return entry


def fetch(
    session: Session,
    patient: str,
    digest: bytes,
    destination: str | os.PathLike[str],
    *,
    purpose: Purpose = Purpose.TREAT,
    progress: Progress | None = None,
    log_access: bool = True,
) -> FetchResult:
    """Fetch and decrypt one record to `destination` (written whole or not at all).

    Steps: resolve the pointer (and check access) -> fetch the blob, every block verified
    against its CID, into a staged copy -> with `log_access` (the default) record the read on
    chain (`logAccess`, which itself refuses a reader without access) and wait for its receipt,
    so the audit shows who read what, when and why -> obtain a key that opens the record ->
    decrypt. A fetch that fails before the blob is whole and verified logs nothing.
    """
    patient = checked_address(patient, "patient")
    pointer = _pointer(session, patient, digest)
    if not session.ledger.consent.has_access(patient, session.address, pointer.category, purpose, Permission.READ):
        raise AccessDeniedError(
            f"{session.address} may not read {patient}'s {category_name(pointer.category)} records for {purpose.name}"
        )
    cid = Cid.from_digest(pointer.digest, pointer.codec)
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with _verified_blob(session, cid, progress) as blob:
        if log_access:
            session.ledger.records.log_access(patient, pointer.digest, purpose)
        identities = _identities(session, patient, pointer.category)
        info = _decrypt_to(session, patient, pointer, blob, identities, destination)
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


def _run(
    session: Session,
    journal: Journal,
    entry: JournalEntry,
    fault: Fault | None,
    recipients: list[Recipient] | None,
    progress: Progress | None = None,
) -> PublishResult:
    """Drive `entry` forward from whatever state it is in. Every step is idempotent."""
    checkpoint = fault or (lambda step: None)
    while entry.state not in (DONE, ROLLED_BACK):
        if entry.state == STARTED:
            _encrypt(session, journal, entry, recipients, progress)
        elif entry.state == ENCRYPTED:
            _store(session, journal, entry)
        elif entry.state == STORED:
            _register(session, journal, entry, checkpoint)
        elif entry.state == SENT:
            _settle(session, journal, entry, rolling_back=False)
        elif entry.state == REGISTERED:
            _remove(entry.staging)
            journal.advance(entry, DONE)
        checkpoint(entry.state)
    if entry.state != DONE:
        raise JournalError(f"journal entry {entry.id} is {entry.state}; it cannot be resumed")
    cid = Cid.parse(entry.cid)  # type: ignore[arg-type]
    keyring = current_keyring(session, entry.patient, entry.category)
    return PublishResult(entry.id, str(cid), cid.digest, cid.codec, entry.tx_hash, keyring is not None)


def _encrypt(
    session: Session,
    journal: Journal,
    entry: JournalEntry,
    recipients: list[Recipient] | None,
    progress: Progress | None,
) -> None:
    staging = journal.staging_path(entry)
    recipients = recipients or _recipients(session, entry.patient, entry.category)
    source = Path(entry.source)
    if not source.is_file():
        raise JournalError(f"the source file {source} of journal entry {entry.id} is gone; roll it back")
    tmp = staging.with_suffix(".tmp")
    with source.open("rb") as raw, tmp.open("wb") as dst:
        src = cast(BinaryIO, _CountingReader(raw, progress)) if progress else raw
        info = encrypt_stream(src, dst, binding=session.binding(entry.patient, entry.category), recipients=recipients)
        dst.flush()
        os.fsync(dst.fileno())
    if info.plaintext_bytes == 0:  # emptied since it was checked
        _remove(str(tmp))
        raise _empty(source, f"; roll back journal entry {entry.id} (`medledger record resume {entry.id} --rollback`)")
    os.replace(tmp, staging)
    journal.advance(entry, ENCRYPTED, staging=str(staging))


def _store(session: Session, journal: Journal, entry: JournalEntry) -> None:
    if entry.staging is None:
        raise JournalError(f"journal entry {entry.id} is {entry.state} but names no staged file; it is damaged")
    try:
        with open(entry.staging, "rb") as blob:
            cid = session.store.put(blob)  # content-addressed: a repeat stores the same CID
    except StorageError as exc:
        # Same exception (its type says what failed), its one line now also saying what is left.
        exc.args = (
            f"{exc}; the publish is kept as journal entry {entry.id} with its encrypted copy "
            f"{entry.staging}: run `medledger record resume {entry.id}` once the store is back, "
            f"or `medledger record resume {entry.id} --rollback` to discard both",
        )
        raise
    journal.advance(entry, STORED, cid=str(cid))


def _register(session: Session, journal: Journal, entry: JournalEntry, checkpoint: Fault) -> None:
    """Send the registration, journaling its hash and nonce (state SENT) before broadcasting."""
    if _pointer_exists(session, entry):  # registered by another route (the same blob published before)
        journal.advance(entry, REGISTERED)
        return
    cid = Cid.parse(entry.cid)  # type: ignore[arg-type]
    supersedes = bytes.fromhex(entry.supersedes) if entry.supersedes else None

    def journaled(sent: SentTransaction) -> None:
        journal.advance(entry, SENT, tx_hash=sent.tx_hash, nonce=sent.nonce)
        checkpoint(SENT)

    try:
        receipt = session.ledger.records.add(
            entry.patient, cid.digest, cid.codec, entry.category, supersedes=supersedes, on_signed=journaled
        )
    except ChainError:
        if entry.state == SENT and session.ledger.sender.status(_sent(session, entry)) is TxStatus.PENDING:
            raise _still_pending(entry, rolling_back=False) from None
        raise
    journal.advance(entry, REGISTERED, tx_hash=receipt.tx_hash)


def _settle(session: Session, journal: Journal, entry: JournalEntry, *, rolling_back: bool) -> None:
    """Decide a SENT entry: REGISTERED if its transaction (or any other) registered the pointer,
    back to STORED if its transaction can never be mined. Waits for a pending transaction; when
    rolling back, first uses up the nonce of a transaction the node forgot (a copy may survive
    elsewhere and be mined later)."""
    sender = session.ledger.sender
    sent = _sent(session, entry)
    status = sender.status(sent)
    if status in (TxStatus.PENDING, TxStatus.MINED):
        try:
            sender.wait_for(sent.tx_hash)
        except ChainError:  # still pending, or mined and reverted: told apart below
            if sender.status(sent) is TxStatus.PENDING:
                raise _still_pending(entry, rolling_back) from None
    elif status is TxStatus.DROPPED and rolling_back:
        try:
            sender.cancel(session.signer, sent.nonce)
        except ChainError as exc:
            if sender.status(sent) in (TxStatus.PENDING, TxStatus.DROPPED):
                raise RegistrationPendingError(
                    f"journal entry {entry.id}: the node no longer knows registration transaction {sent.tx_hash}, "
                    f"and using up its nonce {sent.nonce} failed ({exc}); run `medledger record resume "
                    f"{entry.id} --rollback` again once nonce {sent.nonce} of {sent.sender} is used"
                ) from None
    if _pointer_exists(session, entry):
        journal.advance(entry, REGISTERED)
    else:
        journal.advance(entry, STORED, tx_hash=None, nonce=None)


def _rollback(session: Session, journal: Journal, entry: JournalEntry) -> None:
    if entry.state == SENT:
        _settle(session, journal, entry, rolling_back=True)
    if entry.state in (REGISTERED, DONE) or (entry.cid is not None and _pointer_exists(session, entry)):
        raise AlreadyRegisteredError(
            f"journal entry {entry.id} is already registered on chain as {entry.cid}, so it cannot be rolled back: "
            f"use erase (`medledger record erase {entry.cid}`, by the patient) to remove the record, and "
            f"`medledger record resume {entry.id}` to close the entry"
        )
    cid = entry.cid or _staged_cid(entry)  # a crash after put, before the CID was journaled
    if cid:
        session.store.unpin(cid)
    staging = journal.staging_path(entry)
    _remove(entry.staging)
    _remove(str(staging))
    _remove(str(staging.with_suffix(".tmp")))  # a crash while encrypting
    journal.advance(entry, ROLLED_BACK)


def _sent(session: Session, entry: JournalEntry) -> SentTransaction:
    if entry.tx_hash is None or entry.nonce is None:
        raise JournalError(f"journal entry {entry.id} is {entry.state} but names no transaction; it is damaged")
    return SentTransaction(
        tx_hash=entry.tx_hash, sender=entry.author, nonce=entry.nonce, chain_id=session.ledger.chain.chain_id
    )


def _still_pending(entry: JournalEntry, rolling_back: bool) -> RegistrationPendingError:
    if rolling_back:
        return RegistrationPendingError(
            f"journal entry {entry.id}: its registration transaction {entry.tx_hash} is sent but not yet mined, "
            f"and may still register the record, so nothing was rolled back; run `medledger record resume "
            f"{entry.id} --rollback` again once it is mined or dropped"
        )
    return RegistrationPendingError(
        f"journal entry {entry.id}: its registration transaction {entry.tx_hash} is sent but not yet mined; "
        f"run `medledger record resume {entry.id}` once it is (it waits for that transaction and never sends "
        "a second one)"
    )


def _empty(source: Path, advice: str = "") -> EmptyRecordError:
    return EmptyRecordError(f"{source} is empty (0 bytes): there is nothing to publish{advice}")


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


@contextlib.contextmanager
def _verified_blob(session: Session, cid: Cid, progress: Progress | None) -> Iterator[BinaryIO]:
    """The whole blob, every block checked against its CID, staged in a private temporary file
    (still encrypted) and removed afterwards."""
    staging = Journal(session.home).staging_directory
    staging.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=staging) as blob:
        for chunk in _counted(session.store.get(cid), progress):
            blob.write(chunk)
        blob.seek(0)
        yield blob


def _decrypt_to(
    session: Session,
    patient: str,
    pointer: RecordPointer,
    blob: BinaryIO,
    identities: list[EncryptionKeyPair | CategoryKeyring],
    destination: Path,
) -> ContainerInfo:
    """Decrypt into a temporary file beside `destination`, renamed into place once every chunk
    authenticated."""
    fd, tmp = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                info = decrypt_stream(
                    blob, out, binding=session.binding(patient, pointer.category), identity=identities
                )
            except NotARecipientError:
                raise _no_key(session, patient, pointer) from None
        os.replace(tmp, destination)
    except BaseException:
        _remove(tmp)
        raise
    return info


def _identities(session: Session, patient: str, category: int) -> list[EncryptionKeyPair | CategoryKeyring]:
    return [session.keypair, *readable_keyrings(session, patient, category)]


def _no_key(session: Session, patient: str, pointer: RecordPointer) -> Exception:
    return NoReadableKeyError(
        f"none of {session.address}'s keys opens record {pointer.digest.hex()}: it was sealed to a keyring "
        "epoch this account never received (written after a revocation, or before a grant the patient has "
        "not re-encrypted it for)"
    )


class _CountingReader:
    """Reports bytes read from a file to a progress callback."""

    def __init__(self, raw: io.BufferedReader, progress: Progress):
        self._raw = raw
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._progress(len(data))
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        count = self._raw.readinto(buffer)
        self._progress(count or 0)
        return count


def _counted(chunks: Iterable[bytes], progress: Progress | None) -> Iterator[bytes]:
    for chunk in chunks:
        if progress:
            progress(len(chunk))
        yield chunk


def _remove(path: str | None) -> None:
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


__all__ = ["FetchResult", "PublishResult", "amend", "can_write", "erase", "fetch", "publish", "reencrypt", "resume"]
