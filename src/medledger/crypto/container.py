"""Streaming record container: a fresh data key per record, content sealed in chunks.

Each container has its own random 32-byte data key. Content is encrypted with libsodium's
``crypto_secretstream_xchacha20poly1305`` in fixed-size chunks, so memory stays bounded by
the chunk size whatever the record size.

Three format versions, all read; the writer picks version 3 or 1:

* version 3 (threshold key release, author bound): version 2 plus the record's author. The
  binding covers the author's 20-byte address (:class:`ContainerBinding` with ``author``), and
  the header names it, so a key-release service can compare it with the on-chain record's
  author before releasing anything.
* version 2 (threshold key release, read only): the data key is sealed (``crypto_box_seal``)
  directly to a few accounts, the patient and the record's author, and split k-of-n with
  :mod:`medledger.crypto.shares`, one share sealed to each key-release service of an on-chain
  service set. Nobody else gets the key except by collecting k shares from the services. Its
  binding names no author, so the services refuse it (see "the author" below); the patient
  opens it with its own stanza and re-encrypts it as version 3.
* version 1 (category keyrings, read for migration): the data key is sealed to the patient's
  account key and to a category keyring's public key. Keyrings are gone; the patient opens a
  version-1 container with its own account stanza and re-encrypts it under a service set. A
  keyring stanza is still parsed (and, for test fixtures of the migration, still written from
  a ``KeyringRecipient``), but no code holds keyring secrets any more. Also written, with
  account stanzas only, when no service set is current: the patient and the author read it,
  the services never release it, and its binding names no author.

Byte layout (version 1, all integers big-endian)::

    header
      magic            8    b"MEDLEDGR"
      version          u8   1
      chunk_size       u32  MIN_CHUNK_SIZE .. MAX_CHUNK_SIZE (plaintext bytes per chunk)
      binding_digest   32   BLAKE2b-256 of the ContainerBinding encoding
      key_commitment   32   keyed BLAKE2b-256 of a constant under the data key
      recipient_count  u16  1 .. MAX_RECIPIENTS
      stanzas          recipient_count x one of
                         0x01 account:  public 32, sealed_data_key 80
                         0x02 keyring:  category u8, epoch u32, public 32, sealed_data_key 80
      stream_header    24   secretstream header
    chunks, each
      length           u32  ciphertext length, 17 .. chunk_size + 17
      ciphertext       length bytes (plaintext + 17-byte secretstream tag)

Byte layout (version 2): version 1's, with ``version`` = 2 and a threshold section between
the recipient stanzas and the stream header::

    header
      magic .. stanzas as in version 1 (account stanzas for the patient and the author)
      threshold section
        set_version    u32  1 .. 2**32-1, the on-chain key-release service set
        threshold      u8   k, 1 .. share_count
        share_count    u8   n, 1 .. MAX_SERVICES (16): every member of that set
        share stanzas  share_count x, in index order
                         index          u8   1 .. n, equal to the stanza's position + 1
                                             (the service's 1-based index in the set)
                         public         32   the service's X25519 key in that set
                         commitment     32   share_commitment(share, binding_digest)
                         sealed_share   81   crypto_box_seal(index u8 || share 32, public)
      stream_header    24   secretstream header
    chunks as in version 1

Byte layout (version 3): version 2's, with ``version`` = 3 and the author right after the
fixed fields; ``binding_digest`` is the digest of the binding with the author::

    header
      magic .. recipient_count as in version 1
      author           20   the record's author (an Ethereum address)
      stanzas, threshold section and stream_header as in version 2
    chunks as in version 1

The author. A binding of chain, registry, patient and category names no single record, so a
version-2 header reused by a decoy record of the same patient and category (registered by
another writer with WRITE consent there) would make the services release the original
record's key to readers of the decoy. Version 3 binds the author: a service checks that the
header's author, and the binding digest recomputed with the on-chain record's author, match
the record it is asked about, so a copied header only ever opens under records its own author
registered (or, after a takeover of a squatted digest, the patient, who wrote that blob).

The threshold section (and the author) are part of the header, so it is authenticated with every chunk like
the rest: a swapped, added or dropped share stanza fails decryption. The largest header
(version 3: the author, 1024 keyring stanzas and 16 share stanzas) is 123,297 bytes, so it always lies within the
first 256 KiB IPFS leaf of the blob, which is what a service is shown (storage/proof.py).

A service sees only the header, not the chunks that authenticate it, so it first compares
``binding_digest`` with :meth:`ContainerBinding.digest` of the record's on-chain chain id,
registry, patient, category and author, then opens only its own stanza (:func:`open_service_share`)
and checks the share against its commitment. The commitment is keyed by the share itself
and binds the binding digest: a stanza cut from one patient's container and pasted into a
container bound to another patient or category does not verify, and no one without the
share can make one that does. (The binding names no single record: the same header under
another record of the same patient, category and author would verify, and opens the same key;
only that author could register such a record, and it holds the key anyway.)
The writer takes ``k`` and the member keys from the chain; the header's own ``threshold``
is what the services honour, so a reader or service may compare it with the set's.

A reader checks each share it receives (:func:`verify_share`), so a wrong share is caught
and named by index before combining; :func:`data_key_from_shares` then checks the combined
key against the key commitment, which catches an author who split some other key.

Every chunk but the last holds exactly ``chunk_size`` plaintext bytes and is tagged
TAG_MESSAGE; the last holds 0 .. chunk_size bytes and is tagged TAG_FINAL. Nothing may
follow it. The associated data of every chunk is ``binding encoding || BLAKE2b-256(header)``,
so a container moved to another chain, registry, patient, category or (version 3) author, or
with any header byte edited, fails to authenticate. Versions 1 and 2 are opened with the
binding's encoding without the author (:meth:`ContainerBinding.without_author`). The key
commitment lets a wrong key be reported as such instead of as tampering.

Decryption releases a chunk's plaintext only after that chunk authenticates. Earlier chunks
are already written when a later one fails, so callers must write to a temporary file and
rename it into place only when :func:`decrypt_stream` (or :func:`decrypt_stream_with_key`)
returns; on any exception, delete the temporary file. The same holds for the output of
:func:`rewrap`.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, TypeAlias

import nacl.utils
from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_ABYTES as _ABYTES,
)
from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_HEADERBYTES as _STREAM_HEADER_BYTES,
)
from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_init_pull,
    crypto_secretstream_xchacha20poly1305_init_push,
    crypto_secretstream_xchacha20poly1305_pull,
    crypto_secretstream_xchacha20poly1305_push,
    crypto_secretstream_xchacha20poly1305_state,
)
from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_TAG_FINAL as _TAG_FINAL,
)
from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE as _TAG_MESSAGE,
)
from nacl.exceptions import CryptoError as NaclCryptoError

from .errors import (
    BindingMismatchError,
    InsufficientSharesError,
    MalformedContainerError,
    NotARecipientError,
    NotAServiceError,
    SealedBoxError,
    ShareError,
    TamperedContainerError,
    TamperedShareError,
    TruncatedContainerError,
    UnsupportedVersionError,
    WrongKeyError,
)
from .keys import X25519_KEY_BYTES, EncryptionKeyPair, require_length
from .sealing import SEAL_OVERHEAD, SEALED_KEY_BYTES, X25519KeyPair, open_sealed, seal
from .shares import (
    ENCODED_SHARE_BYTES,
    MAX_SHARES,
    SHARE_COMMITMENT_BYTES,
    KeyShare,
    combine_shares,
    decode_share,
    encode_share,
    share_commitment,
    split_secret,
    verify_share_commitment,
)

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "FORMAT_VERSION",
    "MAGIC",
    "MAX_CHUNK_SIZE",
    "MAX_RECIPIENTS",
    "MAX_SERVICES",
    "MIN_CHUNK_SIZE",
    "SEALED_SHARE_BYTES",
    "SUPPORTED_VERSIONS",
    "THRESHOLD_FORMAT_VERSION",
    "UNBOUND_THRESHOLD_VERSION",
    "AccountRecipient",
    "ContainerBinding",
    "ContainerHeader",
    "ContainerInfo",
    "DataKey",
    "Identity",
    "KeyringRecipient",
    "Recipient",
    "RecipientStanza",
    "ServiceRecipient",
    "ShareStanza",
    "ThresholdPolicy",
    "ThresholdSection",
    "binding_of",
    "data_key_from_shares",
    "decrypt_stream",
    "decrypt_stream_with_key",
    "encrypt_stream",
    "open_service_share",
    "read_header",
    "read_header_bytes",
    "rewrap",
    "unwrap_data_key",
    "verify_share",
]

MAGIC = b"MEDLEDGR"
FORMAT_VERSION = 1  # keyring-era containers: written when no threshold policy is given
UNBOUND_THRESHOLD_VERSION = 2  # a threshold section, no author (read only)
THRESHOLD_FORMAT_VERSION = 3  # a threshold section and the author: written with a threshold policy
SUPPORTED_VERSIONS = (FORMAT_VERSION, UNBOUND_THRESHOLD_VERSION, THRESHOLD_FORMAT_VERSION)
_THRESHOLD_VERSIONS = (UNBOUND_THRESHOLD_VERSION, THRESHOLD_FORMAT_VERSION)
MAX_SERVICES = MAX_SHARES  # 16
MAX_SET_VERSION = 2**32 - 1
SEALED_SHARE_BYTES = ENCODED_SHARE_BYTES + SEAL_OVERHEAD  # 81
DEFAULT_CHUNK_SIZE = 64 * 1024
MIN_CHUNK_SIZE = 16
MAX_CHUNK_SIZE = 16 * 1024 * 1024  # bounds the allocation a hostile length field can force
MAX_RECIPIENTS = 1024
DATA_KEY_BYTES = 32

ADDRESS_BYTES = 20
MAX_CATEGORY = 255  # categories are bit positions of a uint256 bitmask
MAX_EPOCH = 2**32 - 1

_KIND_ACCOUNT = 0x01
_KIND_KEYRING = 0x02
_MAX_CHAIN_ID = 2**64 - 1
_FIXED_HEAD = struct.Struct(">8sBI32s32sH")  # magic .. recipient_count
_LENGTH = struct.Struct(">I")
_KEYRING_LABEL = struct.Struct(">BI")
_THRESHOLD_HEAD = struct.Struct(">IBB")  # set_version, threshold, share_count
# BLAKE2b personalisations (16 bytes each) keep the three hashes in separate domains.
_PERSON_BINDING = b"medledger:bind:1"
_PERSON_AUTHOR_BINDING = b"medledger:bind:2"  # a binding with an author: its own domain
_PERSON_HEADER = b"medledger:head:1"
_PERSON_COMMIT = b"medledger:kcmt:1"


# --- values -----------------------------------------------------------------------------


def check_category(category: int) -> int:
    if isinstance(category, bool) or not isinstance(category, int):
        raise ValueError(f"category must be an int 0..{MAX_CATEGORY}")
    if not 0 <= category <= MAX_CATEGORY:
        raise ValueError(f"category must be 0..{MAX_CATEGORY}, got {category}")
    return category


def check_epoch(epoch: int) -> int:
    if isinstance(epoch, bool) or not isinstance(epoch, int):
        raise ValueError(f"epoch must be an int 0..{MAX_EPOCH}")
    if not 0 <= epoch <= MAX_EPOCH:
        raise ValueError(f"epoch must be 0..{MAX_EPOCH}, got {epoch}")
    return epoch


@dataclass(frozen=True)
class ContainerBinding:
    """Where a record belongs, and (version 3) who wrote it. Its encoding is authenticated
    with every chunk. Writing a threshold container (version 3) needs an ``author``; versions
    1 and 2 are opened with the binding :meth:`without_author`, whatever ``author`` says."""

    chain_id: int
    registry: bytes
    patient: bytes
    category: int
    author: bytes | None = None

    def __post_init__(self) -> None:
        if isinstance(self.chain_id, bool) or not isinstance(self.chain_id, int):
            raise ValueError("chain_id must be an int")
        if not 0 < self.chain_id <= _MAX_CHAIN_ID:
            raise ValueError(f"chain_id must be 1..2**64-1, got {self.chain_id}")
        for name in ("registry", "patient", "author"):
            value = getattr(self, name)
            if value is None and name == "author":
                continue
            if not isinstance(value, (bytes, bytearray)) or len(value) != ADDRESS_BYTES:
                raise ValueError(f"{name} address must be {ADDRESS_BYTES} bytes")
            object.__setattr__(self, name, bytes(value))
        check_category(self.category)

    def without_author(self) -> ContainerBinding:
        """The binding as versions 1 and 2 encode it: chain, registry, patient and category."""
        if self.author is None:
            return self
        return ContainerBinding(self.chain_id, self.registry, self.patient, self.category)

    def encode(self) -> bytes:
        """Canonical encoding: chain_id u64 || registry || patient || category u8 (49 bytes),
        then, with an author, || author (69 bytes)."""
        head = self.chain_id.to_bytes(8, "big") + self.registry + self.patient + bytes([self.category])
        return head if self.author is None else head + self.author

    def digest(self) -> bytes:
        person = _PERSON_BINDING if self.author is None else _PERSON_AUTHOR_BINDING
        return hashlib.blake2b(self.encode(), digest_size=32, person=person).digest()


@dataclass(frozen=True)
class DataKey:
    """A container's symmetric data key. ``repr`` never shows it."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "secret", require_length(self.secret, DATA_KEY_BYTES, "data key"))

    @classmethod
    def generate(cls) -> DataKey:
        return cls(nacl.utils.random(DATA_KEY_BYTES))

    def commitment(self) -> bytes:
        return hashlib.blake2b(b"key-commitment", digest_size=32, key=self.secret, person=_PERSON_COMMIT).digest()


