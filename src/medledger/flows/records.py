"""Publishing, fetching, amending, re-encrypting and erasing encrypted records.

publish:   encrypt -> store and pin -> register the pointer, each step journaled first (the
           registration transaction is journaled after signing, before broadcasting). The fresh
           data key is sealed to the patient and the author, and split k-of-n over the ledger's
           current key-release service set (none yet: patient and author only, and the result
           says so).
fetch:     the patient and the record's author open their own stanza: resolve the pointer ->
           fetch the blob and verify every block (into a staged copy) -> log the access on chain
           (the patient's reads by default) -> decrypt, streamed to a temporary file renamed into
           place only when every chunk authenticated. Everyone else reads through the key-release
           services (flows.release.read_record): fetch and verify -> logAccess, confirmed ->
           k shares -> decrypt. A fetch that fails before the blob is whole and verified logs
           nothing.
reencrypt: the patient moves a record written under a keyring (format version 1), under a
           service set that is no longer current, or without its author bound (format version
           2, which the services refuse) to the current set, bound to the patient as author.
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

from eth_utils import to_checksum_address

from medledger.chain.errors import ChainError, revert_class
from medledger.chain.transactions import SentTransaction, TxStatus
from medledger.crypto import (
    AccountRecipient,
    ContainerHeader,
    ContainerInfo,
    NotARecipientError,
    Recipient,
    ServiceRecipient,
    ThresholdPolicy,
    decrypt_stream,
    encrypt_stream,
    read_header,
    rewrap,
)
from medledger.flows.errors import (
    AccessDeniedError,
    AlreadyCurrentError,
    AlreadyRegisteredError,
    EmptyRecordError,
    JournalError,
    MissingEncryptionKeyError,
    NoReadableKeyError,
    NoServiceSetError,
    RecordErasedError,
    RecordNotFoundError,
    RegistrationPendingError,
)
from medledger.flows.journal import (
    COPIED,
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
from medledger.flows.release import read_record
from medledger.flows.session import Session
from medledger.flows.streams import IteratorReader, chunk_reader
from medledger.keyservice.client import KeyReleaseClient
from medledger.keyservice.errors import ServiceAttempt
from medledger.ledger.base import checked_address
from medledger.ledger.values import RecordPointer
from medledger.scopes import Permission, Purpose, category_name
from medledger.storage import (
    BlobStore,
    Cid,
    KuboStore,
    LocalBlockStore,
    StorageError,
    StorageTimeoutError,
    StorageUnavailableError,
    compute_cid,
)
from medledger.storage.replicated import UNREACHABLE, ReplicatedStore, StoreErasure

Fault = Callable[[str], None]  # called after each publish step; tests inject crashes with it
Progress = Callable[[int], None]  # called with each batch of bytes processed (for progress bars)
Step = Callable[[str], None]  # one progress line per step of a fetch
REENCRYPT_SOURCE = "reencrypt:"  # a re-encryption's journaled "source": this prefix, then the old digest


@dataclass(frozen=True)
class Sealing:
    """Who a new container's data key goes to: account stanzas, and the service set's policy."""

    recipients: tuple[Recipient, ...]
    policy: ThresholdPolicy | None  # None: no service set is current on this ledger


@dataclass(frozen=True)
class PublishResult:
    journal_id: str
    cid: str
    digest: bytes
    codec: int
    tx_hash: str | None
    service_set: int | None  # the key-release service set the key was split over; None: nobody
    # but the patient and the author can read the record until the patient re-encrypts it
    stores: tuple[str, ...] = ()  # replicated storage: the stores holding a pinned copy


@dataclass(frozen=True)
class ErasureResult:
    pointer: RecordPointer
    stores: tuple[StoreErasure, ...]  # per store: the blob's blocks gone, still served, or unreachable


@dataclass(frozen=True)
class FetchResult:
    pointer: RecordPointer
    cid: str
    path: Path
    size: int
    direct: bool = True  # opened with the reader's own stanza (patient, author), no services asked
    access_tx: str | None = None  # the logAccess transaction, when the read was logged
    attempts: tuple[ServiceAttempt, ...] = ()  # what each key-release service answered


@dataclass(frozen=True)
class Migration:
    """Why a record needs re-encryption: under a keyring (version 1), under a set no longer
    current, without its author bound (version 2, which the services refuse), or bound to
    another author than the chain names (the patient took over a digest another author wrote)."""

    pointer: RecordPointer
    set_version: int | None  # None: a keyring-era container (format version 1)
    current: int
    bound_author: str | None = None  # the author the container binds; None: formats 1 and 2

    @property
    def reason(self) -> str:
        if self.set_version is None:
            return "no service set (format 1)"
        if self.set_version != self.current:
            return f"service set {self.set_version}"
        if self.bound_author is None:
            return f"service set {self.set_version}, author not bound (format 2)"
        return f"service set {self.set_version}, bound to author {self.bound_author}"


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
    """Encrypt `source` for `patient`, store and pin it, and register its pointer on chain.

    The data key is sealed to the patient and the author and split over the current service
    set; `PublishResult.service_set` is None when the ledger has no current set yet."""
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
    sealing = sealing_for(session, patient)  # fails early if the patient has no key
    journal = Journal(session.home)
    entry = journal.begin(
        author=session.address, patient=patient, category=category, source=source, supersedes=supersedes
    )
    return _run(session, journal, entry, fault, sealing, progress)


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


def migration(session: Session, digest: bytes) -> Migration | None:
    """Whether one of the session patient's live records needs re-encryption: a Migration when
    it was written under a keyring (format version 1), under a service set that is no longer
    the current one, without its author bound (format version 2: the services refuse it), or
    bound to another author than the record's on-chain one; None when it is already under the
    current set and bound to its author."""
    pointer = _pointer(session, session.address, digest)
    current = session.ledger.services.current_version()
    header = _header(session, pointer)
    version = header.threshold.set_version if header.threshold is not None else None
    bound = None if header.author is None else to_checksum_address(header.author)
    if version is not None and version == current and bound == pointer.author:
        return None
    return Migration(pointer, version, current, bound)


def reencrypt(session: Session, digest: bytes, *, fault: Fault | None = None) -> PublishResult:
    """Re-encrypt one of the session patient's records under the current key-release service
    set: a fresh data key sealed to the patient and split over the current set, published as an
    amendment; then the old version is erased (blob unpinned, pointer marked).

    For records written under a keyring (format version 1), under a service set that has been
    superseded, without their author bound (format version 2), or bound to another author than
    the chain names (a digest the patient took over). Refused (AlreadyCurrentError) for a record
    already under the current set and bound to its author, and (NoServiceSetError) while the
    ledger has no current set.

    The new container is journaled like any publish. If a crash strikes before the old version
    is erased, `reencrypt_all` (or `medledger record erase OLD`) finishes the job."""
    patient = session.address
    pointer = _pointer(session, patient, digest)
    if pointer.superseded:
        finished = _finish_interrupted(session, digest)
        if finished is not None:
            return finished
        raise revert_class("RecordAlreadySuperseded")(
            "RecordAlreadySuperseded", {"patient": patient, "digest": bytes(digest)}
        )
    needed = migration(session, digest)
    if needed is None:
        raise AlreadyCurrentError(
            f"record 0x{bytes(digest).hex()} is already under the current key-release service set "
            f"{session.ledger.services.current_version()}, bound to its author: there is nothing to re-encrypt"
        )
    sealing = sealing_for(session, patient, author=patient)
    if sealing.policy is None:
        raise NoServiceSetError(
            "this ledger has no current key-release service set, so there is nothing to re-encrypt under; "
            "the admin proposes one (`medledger admin propose-services`)"
        )
    journal = Journal(session.home)
    entry = journal.begin(
        author=patient,
        patient=patient,
        category=pointer.category,
        source=Path(f"{REENCRYPT_SOURCE}0x{bytes(digest).hex()}"),
        supersedes=digest,
    )
    staging = journal.staging_path(entry)
    tmp = staging.with_suffix(".tmp")
    old = Cid.from_digest(pointer.digest, pointer.codec)
    with tmp.open("wb") as dst:
        rewrap(
            cast(BinaryIO, IteratorReader(session.store.get(old))),
            dst,
            # The source as it was written (versions 1 and 2 bind no author); the output under
            # the patient, who registers it.
            binding=session.binding(patient, pointer.category, author=needed.bound_author or pointer.author),
            identity=session.keypair,  # the patient's own stanza, in every version
            recipients=sealing.recipients,
            threshold_policy=sealing.policy,
            output_binding=session.binding(patient, pointer.category, author=patient),
        )
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(tmp, staging)
    journal.advance(entry, ENCRYPTED, staging=str(staging), service_set=sealing.policy.set_version)
    (fault or (lambda step: None))(ENCRYPTED)
    result = _run(session, journal, entry, fault, sealing)
    erase(session, digest)
    return result


def reencrypt_all(session: Session, *, step: Step | None = None) -> list[PublishResult]:
    """Re-encrypt every live record of the session patient that `migration` says needs it,
    one after the other (each crash-safe as `reencrypt`); first finishes re-encryptions a crash
    left without erasing their old version. One progress line per record."""
    say = step or (lambda line: None)
    if not session.ledger.services.current_version():
        raise NoServiceSetError(
            "this ledger has no current key-release service set, so there is nothing to re-encrypt under; "
            "the admin proposes one (`medledger admin propose-services`)"
        )
    for entry in Journal(session.home).entries():
        old = _reencrypted_from(entry)
        if old is not None and entry.state == DONE and _finish_interrupted(session, old) is not None:
            say(f"finished an interrupted re-encryption: erased 0x{old.hex()}")
    results = []
    for digest in live_records(session, session.address):
        needed = migration(session, digest)
        if needed is None:
            continue
        result = reencrypt(session, digest)
        now_under = f"under service set {result.service_set}"
        say(f"re-encrypted 0x{digest.hex()} (under {needed.reason}) as {result.cid} {now_under}")
        results.append(result)
    return results


def live_records(session: Session, patient: str) -> list[bytes]:
    """Digests of `patient`'s records that are neither superseded nor erased, oldest first."""
    digests: list[bytes] = []
    for event in session.ledger.events("RecordAdded", from_block=session.from_block, patient=patient):
        digest = bytes(event.args.digest)
        if digest in digests:
            continue
        pointer = session.ledger.records.get(patient, digest)
        if pointer.exists and not pointer.erased and not pointer.superseded:
            digests.append(digest)
    return digests


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
    step: Step | None = None,
    client: KeyReleaseClient | None = None,
) -> FetchResult:
    """Fetch and decrypt one record to `destination` (written whole or not at all).

    The patient, and the record's author, open their own stanza: fetch the blob, every block
    verified against its CID, into a staged copy -> with `log_access` (the default) record the
    read on chain (`logAccess`) and wait for its receipt -> decrypt. (An author without READ
    consent has nothing to log against: it reads what it wrote, unlogged.) Everyone else reads
    through the key-release services (flows.release.read_record): verified blob -> logAccess,
    confirmed -> k shares, each service checking the reader's access now -> decrypt; that read
    is always logged. `step` receives one line per step. A fetch that fails before the blob is
    whole and verified logs nothing.
    """
    patient = checked_address(patient, "patient")
    pointer = _pointer(session, patient, digest)
    if session.address == patient or pointer.author == session.address:
        direct = _fetch_direct(session, pointer, destination, purpose, progress, log_access, step)
        if direct is not None:
            return direct
    if not log_access:
        raise AccessDeniedError(
            f"{session.address} reads {patient}'s record through the key-release services, which release a key "
            "only for a read logged on chain; only the patient and the record's author may read unlogged"
        )
    read = read_record(session, patient, digest, destination, purpose=purpose, client=client, step=step)
    return FetchResult(read.pointer, read.cid, read.path, read.size, False, read.access_tx, read.attempts)


