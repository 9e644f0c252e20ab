"""The input of the FHIR export: chain events about one patient.

Both `medledger.flows.audit.AuditEntry` (an event scan) and `medledger.indexer.HistoryEntry`
(the indexer's `history()`) have these fields, and so does a plain mapping with these keys;
`chain_events()` turns any of them into `ChainEvent`s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class HistoryLike(Protocol):
    """Read-only fields (frozen dataclasses such as AuditEntry and HistoryEntry have them)."""

    @property
    def block(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def tx_hash(self) -> str: ...
    @property
    def log_index(self) -> int: ...
    @property
    def event(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def details(self) -> Mapping[str, object]: ...


@dataclass(frozen=True)
class ChainEvent:
    """One event about a patient, as the FHIR mapping reads it.

    `details` keys by event (those of flows.audit, plus the indexer's):
    ConsentGranted: grantee, categories (names), purposes (HL7 codes), read, write, expiry;
    ConsentRevoked: grantee; RecordAdded: digest, codec, category, supersedes, [cid];
    RecordErased: digest; AccessLogged: digest, accessor, purpose, [category, cid];
    GuardianAppointed/Removed: guardian;
    EmergencyAccessOpened: provider, reason, until; EmergencyAccessClosed: provider, closed_by;
    EmergencyPreferencesSet: opted_out, categories.
    """

    block: int
    timestamp: int
    tx_hash: str
    log_index: int
    event: str
    actor: str
    details: Mapping[str, Any] = field(default_factory=dict)  # JSON values, by event as listed above

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp, tz=UTC)

    @property
    def key(self) -> str:
        """A FHIR-id-safe key for this event (block-logindex)."""
        return f"{self.block}-{self.log_index}"


_FIELDS = ("block", "timestamp", "tx_hash", "log_index", "event", "actor", "details")


def chain_event(entry: HistoryLike | Mapping[str, Any]) -> ChainEvent:
    if isinstance(entry, ChainEvent):
        return entry
    if isinstance(entry, Mapping):
        missing = [name for name in _FIELDS if name not in entry]
        if missing:
            raise ValueError(f"a history entry needs {', '.join(_FIELDS)}; missing {', '.join(missing)}")
        values = {name: entry[name] for name in _FIELDS}
    else:
        try:
            values = {name: getattr(entry, name) for name in _FIELDS}
        except AttributeError as exc:
            raise TypeError(f"{type(entry).__name__} is not a history entry: {exc}") from None
    return ChainEvent(
        int(values["block"]),
        int(values["timestamp"]),
        str(values["tx_hash"]),
        int(values["log_index"]),
        str(values["event"]),
        str(values["actor"]),
        dict(values["details"] or {}),
    )


def chain_events(entries: Iterable[HistoryLike | Mapping[str, Any]]) -> list[ChainEvent]:
    """Entries in chain order."""
    return sorted((chain_event(entry) for entry in entries), key=lambda e: (e.block, e.log_index))


def fhir_instant(timestamp: int) -> str:
    """A unix time as a FHIR instant/dateTime in UTC."""
    return datetime.fromtimestamp(int(timestamp), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