@dataclass(frozen=True)
class AccountRecipient:
    """An account (typically the patient), by its X25519 public key."""

    public: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "public", require_length(self.public, X25519_KEY_BYTES, "recipient public key"))


@dataclass(frozen=True)
class KeyringRecipient:
    """A version-1 stanza's recipient: one epoch of a category keyring, by its public key.
    Parsed from keyring-era containers; nothing written by medledger seals to one any more."""

    category: int
    epoch: int
    public: bytes

    def __post_init__(self) -> None:
        check_category(self.category)
        check_epoch(self.epoch)
        object.__setattr__(self, "public", require_length(self.public, X25519_KEY_BYTES, "keyring public key"))


Recipient: TypeAlias = AccountRecipient | KeyringRecipient
Identity: TypeAlias = EncryptionKeyPair | DataKey


def _check_service_index(index: object, what: str) -> int:
    if isinstance(index, bool) or not isinstance(index, int):
        raise ValueError(f"{what} index must be an int, got {type(index).__name__}")
    if not 1 <= index <= MAX_SERVICES:
        raise ValueError(f"{what} index must be 1..{MAX_SERVICES}, got {index}")
    return index


def _check_set_version(version: object) -> int:
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError(f"service set version must be an int, got {type(version).__name__}")
    if not 1 <= version <= MAX_SET_VERSION:
        raise ValueError(f"service set version must be 1..{MAX_SET_VERSION}, got {version}")
    return version