def erase(session: Session, digest: bytes) -> RecordPointer:
    """Erase one of the session patient's records (see `erase_record`); the erased pointer."""
    return erase_record(session, digest).pointer


def erase_record(session: Session, digest: bytes) -> ErasureResult:
    """Erase one of the session patient's records: unpin the blob (with the only copies of its
    sealed data keys) on every store and have each store collect garbage, then mark the pointer
    erased. The result says per store whether the blob's blocks are gone, still served, or the
    store could not be reached (it keeps them until it is back and collects them: `medledger
    storage audit` reports erased records still served). If no store could be reached nothing is
    marked (StorageUnavailableError). Re-running finishes a partial erase."""
    pointer = _pointer(session, session.address, digest, allow_erased=True)
    if pointer.erased:
        raise RecordErasedError(f"record {digest.hex()} is already erased")
    cid = Cid.from_digest(pointer.digest, pointer.codec)
    store = replicated_view(session.store)
    if store is None:  # a store of another kind: unpin is all it offers
        session.store.unpin(cid)
        outcomes: tuple[StoreErasure, ...] = ()
    else:
        outcomes = store.erase(cid)
        if all(outcome.state == UNREACHABLE for outcome in outcomes):
            details = "; ".join(f"{o.store}: {o.detail}" for o in outcomes)
            raise StorageUnavailableError(
                f"no store could be reached to erase {cid}, so the record was not marked erased: {details}"
            )
    session.ledger.records.erase(digest)
    return ErasureResult(session.ledger.records.get(session.address, digest), outcomes)


