"""The gateway's work: accept signed readings, seal each patient's window, anchor windows in batches.

accept (any number of threads, one per request):
  1. the body is `{"readings": [{"device", "sequence", "timestamp", "observation", "signature"}]}`,
     at most `max_readings` of them (`bad-request`, 400); a request is accepted or refused whole
  2. each observation is a valid FHIR Observation (`bad-reading`, 400) about an account of this
     chain (`bad-reading`)
  3. each signature recovers its device (`bad-signature`, 401)
  4. each device is registered on chain under this gateway's provider, not retired, and that
     provider is active (`unknown-device`, 403); chain answers are cached and re-read every
     `cache_seconds` by a refresher thread, so a retirement or suspension counts within about that
  5. each patient has granted the provider WRITE consent for the gateway's category and has
     published an encryption key (`no-consent`, 403; cached `cache_seconds`); the chain checks the
     consent again when the window is anchored
  6. its timestamp is within `max_skew` of the gateway's clock, not before the gateway started,
     and in a window still open (`stale-reading`, 409)
  7. its sequence is above the device's last, and its timestamp not below the device's last
     (`replayed`, 409): a replayed or reordered reading is refused, after a restart too
seal (one thread, every `seal_interval`): a window [start, start + window) closes `grace` seconds
  after its end: its readings, ordered by (timestamp, device, sequence), become one blob
  (flows.windows), encrypted as a record container for the patient, the provider (its author)
  and the key-release services, stored and pinned, and saved here (store.py) with its leaves;
anchor: every saved window not yet anchored goes on chain, `max_windows_per_tx` per transaction,
  many patients per transaction. A window the chain skips (consent withdrawn since) is unpinned
  and its readings are dropped; the others are anchored. A chain that does not answer leaves the
  windows saved for the next round.
proofs: every anchored reading's inclusion proof, from the saved leaves.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from eth_utils import to_checksum_address

from medledger.chain.errors import ChainError, ContractRevertError
from medledger.crypto import ContainerBinding, ServiceRecipient, ThresholdPolicy
from medledger.crypto.merkle import build_nodes, proof_at
from medledger.fhir.observations import ObservationValidator
from medledger.fhir.validate import FhirValidationError
from medledger.flows.session import Session
from medledger.flows.windows import (
    Reading,
    ReadingError,
    WindowContents,
    encrypt_window,
    patient_of,
    reading_digest,
    reading_leaf,
    recipients_for,
    recover_signer,
)
from medledger.scopes import Category, Permission
from medledger.storage import Cid

from .errors import GatewayNotAuthorizedError, ReadingRefusedError
from .store import ANCHORED, SKIPPED, GatewayStore, StoredWindow, window_key

__all__ = ["Gateway", "GatewayPolicy"]

logger = logging.getLogger("medledger.gateway")
FAILED = "failed"
_GATEWAY_BUGS = frozenset({"WindowOverlaps", "InvalidWindow", "EmptyBatch"})


@dataclass(frozen=True)
class GatewayPolicy:
    """How the gateway groups and checks readings (seconds unless named otherwise)."""

    category: int = int(Category.LABS)  # observations: vital signs and measurements
    window_seconds: int = 60
    grace_seconds: int = 5  # a window closes this long after its end (late readings in flight)
    max_skew_seconds: int = 120
    max_readings: int = 500  # per request
    max_body_bytes: int = 2 << 20
    max_windows_per_tx: int = 40
    cache_seconds: float = 10.0
    seal_interval: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.category < 64:
            raise ValueError(f"category {self.category} is out of range 0..63")
        if not 1 <= self.window_seconds <= 3600:
            raise ValueError("the window is 1..3600 seconds")
        if not 0 <= self.grace_seconds < self.window_seconds:
            raise ValueError("the grace period is shorter than the window")
        if self.max_readings < 1 or self.max_windows_per_tx < 1:
            raise ValueError("max readings per request and windows per transaction are positive")


@dataclass
class _OpenWindow:
    patient: str
    start: int
    readings: list[Reading] = field(default_factory=list)


@dataclass
class _Stats:
    accepted: int = 0
    refused: int = 0
    sealed: int = 0
    anchored_windows: int = 0
    anchored_readings: int = 0
    skipped_windows: int = 0
    anchor_gas: int = 0
    transactions: int = 0


class Gateway:
    """One gateway account (a session on the ledger and the blob store), anchoring for its provider."""

    def __init__(
        self,
        session: Session,
        store: GatewayStore,
        policy: GatewayPolicy | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ):
        self.session = session
        self.policy = policy or GatewayPolicy()
        self.db = store
        self._clock = clock
        ledger = session.ledger
        self.streams = ledger.streams
        provider = self.streams.gateway_provider(session.address)
        if provider is None:
            raise GatewayNotAuthorizedError(
                f"{session.address} is not a gateway of an active provider: the provider must run "
                "`medledger gateway authorize` for it"
            )
        self.provider = provider
        self.chain_id = ledger.chain.chain_id
        self.stream_anchors = self.streams.address
        self.started = int(clock())
        self.validator = ObservationValidator()
        self._lock = threading.Lock()
        self._open: dict[tuple[str, int], _OpenWindow] = {}
        self._sealed_until: dict[str, int] = store.sealed_until(self.policy.category)
        self._devices: dict[str, tuple[int, int]] = store.devices()  # device -> (sequence, timestamp)
        self._device_cache: dict[str, tuple[str | None, float]] = {}  # device -> (provider, fetched at)
        self._patient_cache: dict[str, tuple[str | None, float]] = {}  # patient -> (refusal or None, fetched at)
        self._keys: dict[str, bytes] = {}
        self.stats = _Stats()
        self._stop = threading.Event()
        self._sealer: threading.Thread | None = None
        self._refresher: threading.Thread | None = None

    # -- accepting readings ------------------------------------------------------------------

    def accept(self, body: Any) -> dict[str, Any]:
        """Check and buffer one request's readings (all or none); the reply, or ReadingRefusedError."""
        try:
            readings = self._checked(body)
        except ReadingRefusedError:
            self.stats.refused += 1
            raise
        self.stats.accepted += len(readings)
        return {"accepted": len(readings)}

    def _checked(self, body: Any) -> list[tuple[str, Reading]]:
        if not isinstance(body, Mapping) or not isinstance(body.get("readings"), list):
            raise ReadingRefusedError("bad-request", 'the body is {"readings": [...]}')
        items = body["readings"]
        if not 1 <= len(items) <= self.policy.max_readings:
            raise ReadingRefusedError("bad-request", f"a request carries 1..{self.policy.max_readings} readings")
        now = int(self._clock())
        parsed: list[tuple[str, Reading]] = []
        for index, item in enumerate(items):
            if not isinstance(item, Mapping) or not item.get("signature"):
                raise ReadingRefusedError("bad-signature", f"reading {index} is not signed by its device", 401)
            try:
                reading = Reading.from_json(item)
                self.validator.validate(reading.observation)
                patient = patient_of(reading.observation, self.chain_id)
            except (ReadingError, FhirValidationError) as exc:
                raise ReadingRefusedError("bad-reading", f"reading {index}: {_one_line(exc)}") from None
            digest = reading_digest(
                self.chain_id, self.stream_anchors, reading.device, reading.sequence, reading.timestamp, reading.hashed
            )
            if recover_signer(digest, reading.signature) != reading.device:
                raise ReadingRefusedError(
                    "bad-signature", f"reading {index} is not signed by device {reading.device}", 401
                )
            if abs(reading.timestamp - now) > self.policy.max_skew_seconds or reading.timestamp < self.started:
                raise ReadingRefusedError(
                    "stale-reading",
                    f"reading {index}'s time {reading.timestamp} is not within {self.policy.max_skew_seconds} s "
                    f"of the gateway's clock ({now}) or is older than the gateway's start",
                    409,
                )
            parsed.append((patient, reading))
        self._check_devices({reading.device for _, reading in parsed})
        for patient in {patient for patient, _ in parsed}:
            self._check_patient(patient)
        self._buffer(parsed, now)
        return parsed

    def _buffer(self, parsed: list[tuple[str, Reading]], now: int) -> None:
        window = self.policy.window_seconds
        with self._lock:
            latest = dict[str, tuple[int, int]]()
            for index, (patient, reading) in enumerate(parsed):
                start = reading.timestamp - reading.timestamp % window
                if start + window + self.policy.grace_seconds <= now or start < self._sealed_until.get(patient, 0):
                    raise ReadingRefusedError(
                        "stale-reading", f"reading {index}'s window [{start}, {start + window}) is closed", 409
                    )
                last_sequence, last_time = latest.get(reading.device) or self._devices.get(reading.device, (-1, 0))
                if reading.sequence <= last_sequence or reading.timestamp < last_time:
                    raise ReadingRefusedError(
                        "replayed",
                        f"reading {index}: device {reading.device} already sent sequence {last_sequence} "
                        f"(time {last_time}); sequences and times only go forward",
                        409,
                    )
                latest[reading.device] = (reading.sequence, reading.timestamp)
            for patient, reading in parsed:
                start = reading.timestamp - reading.timestamp % window
                entry = self._open.get((patient, start))
                if entry is None:
                    entry = self._open[(patient, start)] = _OpenWindow(patient, start)
                entry.readings.append(reading)
            self._devices.update(latest)

    def _fresh(self, fetched_at: float) -> bool:
        """A cached chain answer is used while the refresher keeps it current (within three of its
        periods); with `cache_seconds` 0 every request asks the chain."""
        seconds = self.policy.cache_seconds
        return seconds > 0 and time.monotonic() - fetched_at <= 3 * seconds

    def _check_devices(self, devices: set[str]) -> None:
        unknown = [d for d in devices if not self._fresh(self._device_cache.get(d, (None, -1e18))[1])]
        if unknown:
            self._refresh_devices(unknown)
        for device in devices:
            if self._device_cache[device][0] != self.provider:
                raise ReadingRefusedError(
                    "unknown-device",
                    f"device {device} is not an active device of provider {self.provider} (unregistered, "
                    "retired, another provider's, or its provider is suspended)",
                    403,
                )

    def _refresh_devices(self, devices: list[str]) -> None:
        fetched_at = time.monotonic()
        providers = self.streams.device_providers(devices)
        for device, provider in zip(devices, providers, strict=True):
            self._device_cache[device] = (provider, fetched_at)

    def _check_patient(self, patient: str) -> None:
        cached = self._patient_cache.get(patient)
        if cached is None or not self._fresh(cached[1]):
            cached = self._patient_cache[patient] = (self._patient_refusal(patient), time.monotonic())
        if cached[0] is not None:
            raise ReadingRefusedError("no-consent", cached[0], 403)

    def refresh(self) -> None:
        """Re-read every cached device and patient from the chain (the refresher thread's round),
        so requests seldom wait for the chain."""
        devices = list(self._device_cache)
        if devices:
            self._refresh_devices(devices)
        for patient in list(self._patient_cache):
            self._patient_cache[patient] = (self._patient_refusal(patient), time.monotonic())

    def _patient_refusal(self, patient: str) -> str | None:
        ledger = self.session.ledger
        key = ledger.keys.encryption_key_of(patient)
        if patient == self.provider:
            writable = True
        else:
            terms = ledger.consent.get(patient, self.provider)
            writable = (
                terms.expiry > ledger.chain.now()
                and bool(terms.categories >> self.policy.category & 1)
                and terms.purposes != 0
                and bool(terms.permissions & Permission.WRITE)
            )
        if not writable:
            return f"{patient} has not granted {self.provider} WRITE consent for category {self.policy.category}"
        if key is None:
            return f"{patient} has published no encryption key: their windows could not be sealed to them"
        self._keys[patient] = key
        return None

    # -- sealing and anchoring ---------------------------------------------------------------

    def start(self) -> Gateway:
        """Seal and anchor in a background thread, and refresh the cached chain answers in
        another, until `stop()`."""
        self._sealer = threading.Thread(target=self._run, name="gateway-sealer", daemon=True)
        self._sealer.start()
        if self.policy.cache_seconds > 0:
            self._refresher = threading.Thread(target=self._refresh_loop, name="gateway-refresher", daemon=True)
            self._refresher.start()
        return self

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self.policy.cache_seconds):
            try:
                self.refresh()
            except Exception as exc:  # the cached answers age out and requests ask the chain themselves
                logger.warning("refreshing the chain's answers failed: %s", _one_line(exc))

    def stop(self, *, flush: bool = True) -> None:
        """Stop the sealer; with `flush`, seal and anchor every open window first."""
        self._stop.set()
        for thread in (self._sealer, self._refresher):
            if thread is not None:
                thread.join()
        self._sealer = self._refresher = None
        if flush:
            self.seal(force=True)
            self.anchor_pending()

    def _run(self) -> None:
        while not self._stop.wait(self.policy.seal_interval):
            try:
                self.seal()
                self.anchor_pending()
            except Exception as exc:  # keep the gateway up; the windows stay saved for the next round
                logger.warning("sealing or anchoring failed: %s", _one_line(exc))

    def seal(self, *, force: bool = False) -> int:
        """Seal every window closed by now (all open windows with `force`); how many were sealed."""
        now = int(self._clock())
        window = self.policy.window_seconds
        with self._lock:
            due = sorted(
                (w for w in self._open.values() if force or w.start + window + self.policy.grace_seconds <= now),
                key=lambda w: (w.start, w.patient),
            )
            for entry in due:
                del self._open[(entry.patient, entry.start)]
                end = entry.start + window
                self._sealed_until[entry.patient] = max(self._sealed_until.get(entry.patient, 0), end)
        if not due:
            return 0
        policy = self._threshold_policy()
        for entry in due:
            self._seal_one(entry, policy)
        return len(due)

    def _threshold_policy(self) -> ThresholdPolicy | None:
        current = self.session.ledger.services.current()
        if current is None:
            return None
        return ThresholdPolicy(
            current.version,
            current.threshold,
            tuple(ServiceRecipient(index + 1, key) for index, key in enumerate(current.encryption_keys)),
        )

    def _seal_one(self, entry: _OpenWindow, policy: ThresholdPolicy | None) -> None:
        readings = tuple(sorted(entry.readings, key=lambda r: r.order))
        contents = WindowContents(
            self.chain_id,
            self.stream_anchors,
            self.session.address,
            self.provider,
            entry.patient,
            self.policy.category,
            entry.start,
            entry.start + self.policy.window_seconds,
            readings,
        )
        leaves = [reading_leaf(*r.leaf_values) for r in readings]
        root = build_nodes(leaves)[0]
        binding = ContainerBinding(
            chain_id=self.chain_id,
            registry=bytes.fromhex(self.session.ledger.address[2:]),
            patient=bytes.fromhex(entry.patient[2:]),
            category=self.policy.category,
            author=bytes.fromhex(self.provider[2:]),
        )
        patient_key = self._keys.get(entry.patient) or self.session.ledger.keys.encryption_key_of(entry.patient)
        provider_key = self._provider_key()
        if patient_key is None:  # cannot happen: readings are accepted only for patients with a key
            logger.warning("dropping a window of %s: no encryption key", entry.patient)
            return
        cid = encrypt_window(
            contents,
            self.session.store,
            binding=binding,
            recipients=recipients_for(patient_key, provider_key),
            threshold_policy=policy,
        )
        window = contents.window(cid, root)
        devices: dict[str, tuple[int, int]] = {}
        for r in readings:
            sequence, timestamp = devices.get(r.device, (-1, 0))
            devices[r.device] = (max(sequence, r.sequence), max(timestamp, r.timestamp))
        self.db.save_window(
            window_key(entry.patient, self.policy.category, entry.start),
            window,
            str(cid),
            leaves,
            [(r.device, r.sequence) for r in readings],
            devices,
        )
        self.stats.sealed += 1

    def _provider_key(self) -> bytes | None:
        if "provider" not in self._keys:
            key = self.session.ledger.keys.encryption_key_of(self.provider)
            if key is None:
                return None
            self._keys["provider"] = key
        return self._keys["provider"]

    def anchor_pending(self) -> int:
        """Anchor every saved window not anchored yet; how many were anchored."""
        pending = self.db.unanchored()
        anchored = 0
        size = self.policy.max_windows_per_tx
        for first in range(0, len(pending), size):
            anchored += self._anchor_batch(pending[first : first + size])
        return anchored

    def _anchor_batch(self, batch: list[StoredWindow]) -> int:
        try:
            outcome = self.streams.anchor([stored.window for stored in batch])
        except ContractRevertError as exc:
            if exc.error in _GATEWAY_BUGS:
                if len(batch) > 1:  # find the window the chain refuses; anchor the others
                    return sum(self._anchor_batch([stored]) for stored in batch)
                self.db.mark(batch[0].key, FAILED, window_id=None, tx_hash=None, reason=str(exc))
            logger.warning("anchoring %d windows was refused: %s", len(batch), _one_line(exc))
            return 0
        except ChainError as exc:
            logger.warning("anchoring %d windows failed (kept for the next round): %s", len(batch), _one_line(exc))
            return 0
        self.stats.transactions += 1
        self.stats.anchor_gas += outcome.receipt.gas_used
        anchored = 0
        for stored in batch:
            w = stored.window
            key = (to_checksum_address(w.patient), w.category, w.start)
            if key in outcome.anchored:
                self.db.mark(
                    stored.key, ANCHORED, window_id=outcome.anchored[key], tx_hash=outcome.receipt.tx_hash, reason=None
                )
                anchored += 1
                self.stats.anchored_windows += 1
                self.stats.anchored_readings += w.count
            else:
                reason = outcome.skipped.get(key, "not anchored")
                self.db.mark(stored.key, SKIPPED, window_id=None, tx_hash=outcome.receipt.tx_hash, reason=reason)
                self.stats.skipped_windows += 1
                self._patient_cache.pop(w.patient, None)
                try:
                    self.session.store.unpin(Cid.parse(stored.cid))
                except Exception as exc:  # the blob is encrypted; an unpin that fails only costs space
                    logger.warning("could not unpin skipped window %s: %s", stored.cid, _one_line(exc))
        return anchored

    # -- proofs -------------------------------------------------------------------------------

    def proof(self, device: str, sequence: int) -> dict[str, Any]:
        """A reading's inclusion proof in its anchored window, or ReadingRefusedError."""
        try:
            device = to_checksum_address(device)
        except ValueError:
            raise ReadingRefusedError("bad-request", f"{device!r} is not a device address") from None
        found = self.db.locate(device, sequence)
        if found is None:
            with self._lock:
                last = self._devices.get(device, (-1, 0))[0]
            if sequence <= last:
                raise ReadingRefusedError("not-anchored", "the reading's window is not sealed yet; ask again", 425)
            raise ReadingRefusedError("unknown-reading", f"no reading {sequence} of {device} was accepted", 404)
        stored, position = found
        if stored.state != ANCHORED or stored.window_id is None:
            if stored.state == SKIPPED:
                raise ReadingRefusedError(
                    "not-anchored", f"the reading's window was not anchored: {stored.reason}", 410
                )
            raise ReadingRefusedError("not-anchored", "the reading's window is not anchored yet; ask again", 425)
        nodes = _nodes(stored.leaves)
        w = stored.window
        return {
            "windowId": "0x" + stored.window_id.hex(),
            "root": "0x" + w.root.hex(),
            "leaf": "0x" + stored.leaves[position].hex(),
            "position": position,
            "proof": ["0x" + node.hex() for node in proof_at(nodes, position)],
            "patient": w.patient,
            "category": w.category,
            "start": w.start,
            "end": w.end,
            "count": w.count,
            "cid": stored.cid,
            "gateway": self.session.address,
            "streamAnchors": self.stream_anchors,
            "chainId": self.chain_id,
            "txHash": stored.tx_hash,
        }

    def health(self) -> dict[str, Any]:
        with self._lock:
            buffered = sum(len(w.readings) for w in self._open.values())
        return {
            "ok": True,
            "gateway": self.session.address,
            "provider": self.provider,
            "chainId": self.chain_id,
            "streamAnchors": self.stream_anchors,
            "category": self.policy.category,
            "windowSeconds": self.policy.window_seconds,
            "buffered": buffered,
            "accepted": self.stats.accepted,
            "refusedRequests": self.stats.refused,
            "sealed": self.stats.sealed,
            "anchoredWindows": self.stats.anchored_windows,
            "anchoredReadings": self.stats.anchored_readings,
            "skippedWindows": self.stats.skipped_windows,
            "transactions": self.stats.transactions,
            "anchorGas": self.stats.anchor_gas,
        }

    def close(self) -> None:
        self.db.close()


@lru_cache(maxsize=64)
def _nodes(leaves: tuple[bytes, ...]) -> list[bytes]:
    return build_nodes(leaves)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