@dataclass(frozen=True)
class ServiceRecipient:
    """A key-release service of an on-chain set: its 1-based index there and its X25519 key."""

    index: int
    public: bytes

    def __post_init__(self) -> None:
        _check_service_index(self.index, "service")
        object.__setattr__(self, "public", require_length(self.public, X25519_KEY_BYTES, "service public key"))


@dataclass(frozen=True)
class ThresholdPolicy:
    """Split the data key ``threshold``-of-n over every service of set ``set_version``.

    ``services`` must be the whole set: indexes 1..n, each once (any order; kept sorted), with
    distinct keys, since one key holding two shares would lower the threshold in effect."""

    set_version: int
    threshold: int
    services: tuple[ServiceRecipient, ...]

    def __post_init__(self) -> None:
        _check_set_version(self.set_version)
        services = tuple(self.services)
        for service in services:
            if not isinstance(service, ServiceRecipient):
                raise TypeError(f"services must be ServiceRecipient, got {type(service).__name__}")
        if not 1 <= len(services) <= MAX_SERVICES:
            raise ValueError(f"a threshold policy needs 1..{MAX_SERVICES} services, got {len(services)}")
        services = tuple(sorted(services, key=lambda service: service.index))
        if [service.index for service in services] != list(range(1, len(services) + 1)):
            raise ValueError(
                f"service indexes must be 1..{len(services)}, each once, got {[service.index for service in services]}"
            )
        if len({service.public for service in services}) != len(services):
            raise ValueError("two services of the policy share one X25519 key")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int):
            raise ValueError(f"threshold must be an int, got {type(self.threshold).__name__}")
        if not 1 <= self.threshold <= len(services):
            raise ValueError(f"threshold must be 1..{len(services)}, got {self.threshold}")
        object.__setattr__(self, "services", services)