def replicated_view(store: BlobStore) -> ReplicatedStore | None:
    """`store` as a ReplicatedStore (a single KuboStore or embedded store becomes one of one)."""
    if isinstance(store, ReplicatedStore):
        return store
    if isinstance(store, (KuboStore, LocalBlockStore)):
        return ReplicatedStore.single(store)
    return None


# -- internals ---------------------------------------------------------------------------------


def encryption_key(session: Session, account: str) -> bytes:
    """`account`'s published X25519 key, or a clear error telling them to publish one."""
    key = session.ledger.keys.encryption_key_of(account)
    if key is None:
        raise MissingEncryptionKeyError(
            f"{account} has not published an encryption key; they must run `medledger keys publish` first"
        )
    return key


def sealing_for(session: Session, patient: str, *, author: str | None = None) -> Sealing:
    """Seal to the patient's published key and the author's own key, and split over the ledger's
    current service set (its version, k, and every member's X25519 key), if there is one."""
    recipients: list[Recipient] = [AccountRecipient(encryption_key(session, patient))]
    if (author or session.address) != patient:
        recipients.append(AccountRecipient(session.keypair.public))
    current = session.ledger.services.current()
    policy = None
    if current is not None:
        policy = ThresholdPolicy(
            current.version,
            current.threshold,
            tuple(ServiceRecipient(index + 1, key) for index, key in enumerate(current.encryption_keys)),
        )
    return Sealing(tuple(recipients), policy)


