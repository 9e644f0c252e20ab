"""Reading the index: a patient's history, and an accounting of disclosures."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eth_utils import to_checksum_address

from medledger.indexer.store import Store
from medledger.ledger.emergency import EmergencyReason
from medledger.scopes import Purpose, categories_in, category_name, purposes_in

_ZERO32 = "0x" + "00" * 32


@dataclass(frozen=True)
class HistoryEntry:
    """One event about a patient; the same fields as `medledger.flows.audit.AuditEntry`."""

    block: int
    timestamp: int
    tx_hash: str
    log_index: int
    event: str
    actor: str  # who caused it: the patient, a record's author, the accessor, the guardian...
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Disclosure:
    """One disclosure of a patient's information: who received what, when, and why.

    kind: `record-access` (AccessLogged: the recipient logged a read of one record, which the
    key-release services require before they release its key), or `emergency-access` (break-glass
    opened: read access to the emergency categories for the window; each record read under it is
    a `record-access` of purpose ETREAT too).
    """

    block: int
    timestamp: int
    tx_hash: str
    log_index: int
    kind: str
    recipient: str
    purpose: str  # HL7 PurposeOfUse code
    digest: str | None = None
    cid: str | None = None
    category: str | None = None
    author: str | None = None
    details: dict[str, object] = field(default_factory=dict)


def _text(value: object) -> str | None:
    """A details value that is text or absent (None)."""
    return None if value is None else str(value)


def _cid(digest: str | None, codec: int | None) -> str | None:
    if not digest or codec is None:
        return None
    from medledger.storage.cid import Cid

    try:
        return str(Cid.from_digest(bytes.fromhex(digest[2:]), int(codec)))
    except ValueError:
        return None


def _purpose(bit: int) -> str:
    try:
        return Purpose(int(bit)).name
    except ValueError:
        return str(bit)


def _reason(code: int) -> str:
    try:
        return EmergencyReason(int(code)).name.lower().replace("_", "-")
    except ValueError:
        return str(code)


def _records(store: Store, patient: str) -> dict[str, tuple[int, int, str]]:
    """digest -> (codec, category, author) of the patient's added records."""
    return {
        digest: (int(codec), int(category), author)
        for digest, codec, category, author in store.query(
            "SELECT digest, codec, category, author FROM record_changes WHERE patient = ? AND action = 'added'",
            (patient,),
        )
    }


def details_of(
    event: str, a: dict[str, Any], records: dict[str, tuple[int, int, str]] | None = None, sender: str | None = None
) -> dict[str, object]:
    """Readable details of an event; the keys of flows.audit for the events it knows."""
    records = records or {}
    if event == "ConsentGranted":
        d: dict[str, object] = {
            "grantee": a["grantee"],
            "categories": categories_in(int(a["categories"])),
            "purposes": purposes_in(int(a["purposes"])),
            "read": bool(a["permissions"] & 1),
            "write": bool(a["permissions"] & 2),
            "expiry": int(a["expiry"]),
        }
    elif event == "ConsentRevoked":
        d = {"grantee": a["grantee"]}
    elif event == "RecordAdded":
        d = {
            "digest": a["digest"],
            "codec": a["codec"],
            "category": category_name(a["category"]),
            "supersedes": None if a["supersedes"] == _ZERO32 else a["supersedes"],
            "cid": _cid(a["digest"], a["codec"]),
        }
    elif event == "RecordErased":
        d = {"digest": a["digest"]}
    elif event == "AccessLogged":
        codec, category, author = records.get(a["digest"], (None, None, None))
        d = {
            "digest": a["digest"],
            "accessor": a["accessor"],
            "purpose": _purpose(a["purpose"]),
            "category": category_name(category) if category is not None else None,
            "cid": _cid(a["digest"], codec),
            "author": author,
        }
    elif event == "GuardianAppointed":
        d = {
            "guardian": a["guardian"],
            "until": a["until"],
            "can_appoint": a["canAppoint"],
            "appointed_by": a["appointedBy"],
        }
    elif event == "GuardianRemoved":
        d = {"guardian": a["guardian"], "removed_by": a["removedBy"]}
    elif event == "EmergencyAccessOpened":
        d = {"provider": a["provider"], "reason": _reason(a["reason"]), "until": a["until"], "purpose": "ETREAT"}
    elif event == "EmergencyAccessClosed":
        d = {"provider": a["provider"], "closed_by": a["closedBy"]}
    elif event == "EmergencyPreferencesSet":
        d = {"opted_out": a["optedOut"], "categories": categories_in(int(a["categories"]))}
    elif event == "ServiceSetProposed":
        d = {
            "version": a["version"],
            "members": list(a["members"]),
            "threshold": a["threshold"],
            "activates_at": int(a["activatesAt"]),
        }
    elif event == "ServiceSetCancelled":
        d = {"version": a["version"]}
    elif event == "ServiceEndpointSet":
        d = {"service": a["service"], "url": a["url"]}
    else:
        d = dict(a)
    if sender is not None:
        d["sender"] = sender
    return d