@dataclass(frozen=True)
class ShareStanza:
    """One service's share in a header: sealed to ``public``, committed by ``commitment``."""

    index: int
    public: bytes
    commitment: bytes
    sealed_share: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_service_index(self.index, "share stanza")
        object.__setattr__(self, "public", require_length(self.public, X25519_KEY_BYTES, "service public key"))
        object.__setattr__(
            self,
            "commitment",
            require_length(self.commitment, SHARE_COMMITMENT_BYTES, "share commitment"),
        )
        object.__setattr__(self, "sealed_share", require_length(self.sealed_share, SEALED_SHARE_BYTES, "sealed share"))


@dataclass(frozen=True)
class ThresholdSection:
    """A version-2 or version-3 header's threshold section (see the module docstring)."""

    set_version: int
    threshold: int
    stanzas: tuple[ShareStanza, ...]

    @property
    def share_count(self) -> int:
        return len(self.stanzas)

    def stanza(self, index: int) -> ShareStanza:
        """The stanza of service ``index``; :class:`NotAServiceError` if there is none."""
        for stanza in self.stanzas:
            if stanza.index == index:
                return stanza
        raise NotAServiceError(
            f"the container has no share stanza for service index {index} "
            f"(set version {self.set_version} has indexes 1..{len(self.stanzas)})"
        )


@dataclass(frozen=True)
class RecipientStanza:
    recipient: Recipient
    sealed_key: bytes = field(repr=False)


@dataclass(frozen=True)
class ContainerHeader:
    """A parsed, not yet authenticated, container header."""

    version: int
    chunk_size: int
    binding_digest: bytes
    key_commitment: bytes
    stanzas: tuple[RecipientStanza, ...]
    stream_header: bytes = field(repr=False)
    raw: bytes = field(repr=False)
    threshold: ThresholdSection | None = None  # versions 2 and 3
    author: bytes | None = None  # version 3 only: the record's author, bound by binding_digest

    @property
    def recipients(self) -> tuple[Recipient, ...]:
        return tuple(stanza.recipient for stanza in self.stanzas)


@dataclass(frozen=True)
class ContainerInfo:
    """What an encryption or decryption processed."""

    version: int
    chunk_size: int
    binding_digest: bytes
    recipients: tuple[Recipient, ...]
    plaintext_bytes: int
    container_bytes: int
    chunks: int
    threshold: ThresholdSection | None = None  # versions 2 and 3
    author: bytes | None = None  # version 3 only


# --- header encoding --------------------------------------------------------------------


def _encode_stanza(recipient: Recipient, sealed_key: bytes) -> bytes:
    if isinstance(recipient, AccountRecipient):
        return bytes([_KIND_ACCOUNT]) + recipient.public + sealed_key
    return (
        bytes([_KIND_KEYRING])
        + _KEYRING_LABEL.pack(recipient.category, recipient.epoch)
        + recipient.public
        + sealed_key
    )