def _run(
    session: Session,
    journal: Journal,
    entry: JournalEntry,
    fault: Fault | None,
    sealing: Sealing | None,
    progress: Progress | None = None,
) -> PublishResult:
    """Drive `entry` forward from whatever state it is in. Every step is idempotent."""
    checkpoint = fault or (lambda step: None)
    while entry.state not in (DONE, ROLLED_BACK):
        if entry.state == STARTED:
            _encrypt(session, journal, entry, sealing, progress)
        elif entry.state == ENCRYPTED:
            _store(session, journal, entry, checkpoint)
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
    return PublishResult(
        entry.id, str(cid), cid.digest, cid.codec, entry.tx_hash, entry.service_set, tuple(entry.stores or ())
    )


def _encrypt(
    session: Session,
    journal: Journal,
    entry: JournalEntry,
    sealing: Sealing | None,
    progress: Progress | None,
) -> None:
    staging = journal.staging_path(entry)
    sealing = sealing or sealing_for(session, entry.patient)
    source = Path(entry.source)
    if not source.is_file():
        raise JournalError(f"the source file {source} of journal entry {entry.id} is gone; roll it back")
    tmp = staging.with_suffix(".tmp")
    with source.open("rb") as raw, tmp.open("wb") as dst:
        src = cast(BinaryIO, _CountingReader(raw, progress)) if progress else raw
        info = encrypt_stream(
            src,
            dst,
            binding=session.binding(entry.patient, entry.category, author=entry.author),
            recipients=sealing.recipients,
            threshold_policy=sealing.policy,
        )
        dst.flush()
        os.fsync(dst.fileno())
    if info.plaintext_bytes == 0:  # emptied since it was checked
        _remove(str(tmp))
        raise _empty(source, f"; roll back journal entry {entry.id} (`medledger record resume {entry.id} --rollback`)")
    os.replace(tmp, staging)
    set_version = sealing.policy.set_version if sealing.policy is not None else None
    journal.advance(entry, ENCRYPTED, staging=str(staging), service_set=set_version)


