"""Device-stream windows: signed readings, their Merkle tree, the window blob, and its verifier.

A reading is one FHIR Observation from one device, signed by the device's key:

    readingHash = keccak256(canonical JSON of the Observation)        (sorted keys, no spaces, UTF-8)
    digest      = keccak256(abi.encode(READING_TAG, chainId, streamAnchors, device, sequence,
                                       timestamp, readingHash))
    signature   = EIP-191 personal_sign of the 32-byte `digest` by the device's key

`sequence` counts the device's readings (strictly increasing), `timestamp` is the reading's time
(unix seconds). The chain id and the StreamAnchors address keep a signature to one deployment.

A window is one patient's readings of one category over [start, end), in the canonical order
(timestamp, device, sequence): a total order, since (device, sequence) is unique, so a reader
checks it and any reordering shows. Its Merkle tree is OpenZeppelin's StandardMerkleTree over the
leaves `(address device, uint64 sequence, uint64 timestamp, bytes32 readingHash)` laid out in that
order (`sortLeaves: false`; pairs are hashed sorted, as in every StandardMerkleTree, so the root
commits to the set of readings and their count, and the canonical order to their sequence):
- device and sequence name the reading uniquely and let a reader see a device's gaps;
- timestamp places it in its window, which a reader checks against the anchored bounds;
- readingHash binds the Observation itself while keeping it (PHI) out of the leaf and the proof:
  a proof reveals a device address, a counter, a time and a hash, never the reading.

The window blob (encrypted as one record container, like any record) is UTF-8 JSON:

    {"format": "medledger.stream-window/1", "chainId", "streamAnchors", "gateway", "provider",
     "patient", "category", "start", "end",
     "readings": [{"device", "sequence", "timestamp", "signature", "observation"}, ...]}

`verify_window_contents` checks a decrypted blob against the chain: every signature recovers its
device, the order and the bounds hold, and the root and count rebuilt from the readings are those
anchored (the window id commits to patient, category, bounds, root, blob digest and count, so a
tampered, dropped or added reading changes the id, which the chain then does not know; a reordered
one breaks the canonical order).
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coincurve import PublicKey
from eth_utils import to_checksum_address

from medledger.crypto import AccountRecipient, ContainerBinding, Recipient, ThresholdPolicy, encrypt_stream
from medledger.crypto.merkle import MerkleTree, leaf_hash
from medledger.crypto.merkle import keccak256 as keccak
from medledger.errors import MedLedgerError
from medledger.ledger.streams import StreamAnchors, Window, window_id
from medledger.scopes import Purpose
from medledger.storage import BlobStore, Cid

if TYPE_CHECKING:
    from medledger.flows.session import Session

__all__ = [
    "LEAF_TYPES",
    "READING_TAG",
    "WINDOW_FORMAT",
    "Reading",
    "ReadingError",
    "WindowContents",
    "WindowVerification",
    "canonical_json",
    "encrypt_window",
    "patient_of",
    "read_window",
    "reading_digest",
    "reading_hash",
    "reading_leaf",
    "recover_signer",
    "sign_reading",
    "verify_window_contents",
]

WINDOW_FORMAT = "medledger.stream-window/1"
LEAF_TYPES = ("address", "uint64", "uint64", "bytes32")
READING_TAG = keccak(b"medledger.reading.v1")
_PERSONAL_PREFIX = b"\x19Ethereum Signed Message:\n32"
UINT64 = 2**64


class ReadingError(MedLedgerError, ValueError):
    """A reading or a window blob is malformed (one line naming the problem)."""


@lru_cache(maxsize=1 << 16)
def _checksummed(address: str) -> str:
    """EIP-55 form of `address` (cached: a ward has few devices and patients, each seen every second)."""
    return to_checksum_address(address)


def canonical_json(value: Any) -> bytes:
    """The bytes a reading's hash covers: sorted keys, no insignificant whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def reading_hash(observation: Mapping[str, Any]) -> bytes:
    return keccak(canonical_json(observation))


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _address_word(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def reading_digest(
    chain_id: int, stream_anchors: str, device: str, sequence: int, timestamp: int, hashed: bytes
) -> bytes:
    """What a device signs (EIP-191) for one reading: abi.encode of the fields, hashed."""
    return keccak(
        READING_TAG
        + _word(chain_id)
        + _address_word(stream_anchors)
        + _address_word(device)
        + _word(sequence)
        + _word(timestamp)
        + hashed
    )


def reading_leaf(device: str, sequence: int, timestamp: int, hashed: bytes) -> bytes:
    """The reading's StandardMerkleTree leaf, `leaf_hash(LEAF_TYPES, values)` without eth-abi's
    general encoder (every field is one static 32-byte word)."""
    return keccak(keccak(_address_word(device) + _word(sequence) + _word(timestamp) + hashed))


def sign_reading(private_key: bytes, digest: bytes) -> bytes:
    """A device's EIP-191 signature of `digest` (65 bytes r || s || v, v in {27, 28})."""
    from coincurve import PrivateKey

    signature = PrivateKey(private_key).sign_recoverable(keccak(_PERSONAL_PREFIX + digest), hasher=None)
    return signature[:64] + bytes([signature[64] + 27])


def recover_signer(digest: bytes, signature: bytes) -> str | None:
    """The address whose key made the EIP-191 `signature` of `digest`, or None if it is not one."""
    if len(signature) != 65 or signature[64] not in (27, 28):
        return None
    try:
        public = PublicKey.from_signature_and_message(
            signature[:64] + bytes([signature[64] - 27]), keccak(_PERSONAL_PREFIX + digest), hasher=None
        )
    except Exception:  # coincurve raises its own error types for bad signatures and points
        return None
    return _checksummed("0x" + keccak(public.format(compressed=False)[1:])[12:].hex())


def patient_of(observation: Mapping[str, Any], chain_id: int) -> str:
    """The patient account an Observation is about: `subject.identifier.value` as
    `eip155:<chainId>:<address>` (as medledger's FHIR exports name accounts) or
    `subject.reference` as `Patient/<address>`."""
    subject = observation.get("subject")
    if not isinstance(subject, Mapping):
        raise ReadingError("the Observation has no subject (the patient's account)")
    identifier = subject.get("identifier")
    reference = subject.get("reference")
    if isinstance(identifier, Mapping) and isinstance(identifier.get("value"), str):
        prefix, _, address = str(identifier["value"]).rpartition(":")
        if prefix != f"eip155:{chain_id}":
            raise ReadingError(f"the Observation's subject is not an account of chain {chain_id}")
    elif isinstance(reference, str) and reference.startswith("Patient/"):
        address = reference.removeprefix("Patient/")
    else:
        raise ReadingError("the Observation's subject names no patient account (eip155:<chainId>:<address>)")
    try:
        if len(address) != 42 or not address.startswith("0x"):
            raise ValueError(address)
        return _checksummed(address)
    except ValueError:
        raise ReadingError("the Observation's subject is not an Ethereum address") from None


@dataclass(frozen=True)
class Reading:
    """One signed reading, as the gateway accepted it and the window blob keeps it."""

    device: str
    sequence: int
    timestamp: int
    observation: Mapping[str, Any]
    signature: bytes
    hashed: bytes = field(default=b"", compare=False)
    canonical: bytes = field(default=b"", compare=False, repr=False)  # the observation's canonical JSON

    def __post_init__(self) -> None:
        if not self.hashed:
            canonical = canonical_json(self.observation)
            object.__setattr__(self, "canonical", canonical)
            object.__setattr__(self, "hashed", keccak(canonical))

    def json_bytes(self) -> bytes:
        """This reading as JSON (the observation in its canonical form, as the device signed it)."""
        observation = self.canonical or canonical_json(self.observation)
        return b'{"device":"%s","observation":%s,"sequence":%d,"signature":"0x%s","timestamp":%d}' % (
            self.device.encode(),
            observation,
            self.sequence,
            self.signature.hex().encode(),
            self.timestamp,
        )

    @property
    def leaf_values(self) -> tuple[str, int, int, bytes]:
        return (self.device, self.sequence, self.timestamp, self.hashed)

    @property
    def order(self) -> tuple[int, str, int]:
        return (self.timestamp, self.device.lower(), self.sequence)

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "sequence": self.sequence,
            "timestamp": self.timestamp,
            "signature": "0x" + self.signature.hex(),
            "observation": self.observation,
        }

    @classmethod
    def from_json(cls, data: Any) -> Reading:
        if not isinstance(data, Mapping):
            raise ReadingError("a reading is a JSON object")
        try:
            device = _checksummed(str(data["device"]))
            sequence, timestamp = data["sequence"], data["timestamp"]
            signature = bytes.fromhex(str(data["signature"]).removeprefix("0x"))
            observation = data["observation"]
        except (KeyError, ValueError, TypeError) as exc:
            raise ReadingError(f"a reading lacks or garbles {exc}") from None
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < UINT64 for v in (sequence, timestamp)):
            raise ReadingError("a reading's sequence and timestamp are integers 0..2**64-1")
        if not isinstance(observation, Mapping):
            raise ReadingError("a reading's observation is a JSON object")
        return cls(device, sequence, timestamp, observation, signature)