def _read_exact(src: BinaryIO, n: int) -> bytes:
    """Read ``n`` bytes, fewer only at end of stream (loops over short reads of pipes)."""
    data = src.read(n) or b""  # a non-blocking raw stream may answer None
    if len(data) == n or not data:
        return data
    parts = [data]
    got = len(data)
    while got < n:
        more = src.read(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _read_header_field(src: BinaryIO, n: int, what: str, raw: list[bytes]) -> bytes:
    data = _read_exact(src, n)
    if len(data) < n:
        raise TruncatedContainerError(f"container ends inside the header ({what})")
    raw.append(data)
    return data


def read_header(src: BinaryIO) -> ContainerHeader:
    """Parse a container header from ``src``, leaving it positioned at the first chunk.

    Checks magic, version and every length bound; authenticates nothing (the header is
    authenticated with each chunk during decryption)."""
    raw: list[bytes] = []
    magic = _read_exact(src, len(MAGIC))
    if magic != MAGIC:
        raise MalformedContainerError("not a medledger container (bad magic bytes)")
    raw.append(magic)
    version = _read_header_field(src, 1, "version", raw)[0]
    if version not in SUPPORTED_VERSIONS:
        raise UnsupportedVersionError(version, SUPPORTED_VERSIONS)
    rest = _read_header_field(src, _FIXED_HEAD.size - len(MAGIC) - 1, "fixed fields", raw)
    _, _, chunk_size, binding_digest, commitment, count = _FIXED_HEAD.unpack(magic + bytes([version]) + rest)
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise MalformedContainerError(f"chunk size must be {MIN_CHUNK_SIZE}..{MAX_CHUNK_SIZE}, got {chunk_size}")
    if not 1 <= count <= MAX_RECIPIENTS:
        raise MalformedContainerError(f"recipient count must be 1..{MAX_RECIPIENTS}, got {count}")
    author = _read_header_field(src, ADDRESS_BYTES, "author", raw) if version == THRESHOLD_FORMAT_VERSION else None
    stanzas: list[RecipientStanza] = []
    for index in range(count):
        what = f"recipient stanza {index}"
        kind = _read_header_field(src, 1, what, raw)[0]
        recipient: Recipient
        if kind == _KIND_ACCOUNT:
            public = _read_header_field(src, X25519_KEY_BYTES, what, raw)
            recipient = AccountRecipient(public)
        elif kind == _KIND_KEYRING:
            category, epoch = _KEYRING_LABEL.unpack(_read_header_field(src, _KEYRING_LABEL.size, what, raw))
            public = _read_header_field(src, X25519_KEY_BYTES, what, raw)
            recipient = KeyringRecipient(category, epoch, public)
        else:
            raise MalformedContainerError(f"{what} has unknown kind {kind:#04x}")
        stanzas.append(RecipientStanza(recipient, _read_header_field(src, SEALED_KEY_BYTES, what, raw)))
    threshold = _read_threshold_section(src, raw) if version in _THRESHOLD_VERSIONS else None
    stream_header = _read_header_field(src, _STREAM_HEADER_BYTES, "stream header", raw)
    return ContainerHeader(
        version=version,
        chunk_size=chunk_size,
        binding_digest=binding_digest,
        key_commitment=commitment,
        stanzas=tuple(stanzas),
        stream_header=stream_header,
        raw=b"".join(raw),
        threshold=threshold,
        author=author,
    )


def _read_threshold_section(src: BinaryIO, raw: list[bytes]) -> ThresholdSection:
    set_version, threshold, count = _THRESHOLD_HEAD.unpack(
        _read_header_field(src, _THRESHOLD_HEAD.size, "threshold section", raw)
    )
    if set_version == 0:
        raise MalformedContainerError("threshold section names service set version 0")
    if not 1 <= count <= MAX_SERVICES:
        raise MalformedContainerError(f"share count must be 1..{MAX_SERVICES}, got {count}")
    if not 1 <= threshold <= count:
        raise MalformedContainerError(f"threshold must be 1..{count} (the share count), got {threshold}")
    stanzas: list[ShareStanza] = []
    for position in range(count):
        what = f"share stanza {position + 1}"
        index = _read_header_field(src, 1, what, raw)[0]
        if index != position + 1:
            raise MalformedContainerError(f"{what} has index {index}, expected {position + 1}")
        public = _read_header_field(src, X25519_KEY_BYTES, what, raw)
        commitment = _read_header_field(src, SHARE_COMMITMENT_BYTES, what, raw)
        sealed = _read_header_field(src, SEALED_SHARE_BYTES, what, raw)
        stanzas.append(ShareStanza(index, public, commitment, sealed))
    return ThresholdSection(set_version, threshold, tuple(stanzas))


def read_header_bytes(prefix: bytes) -> ContainerHeader:
    """Parse a container header from the first bytes of a blob (bytes after it are ignored).

    For a key-release service, which sees only the verified first leaf of a record's blob.
    :class:`TruncatedContainerError` if ``prefix`` ends inside the header."""
    if not isinstance(prefix, (bytes, bytearray, memoryview)):
        raise TypeError(f"prefix must be bytes, got {type(prefix).__name__}")
    return read_header(io.BytesIO(bytes(prefix)))


def _associated_data(binding: ContainerBinding, header_raw: bytes) -> bytes:
    return binding.encode() + hashlib.blake2b(header_raw, digest_size=32, person=_PERSON_HEADER).digest()


def binding_of(header: ContainerHeader, binding: ContainerBinding) -> ContainerBinding:
    """The binding ``header`` must carry to belong where ``binding`` says: ``binding`` itself
    for version 3, which binds the author; without its author for versions 1 and 2.

    :class:`BindingMismatchError` if a version-3 header names another author than
    ``binding``, or ``binding`` names none."""
    if header.version != THRESHOLD_FORMAT_VERSION:
        return binding.without_author()
    if binding.author is None:
        raise BindingMismatchError("container binds its author (format version 3); the binding names no author")
    if header.author is None or not hmac.compare_digest(header.author, binding.author):
        written = "none" if header.author is None else "0x" + header.author.hex()
        raise BindingMismatchError(
            f"container binds author {written}, not the record's author 0x{binding.author.hex()}"
        )
    return binding


def _check_recipients(recipients: Sequence[Recipient], binding: ContainerBinding) -> tuple[Recipient, ...]:
    recipients = tuple(recipients)
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise ValueError(f"a container needs 1..{MAX_RECIPIENTS} recipients, got {len(recipients)}")
    for recipient in recipients:
        if not isinstance(recipient, (AccountRecipient, KeyringRecipient)):
            raise TypeError(f"recipients must be AccountRecipient or KeyringRecipient, got {type(recipient).__name__}")
        # Sealing a record to another category's keyring would leak it to that category's readers.
        if isinstance(recipient, KeyringRecipient) and recipient.category != binding.category:
            raise ValueError(
                f"keyring recipient is for category {recipient.category}, "
                f"the container is bound to category {binding.category}"
            )
    return recipients


# --- encryption -------------------------------------------------------------------------


def _make_threshold_section(policy: ThresholdPolicy, data_key: DataKey, binding_digest: bytes) -> ThresholdSection:
    shares = split_secret(data_key.secret, policy.threshold, len(policy.services))
    stanzas = tuple(
        ShareStanza(
            index=service.index,
            public=service.public,
            commitment=share_commitment(share, binding_digest),
            sealed_share=seal(encode_share(share), service.public),
        )
        for service, share in zip(policy.services, shares, strict=True)
    )
    return ThresholdSection(policy.set_version, policy.threshold, stanzas)


def _encode_threshold_section(section: ThresholdSection) -> bytes:
    return _THRESHOLD_HEAD.pack(section.set_version, section.threshold, len(section.stanzas)) + b"".join(
        bytes([stanza.index]) + stanza.public + stanza.commitment + stanza.sealed_share for stanza in section.stanzas
    )


def _encrypt(
    src: BinaryIO,
    dst: BinaryIO,
    binding: ContainerBinding,
    recipients: tuple[Recipient, ...],
    chunk_size: int,
    data_key: DataKey,
    threshold_policy: ThresholdPolicy | None = None,
) -> ContainerInfo:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise TypeError("chunk_size must be an int")
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be {MIN_CHUNK_SIZE}..{MAX_CHUNK_SIZE}, got {chunk_size}")
    if threshold_policy is not None and not isinstance(threshold_policy, ThresholdPolicy):
        raise TypeError(f"threshold_policy must be a ThresholdPolicy, got {type(threshold_policy).__name__}")
    version = FORMAT_VERSION if threshold_policy is None else THRESHOLD_FORMAT_VERSION
    if version == THRESHOLD_FORMAT_VERSION and binding.author is None:
        raise ValueError("a threshold container binds its author: give the ContainerBinding an author")
    # Version 1 binds no author (the services never release it): written without one.
    binding = binding if version == THRESHOLD_FORMAT_VERSION else binding.without_author()
    section = (
        None if threshold_policy is None else _make_threshold_section(threshold_policy, data_key, binding.digest())
    )
    state = crypto_secretstream_xchacha20poly1305_state()
    stream_header = crypto_secretstream_xchacha20poly1305_init_push(state, data_key.secret)
    header = b"".join(
        [
            _FIXED_HEAD.pack(
                MAGIC,
                version,
                chunk_size,
                binding.digest(),
                data_key.commitment(),
                len(recipients),
            ),
            b"" if binding.author is None else binding.author,
            *(_encode_stanza(r, seal(data_key.secret, r.public)) for r in recipients),
            b"" if section is None else _encode_threshold_section(section),
            stream_header,
        ]
    )
    dst.write(header)
    ad = _associated_data(binding, header)
    push = crypto_secretstream_xchacha20poly1305_push
    pack = _LENGTH.pack
    written = len(header)
    plaintext_bytes = 0
    chunks = 0
    # src.read() hands back the immutable bytes PyNaCl's push requires; a readinto buffer
    # would need one more copy to become bytes. One chunk of look-ahead finds the last one.
    current = _read_exact(src, chunk_size)
    while True:
        following = _read_exact(src, chunk_size) if len(current) == chunk_size else b""
        final = not following
        ciphertext = push(state, current, ad, _TAG_FINAL if final else _TAG_MESSAGE)
        dst.write(pack(len(ciphertext)))
        dst.write(ciphertext)
        written += 4 + len(ciphertext)
        plaintext_bytes += len(current)
        chunks += 1
        if final:
            break
        current = following
    return ContainerInfo(
        version=version,
        chunk_size=chunk_size,
        binding_digest=binding.digest(),
        recipients=recipients,
        plaintext_bytes=plaintext_bytes,
        container_bytes=written,
        chunks=chunks,
        threshold=section,
        author=binding.author,
    )


def encrypt_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    binding: ContainerBinding,
    recipients: Sequence[Recipient],
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    threshold_policy: ThresholdPolicy | None = None,
) -> ContainerInfo:
    """Encrypt everything readable from ``src`` into a new container written to ``dst``,
    under a fresh random data key sealed to each of ``recipients``.

    With a ``threshold_policy`` the container is format version 3: the key is also split
    k-of-n, one share sealed to each service of the policy's set, and ``binding`` must name
    the record's author. Without one it is version 1 (account stanzas while no service set
    is current, keyring recipients for tests and tools of the migration), bound without the
    author."""
    checked = _check_recipients(recipients, binding)
    return _encrypt(src, dst, binding, checked, chunk_size, DataKey.generate(), threshold_policy)