def _store(session: Session, journal: Journal, entry: JournalEntry, checkpoint: Fault) -> None:
    """Store and pin the staged blob. With replicated storage, one copy at a time until r stores
    hold it, each copy journaled (`stores`) before the next starts, so a resume copies onward."""
    if entry.staging is None:
        raise JournalError(f"journal entry {entry.id} is {entry.state} but names no staged file; it is damaged")
    store = session.store
    stores: list[str] | None = None
    try:
        with open(entry.staging, "rb") as blob:
            if isinstance(store, ReplicatedStore):

                def copied(name: str, copy: Cid) -> None:
                    journal.advance(entry, ENCRYPTED, cid=str(copy), stores=[*(entry.stores or []), name])
                    checkpoint(COPIED)

                report = store.put_copies(blob, holders=entry.stores or (), on_copy=copied)
                cid, stores = report.cid, list(report.holders)
            else:
                cid = store.put(blob)  # content-addressed: a repeat stores the same CID
    except StorageError as exc:
        # Same exception (its type says what failed), its one line now also saying what is left.
        exc.args = (
            f"{exc}; the publish is kept as journal entry {entry.id} with its encrypted copy "
            f"{entry.staging}: run `medledger record resume {entry.id}` once the store is back, "
            f"or `medledger record resume {entry.id} --rollback` to discard both",
        )
        raise
    journal.advance(entry, STORED, cid=str(cid), stores=stores)


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
        _unpin_copies(session.store, entry, cid)
    staging = journal.staging_path(entry)
    _remove(entry.staging)
    _remove(str(staging))
    _remove(str(staging.with_suffix(".tmp")))  # a crash while encrypting
    journal.advance(entry, ROLLED_BACK)


def _unpin_copies(store: BlobStore, entry: JournalEntry, cid: Cid | str) -> None:
    """Unpin on every store: those the journal says hold a copy must answer; the others are
    asked too (a crash during a put leaves a copy unjournaled), and may be unreachable."""
    if not isinstance(store, ReplicatedStore):
        store.unpin(cid)
        return
    holders = [name for name in entry.stores or () if name in store.names]
    store.unpin_on(holders, cid)
    for name in store.names:
        if name not in holders:
            with contextlib.suppress(StorageUnavailableError, StorageTimeoutError):
                store.unpin_on([name], cid)


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