def history(
    store: Store, patient: str, *, events: tuple[str, ...] | None = None, from_block: int = 0
) -> list[HistoryEntry]:
    """Every indexed event about `patient`, in chain order."""
    patient = to_checksum_address(patient)
    records = _records(store, patient)
    sql = (
        "SELECT block_number, block_timestamp, tx_hash, log_index, event, actor, args, tx_sender FROM events "
        "WHERE patient = ? AND block_number >= ?"
    )
    params: list[Any] = [patient, from_block]
    if events:
        sql += f" AND event IN ({', '.join('?' * len(events))})"
        params += list(events)
    entries = []
    for block, timestamp, tx_hash, log_index, event, actor, args, sender in store.query(
        sql + " ORDER BY block_number, log_index", params
    ):
        entries.append(
            HistoryEntry(
                int(block),
                int(timestamp),
                tx_hash,
                int(log_index),
                event,
                actor,
                details_of(event, json.loads(args), records, sender),
            )
        )
    return entries


SERVICE_EVENTS = ("ServiceSetProposed", "ServiceSetCancelled", "ServiceEndpointSet")


def service_history(store: Store, *, from_block: int = 0) -> list[HistoryEntry]:
    """The key-release service sets' events (they concern every patient: the members of a set hold
    shares of every record key written under it), in chain order."""
    entries = []
    for block, timestamp, tx_hash, log_index, event, actor, args, sender in store.query(
        "SELECT block_number, block_timestamp, tx_hash, log_index, event, actor, args, tx_sender FROM events "
        f"WHERE event IN ({', '.join('?' * len(SERVICE_EVENTS))}) AND block_number >= ? "
        "ORDER BY block_number, log_index",
        (*SERVICE_EVENTS, from_block),
    ):
        entries.append(
            HistoryEntry(
                int(block),
                int(timestamp),
                tx_hash,
                int(log_index),
                event,
                actor,
                details_of(event, json.loads(args), None, sender),
            )
        )
    return entries


def _unix(value: int | float | datetime | None, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(value)


def disclosures(
    store: Store, patient: str, since: int | datetime | None = None, until: int | datetime | None = None
) -> list[Disclosure]:
    """An accounting of disclosures of `patient`'s records between `since` and `until` (unix times or
    aware datetimes, both inclusive): record reads (AccessLogged) and break-glass openings, in
    chain order."""
    patient = to_checksum_address(patient)
    start, end = _unix(since, 0), _unix(until, 2**62)
    records = _records(store, patient)
    result = []
    for block, timestamp, tx_hash, log_index, event, args, sender in store.query(
        "SELECT block_number, block_timestamp, tx_hash, log_index, event, args, tx_sender FROM events "
        "WHERE patient = ? AND event IN ('AccessLogged', 'EmergencyAccessOpened') "
        "AND block_timestamp >= ? AND block_timestamp <= ? ORDER BY block_number, log_index",
        (patient, start, end),
    ):
        a = json.loads(args)
        d = details_of(event, a, records, sender)
        common = (int(block), int(timestamp), tx_hash, int(log_index))
        if event == "AccessLogged":
            result.append(
                Disclosure(
                    *common,
                    "record-access",
                    a["accessor"],
                    str(d["purpose"]),
                    a["digest"],
                    _text(d["cid"]),
                    _text(d["category"]),
                    _text(d["author"]),
                    d,
                )
            )
        else:
            result.append(Disclosure(*common, "emergency-access", a["provider"], "ETREAT", details=d))
    return result


@dataclass(frozen=True)
class RecordEntry:
    """A record pointer as it was added: its current state (superseded, erased, a takeover)
    is read from the contract, which is the authority."""

    digest: str  # 0x-prefixed hex
    supersedes: str | None


def records_added(store: Store, patient: str) -> list[RecordEntry]:
    """The patient's record pointers in the order they were first added, each digest once."""
    seen: dict[str, RecordEntry] = {}
    for digest, supersedes in store.query(
        "SELECT digest, supersedes FROM record_changes WHERE patient = ? AND action = 'added' "
        "ORDER BY block_number, log_index",
        (to_checksum_address(patient),),
    ):
        # a digest added again (the patient re-adding an erased record) keeps its first place
        # and takes its latest link
        seen[digest] = RecordEntry(digest, None if supersedes in (None, _ZERO32) else supersedes)
    return list(seen.values())


def counterparties(store: Store, patient: str, *, of: str) -> list[str]:
    """Everyone ever granted consent by (`of="grantees"`) or appointed guardian of
    (`of="guardians"`) the patient, in the order they first appeared."""
    table, column, action = {
        "grantees": ("consent_changes", "grantee", "granted"),
        "guardians": ("guardian_changes", "guardian", "appointed"),
    }[of]
    rows = store.query(
        f"SELECT {column} FROM {table} WHERE patient = ? AND action = ? ORDER BY block_number, log_index",
        (to_checksum_address(patient), action),
    )
    return list(dict.fromkeys(to_checksum_address(account) for (account,) in rows))