# --- decryption -------------------------------------------------------------------------


def _as_identities(identity: Identity | Iterable[Identity]) -> list[Identity]:
    if isinstance(identity, (EncryptionKeyPair, DataKey)):
        return [identity]
    identities = list(identity)
    for item in identities:
        if not isinstance(item, (EncryptionKeyPair, DataKey)):
            raise TypeError(f"identity must be EncryptionKeyPair or DataKey, got {type(item).__name__}")
    return identities


def unwrap_data_key(header: ContainerHeader, identity: Identity | Iterable[Identity]) -> DataKey:
    """Recover the container's data key with any of the given identities.

    :class:`NotARecipientError` if no stanza is addressed to any of them;
    :class:`WrongKeyError` if an addressed stanza does not open or the key it yields does
    not match the key commitment."""
    failure: str | None = None
    for candidate in _as_identities(identity):
        if isinstance(candidate, DataKey):
            if hmac.compare_digest(candidate.commitment(), header.key_commitment):
                return candidate
            failure = "the data key does not match the container's key commitment"
            continue
        for index, stanza in enumerate(header.stanzas):
            if stanza.recipient.public != candidate.public:
                continue
            try:
                key = DataKey(open_sealed(stanza.sealed_key, candidate))
            except (SealedBoxError, ValueError):
                failure = f"recipient stanza {index} did not open with the given key pair"
                continue
            if hmac.compare_digest(key.commitment(), header.key_commitment):
                return key
            failure = f"recipient stanza {index} holds a key that fails the key commitment"
    if failure is not None:
        raise WrongKeyError(failure)
    raise NotARecipientError(
        f"none of the container's {len(header.stanzas)} recipient stanzas is addressed to the given identity"
    )