def _header(session: Session, pointer: RecordPointer) -> ContainerHeader:
    """A record's container header, read from the start of its verified blob."""
    chunks = session.store.get(Cid.from_digest(pointer.digest, pointer.codec))
    try:
        return read_header(chunk_reader(chunks))
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _reencrypted_from(entry: JournalEntry) -> bytes | None:
    """The digest a journaled re-encryption replaced, None for an ordinary publish."""
    if not entry.source.startswith(REENCRYPT_SOURCE):
        return None
    try:
        return bytes.fromhex(entry.source.removeprefix(REENCRYPT_SOURCE).removeprefix("0x"))
    except ValueError:
        return None


def _finish_interrupted(session: Session, old: bytes) -> PublishResult | None:
    """Erase `old` if a finished re-encryption journaled here replaced it and a crash kept it."""
    for entry in Journal(session.home).entries():
        if entry.state != DONE or entry.author != session.address or _reencrypted_from(entry) != bytes(old):
            continue
        pointer = session.ledger.records.get(session.address, old)
        if not pointer.exists or pointer.erased or not pointer.superseded:
            return None
        erase(session, old)
        cid = Cid.parse(entry.cid)  # type: ignore[arg-type]
        return PublishResult(entry.id, str(cid), cid.digest, cid.codec, entry.tx_hash, entry.service_set)
    return None


def _fetch_direct(
    session: Session,
    pointer: RecordPointer,
    destination: str | os.PathLike[str],
    purpose: Purpose,
    progress: Progress | None,
    log_access: bool,
    step: Step | None,
) -> FetchResult | None:
    """The patient's or the author's read with its own stanza; None when the container holds no
    stanza for this account (an author's keyring-era record: only the services can help)."""
    say = step or (lambda line: None)
    patient = pointer.patient
    cid = Cid.from_digest(pointer.digest, pointer.codec)
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with _verified_blob(session, cid, progress) as blob:
        size = blob.seek(0, os.SEEK_END)
        blob.seek(0)
        header = read_header(blob)
        blob.seek(0)
        if not any(stanza.recipient.public == session.keypair.public for stanza in header.stanzas):
            if session.address == patient:
                raise _no_key(session, pointer)
            return None
        say(f"fetched and verified blob {cid} ({size} bytes)")
        access_tx = None
        if log_access and (
            session.address == patient
            or session.ledger.consent.has_access(patient, session.address, pointer.category, purpose, Permission.READ)
        ):
            access_tx = session.ledger.records.log_access(patient, pointer.digest, purpose).tx_hash
            say(f"access logged on chain in transaction {access_tx}")
        info = _decrypt_to(session, pointer, blob, destination)
        say(f"decrypted {info.plaintext_bytes} bytes to {destination} with this account's own key (no service asked)")
    return FetchResult(pointer, str(cid), destination, info.plaintext_bytes, True, access_tx)


def _decrypt_to(session: Session, pointer: RecordPointer, blob: BinaryIO, destination: Path) -> ContainerInfo:
    """Decrypt into a temporary file beside `destination`, renamed into place once every chunk
    authenticated."""
    fd, tmp = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                info = decrypt_stream(
                    blob,
                    out,
                    binding=session.binding(pointer.patient, pointer.category, author=pointer.author),
                    identity=session.keypair,
                )
            except NotARecipientError:
                raise _no_key(session, pointer) from None
        os.replace(tmp, destination)
    except BaseException:
        _remove(tmp)
        raise
    return info


def _no_key(session: Session, pointer: RecordPointer) -> Exception:
    return NoReadableKeyError(
        f"record {pointer.digest.hex()} holds no stanza for {session.address}'s key (was its encryption key "
        "changed after the record was written?)"
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


__all__ = [
    "ErasureResult",
    "FetchResult",
    "Migration",
    "PublishResult",
    "Sealing",
    "amend",
    "can_write",
    "encryption_key",
    "erase",
    "erase_record",
    "fetch",
    "live_records",
    "migration",
    "publish",
    "reencrypt",
    "reencrypt_all",
    "resume",
    "sealing_for",
]