def tree_of(readings: Sequence[Reading]) -> MerkleTree:
    """The window's StandardMerkleTree, leaves in the readings' order (`sortLeaves: false`)."""
    return MerkleTree.of([r.leaf_values for r in readings], LEAF_TYPES, sort_leaves=False)


@dataclass(frozen=True)
class WindowContents:
    """A window blob's plaintext: where it belongs and its readings, in window order."""

    chain_id: int
    stream_anchors: str
    gateway: str
    provider: str
    patient: str
    category: int
    start: int
    end: int
    readings: tuple[Reading, ...]

    def to_bytes(self) -> bytes:
        """The blob: UTF-8 JSON, each reading's observation in the canonical form its hash covers
        (spliced in as the gateway received it, not serialised again: a window holds thousands)."""
        header = canonical_json(
            {
                "format": WINDOW_FORMAT,
                "chainId": self.chain_id,
                "streamAnchors": self.stream_anchors,
                "gateway": self.gateway,
                "provider": self.provider,
                "patient": self.patient,
                "category": self.category,
                "start": self.start,
                "end": self.end,
            }
        )
        return header[:-1] + b',"readings":[' + b",".join(r.json_bytes() for r in self.readings) + b"]}"

    @classmethod
    def from_bytes(cls, data: bytes) -> WindowContents:
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, ValueError):
            raise ReadingError("the window blob is not JSON") from None
        if not isinstance(doc, Mapping) or doc.get("format") != WINDOW_FORMAT:
            raise ReadingError(f"the blob is not a {WINDOW_FORMAT} window")
        try:
            readings = tuple(Reading.from_json(item) for item in doc["readings"])
            return cls(
                int(doc["chainId"]),
                to_checksum_address(doc["streamAnchors"]),
                to_checksum_address(doc["gateway"]),
                to_checksum_address(doc["provider"]),
                to_checksum_address(doc["patient"]),
                int(doc["category"]),
                int(doc["start"]),
                int(doc["end"]),
                readings,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ReadingError(f"the window blob lacks or garbles {exc}") from None

    def tree(self) -> MerkleTree:
        return tree_of(self.readings)

    def window(self, cid: Cid, root: bytes | None = None) -> Window:
        """The on-chain window these contents and this blob make."""
        return Window(
            self.patient,
            self.category,
            self.start,
            self.end,
            root if root is not None else self.tree().root,
            cid.digest,
            cid.codec,
            len(self.readings),
        )


def encrypt_window(
    contents: WindowContents,
    store: BlobStore,
    *,
    binding: ContainerBinding,
    recipients: Sequence[Recipient],
    threshold_policy: ThresholdPolicy | None,
) -> Cid:
    """Encrypt the window blob as one record container (in memory: a window is small) and store it."""
    source, sealed = io.BytesIO(contents.to_bytes()), io.BytesIO()
    encrypt_stream(source, sealed, binding=binding, recipients=recipients, threshold_policy=threshold_policy)
    sealed.seek(0)
    return store.put(sealed)


def recipients_for(patient_key: bytes, provider_key: bytes | None) -> tuple[Recipient, ...]:
    """The patient, and the provider (the record's author) when it published a key."""
    found: list[Recipient] = [AccountRecipient(patient_key)]
    if provider_key is not None and provider_key != patient_key:
        found.append(AccountRecipient(provider_key))
    return tuple(found)


@dataclass(frozen=True)
class WindowVerification:
    """The outcome of checking a decrypted window against the chain; `problems` empty when it holds."""

    window_id: bytes
    root: bytes
    count: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def local_problems(contents: WindowContents, *, chain_id: int, stream_anchors: str) -> list[str]:
    """What is wrong with a window's readings on their own: signatures, order, bounds, duplicates."""
    problems: list[str] = []
    if contents.chain_id != chain_id or contents.stream_anchors.lower() != stream_anchors.lower():
        problems.append("the window belongs to another chain or deployment")
    if not contents.readings:
        problems.append("the window holds no readings")
    last: dict[str, int] = {}
    previous: tuple[int, str, int] | None = None
    for index, reading in enumerate(contents.readings):
        digest = reading_digest(
            chain_id, stream_anchors, reading.device, reading.sequence, reading.timestamp, reading.hashed
        )
        if recover_signer(digest, reading.signature) != reading.device:
            problems.append(f"reading {index} ({reading.device} #{reading.sequence}) is not signed by its device")
        if not contents.start <= reading.timestamp < contents.end:
            problems.append(f"reading {index} ({reading.device} #{reading.sequence}) lies outside the window")
        if previous is not None and reading.order <= previous:
            problems.append(f"reading {index} ({reading.device} #{reading.sequence}) is out of order")
        previous = reading.order
        if reading.sequence <= last.get(reading.device, -1):
            problems.append(f"reading {index} repeats or reorders {reading.device}'s sequence #{reading.sequence}")
        last[reading.device] = max(reading.sequence, last.get(reading.device, -1))
    return problems


def verify_window_contents(contents: WindowContents, cid: Cid, streams: StreamAnchors) -> WindowVerification:
    """Check a decrypted window (`cid` is the blob's, i.e. the record's) against its on-chain root and count."""
    problems = local_problems(contents, chain_id=streams.contract.w3.eth.chain_id, stream_anchors=streams.address)
    root = contents.tree().root if contents.readings else bytes(32)
    window = contents.window(cid, root)
    identifier = window_id(contents.gateway, window)
    anchored = streams.window_root(identifier)
    if anchored is None:
        problems.append(
            f"no window with this root and count ({len(contents.readings)} readings) was anchored by "
            f"{contents.gateway} for this blob: a reading was changed, dropped, added or reordered"
        )
    elif anchored != root:  # cannot happen unless keccak collides: the id commits to the root
        problems.append("the anchored root differs from the readings' root")
    return WindowVerification(identifier, root, len(contents.readings), tuple(problems))


def read_window(
    session: Session, patient: str, digest: bytes, *, purpose: Purpose = Purpose.TREAT
) -> tuple[WindowContents, WindowVerification]:
    """Fetch and decrypt a window record like any record (the patient and the provider open their
    own stanza; everyone else reads through the key-release services, logged), then verify it."""
    from medledger.flows.records import fetch

    with tempfile.TemporaryDirectory(prefix="medledger-window-") as scratch:
        destination = Path(scratch) / "window.json"
        result = fetch(session, patient, digest, destination, purpose=purpose)
        contents = WindowContents.from_bytes(destination.read_bytes())
    cid = Cid.from_digest(result.pointer.digest, result.pointer.codec)
    return contents, verify_window_contents(contents, cid, session.ledger.streams)


def leaves_of(readings: Iterable[Reading]) -> list[bytes]:
    """The leaf hashes of `readings`, in order."""
    return [leaf_hash(LEAF_TYPES, r.leaf_values) for r in readings]