def _pull_chunks(
    src: BinaryIO,
    header: ContainerHeader,
    key: DataKey,
    binding: ContainerBinding,
    counter: list[int],
) -> Iterator[bytes]:
    """Yield each chunk's plaintext once it has authenticated; counter = [chunks, bytes]."""
    state = crypto_secretstream_xchacha20poly1305_state()
    crypto_secretstream_xchacha20poly1305_init_pull(state, header.stream_header, key.secret)
    ad = _associated_data(binding, header.raw)
    pull = crypto_secretstream_xchacha20poly1305_pull
    chunk_size = header.chunk_size
    max_length = chunk_size + _ABYTES
    index = 0
    while True:
        prefix = _read_exact(src, 4)
        if len(prefix) < 4:
            raise TruncatedContainerError(f"container ends before chunk {index}; no final chunk")
        (length,) = _LENGTH.unpack(prefix)
        # Checked before reading, so a hostile length cannot force a large allocation.
        if not _ABYTES <= length <= max_length:
            raise MalformedContainerError(f"chunk {index} length {length} is outside {_ABYTES}..{max_length}")
        ciphertext = _read_exact(src, length)
        if len(ciphertext) < length:
            raise TruncatedContainerError(f"container ends inside chunk {index}")
        try:
            plaintext, tag = pull(state, ciphertext, ad)
        except NaclCryptoError:
            raise TamperedContainerError(index) from None
        counter[0] += 1
        counter[1] += 4 + length
        if tag == _TAG_FINAL:
            if src.read(1):
                raise MalformedContainerError(f"trailing data after the final chunk {index}")
            yield plaintext
            return
        if tag != _TAG_MESSAGE:
            raise MalformedContainerError(f"chunk {index} has unexpected stream tag {tag}")
        if len(plaintext) != chunk_size:
            raise MalformedContainerError(
                f"non-final chunk {index} holds {len(plaintext)} bytes, expected {chunk_size}"
            )
        yield plaintext
        index += 1


def _open(
    src: BinaryIO, binding: ContainerBinding, identity: Identity | Iterable[Identity]
) -> tuple[ContainerHeader, DataKey, ContainerBinding]:
    """The header, its data key, and the binding it is checked (and authenticated) under."""
    header = read_header(src)
    binding = binding_of(header, binding)
    if not hmac.compare_digest(header.binding_digest, binding.digest()):
        made = (
            "chain, registry, patient, category or author" if binding.author else "chain, registry, patient or category"
        )
        raise BindingMismatchError(f"container was made for another {made}")
    return header, unwrap_data_key(header, identity), binding


def decrypt_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    binding: ContainerBinding,
    identity: Identity | Iterable[Identity],
) -> ContainerInfo:
    """Decrypt the container read from ``src`` into ``dst``.

    ``identity`` is the reader's account key pair, a data key, or several of these (tried
    in order). Each chunk is written only after it authenticates;
    see the module docstring for why ``dst`` must be a temporary file."""
    header, key, bound = _open(src, binding, identity)
    return _decrypt_body(src, dst, header, key, bound)


def decrypt_stream_with_key(
    src: BinaryIO, dst: BinaryIO, binding: ContainerBinding, data_key: DataKey
) -> ContainerInfo:
    """Decrypt the container read from ``src`` into ``dst`` with a data key already known,
    for instance one combined from service shares (:func:`data_key_from_shares`).

    :class:`WrongKeyError` if the key fails the container's key commitment; otherwise as
    :func:`decrypt_stream`, including why ``dst`` must be a temporary file."""
    if not isinstance(data_key, DataKey):
        raise TypeError(f"data_key must be a DataKey, got {type(data_key).__name__}")
    header, key, bound = _open(src, binding, data_key)
    return _decrypt_body(src, dst, header, key, bound)


def _decrypt_body(
    src: BinaryIO, dst: BinaryIO, header: ContainerHeader, key: DataKey, binding: ContainerBinding
) -> ContainerInfo:
    counter = [0, len(header.raw)]
    plaintext_bytes = 0
    for plaintext in _pull_chunks(src, header, key, binding, counter):
        dst.write(plaintext)
        plaintext_bytes += len(plaintext)
    return ContainerInfo(
        version=header.version,
        chunk_size=header.chunk_size,
        binding_digest=header.binding_digest,
        recipients=header.recipients,
        plaintext_bytes=plaintext_bytes,
        container_bytes=counter[1],
        chunks=counter[0],
        threshold=header.threshold,
        author=header.author,
    )


# --- threshold key release ----------------------------------------------------------------


def _threshold_of(header: ContainerHeader) -> ThresholdSection:
    if header.threshold is None:
        raise NotAServiceError(f"the container (format version {header.version}) has no threshold section")
    return header.threshold


def open_service_share(header: ContainerHeader, index: int, keypair: X25519KeyPair) -> KeyShare:
    """Open service ``index``'s share with its key pair and check it against its commitment.

    What a key-release service does before re-sealing the share to a reader. The header
    must be one whose ``binding_digest`` the caller has compared with the record's
    :meth:`ContainerBinding.digest`, since the commitment is checked under that digest.
    :class:`NotAServiceError` if there is no stanza for ``index`` or it is sealed to another
    key; :class:`TamperedShareError` if the stanza does not open or its share does not
    match its index or commitment."""
    stanza = _threshold_of(header).stanza(index)
    if not hmac.compare_digest(stanza.public, bytes(keypair.public)):
        raise NotAServiceError(f"share stanza {index} is sealed to another X25519 key")
    try:
        plain = open_sealed(stanza.sealed_share, keypair)
    except SealedBoxError:
        raise TamperedShareError(index, "did not open with the key it is sealed to") from None
    try:
        share = decode_share(plain)
    except ShareError:
        raise TamperedShareError(index, "opened to bytes that are not a share") from None
    if share.index != index:
        raise TamperedShareError(index, f"holds the share of index {share.index}")
    if not verify_share_commitment(share, header.binding_digest, stanza.commitment):
        raise TamperedShareError(index, "does not match its commitment in the header")
    return share


def verify_share(header: ContainerHeader, share: KeyShare) -> bool:
    """Whether ``share`` matches the commitment of its index's stanza in ``header``
    (False also when the header has no threshold section or no stanza of that index)."""
    if header.threshold is None or not isinstance(share, KeyShare):
        return False
    try:
        stanza = header.threshold.stanza(share.index)
    except NotAServiceError:
        return False
    return verify_share_commitment(share, header.binding_digest, stanza.commitment)


def data_key_from_shares(header: ContainerHeader, shares: Sequence[KeyShare]) -> DataKey:
    """Combine at least the threshold's number of shares into the container's data key.

    Every share is checked against its commitment first, so a wrong one is named by index
    (:class:`TamperedShareError`) instead of spoiling the key. :class:`InsufficientSharesError`
    below the threshold; :class:`WrongKeyError` if the combined key fails the key commitment."""
    section = _threshold_of(header)
    shares = tuple(shares)
    indexes = [share.index for share in shares if isinstance(share, KeyShare)]
    if len(indexes) != len(shares):
        raise TypeError("shares must be KeyShare values")
    if len(set(indexes)) != len(indexes):
        raise ShareError("a share index is given more than once")
    if len(shares) < section.threshold:
        raise InsufficientSharesError(
            f"{len(shares)} shares given, the container needs {section.threshold} of set version {section.set_version}"
        )
    for share in shares:
        if not verify_share(header, share):
            raise TamperedShareError(share.index, "does not match its commitment in the header")
    key = DataKey(combine_shares(shares[: section.threshold]))
    if not hmac.compare_digest(key.commitment(), header.key_commitment):
        raise WrongKeyError("the shares combine to a key that fails the container's key commitment")
    return key


class _ChunkReader:
    """A read-only stream over authenticated plaintext chunks (feeds :func:`rewrap`)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._offset = 0

    def read(self, n: int = -1) -> bytes:
        if self._offset == len(self._buffer):
            self._buffer = next(self._chunks, b"")
            self._offset = 0
        if self._offset == 0 and len(self._buffer) <= n:
            # Same chunk size in and out: hand the chunk over without copying.
            self._offset = len(self._buffer)
            return self._buffer
        end = len(self._buffer) if n < 0 else self._offset + n
        out = self._buffer[self._offset : end]
        self._offset += len(out)
        return out


def rewrap(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    binding: ContainerBinding,
    identity: Identity | Iterable[Identity],
    recipients: Sequence[Recipient],
    chunk_size: int | None = None,
    threshold_policy: ThresholdPolicy | None = None,
    output_binding: ContainerBinding | None = None,
) -> ContainerInfo:
    """Re-encrypt a container under a fresh data key for new ``recipients``, streaming.

    ``binding`` is the source's (as :func:`decrypt_stream` takes it); the output is bound to
    ``output_binding`` (default: ``binding``), for instance the same record under a new author.
    With a ``threshold_policy`` the output is a version-3 container, which is how a
    keyring-sealed version-1 record, or a version-2 one that binds no author, moves to
    threshold key release under its author (migration).

    ``chunk_size`` defaults to the source's. Plaintext never leaves the
    process. A source that fails to decrypt raises and leaves ``dst`` without its final
    chunk (the look-ahead only pushes TAG_FINAL after the source's final chunk has
    authenticated), so an interrupted output can never pass for a complete container."""
    target = binding if output_binding is None else output_binding
    checked = _check_recipients(recipients, target)
    header, key, bound = _open(src, binding, identity)
    reader = _ChunkReader(_pull_chunks(src, header, key, bound, [0, 0]))
    return _encrypt(
        reader,  # type: ignore[arg-type]  # only .read() is used
        dst,
        target,
        checked,
        header.chunk_size if chunk_size is None else chunk_size,
        DataKey.generate(),
        threshold_policy,
    )
