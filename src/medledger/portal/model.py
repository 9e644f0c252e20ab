"""What the pages show, read through the ledger clients and the indexer, in plain words.

Every function here is synchronous (chain calls, the indexer's database); the application runs
them in worker threads. Nothing here renders HTML: that is the templates' job.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from eth_utils import to_checksum_address

from medledger.addressbook import AddressBook, short
from medledger.flows import Session
from medledger.indexer import HistoryEntry, Indexer
from medledger.ledger import MedLedger
from medledger.ledger.values import ConsentTerms, ProviderStatus
from medledger.portal.config import PortalConfig
from medledger.scopes import Category, Purpose, categories_in, category_name, purposes_in
from medledger.storage import Cid
from medledger.wording import (
    categories_phrase,
    category_phrase,
    consent_sentence,
    date_words,
    join,
    purposes_phrase,
)


@dataclass(frozen=True)
class Party:
    """Someone on the chain as the user sees them: their own name for it, else a short address."""

    address: str
    label: str
    named: bool
    kind: str | None = None  # a provider's kind (clinician, researcher...), None for anyone else
    status: str | None = None  # active, suspended, withdrawn

    @property
    def short(self) -> str:
        return short(self.address)


class Directory:
    """Names and provider credentials, looked up once per page."""

    def __init__(self, ledger: MedLedger, names: AddressBook, me: str, patient: str):
        self.ledger, self.names, self.me, self.patient = ledger, names, me, patient
        self._cache: dict[str, Party] = {}

    def party(self, address: str) -> Party:
        address = to_checksum_address(address)
        if address not in self._cache:
            name = self.names.name_of(address)
            kind = status = None
            if address == self.me:
                name = name or "you"
            elif address == self.patient:
                name = name or "your ward"
            else:
                info = self.ledger.providers.get(address)
                if info.status is not ProviderStatus.NONE:
                    kind, status = info.kind.name.lower(), info.status.name.lower()
            self._cache[address] = Party(address, name or short(address), name is not None, kind, status)
        return self._cache[address]


@dataclass(frozen=True)
class ConsentView:
    grantee: Party
    terms: ConsentTerms
    active: bool
    sentence: str

    @property
    def categories(self) -> list[str]:
        return categories_in(self.terms.categories)

    @property
    def purposes(self) -> list[str]:
        return purposes_in(self.terms.purposes)


@dataclass(frozen=True)
class RecordView:
    cid: str
    digest: str
    category: str
    author: Party
    created: int
    superseded: bool
    erased: bool

    @property
    def state(self) -> str:
        return "erased" if self.erased else "replaced by a newer version" if self.superseded else "current"


@dataclass(frozen=True)
class EmergencyWindow:
    provider: Party
    opened: int
    until: int
    reason: str


@dataclass(frozen=True)
class EmergencyView:
    opted_out: bool
    categories: list[str]  # what break-glass opens; empty: the deployment's default set
    open_windows: list[EmergencyWindow]
    window_seconds: int
    own: bool  # the preferences are the signer's own (a guardian cannot set a ward's)

    @property
    def categories_phrase(self) -> str:
        return join([category_phrase(name) for name in self.categories])


@dataclass(frozen=True)
class Event:
    """One line of the timeline's table."""

    timestamp: int
    kind: str  # grant, revoke, read, record, erase, emergency, guardian, preferences
    text: str
    actor: Party
    tx_hash: str
    block: int


def whose(names: AddressBook, me: str, patient: str) -> str:
    if patient == me:
        return "your"
    return f"{names.name_of(patient) or short(patient)}'s"


def directory(config: PortalConfig, flow: Session, patient: str) -> Directory:
    return Directory(flow.ledger, config.names, flow.address, patient)


def consents(config: PortalConfig, flow: Session, patient: str) -> list[ConsentView]:
    """Everyone the patient ever granted, with what they hold now (active ones first)."""
    ledger = flow.ledger
    people = directory(config, flow, patient)
    now = ledger.chain.now()
    grantees: list[str] = []
    for event in ledger.events("ConsentGranted", from_block=flow.from_block, patient=patient):
        if event.args.grantee not in grantees:
            grantees.append(event.args.grantee)
    views = []
    for grantee in grantees:
        terms = ledger.consent.get(patient, grantee)
        party = people.party(grantee)
        active = terms.exists and terms.expiry > now
        sentence = (
            consent_sentence(
                party.label,
                categories=terms.categories,
                purposes=terms.purposes,
                permissions=terms.permissions,
                expiry=terms.expiry,
                whose=whose(config.names, flow.address, patient),
            )
            if terms.exists
            else ""
        )
        views.append(ConsentView(party, terms, active, sentence))
    return sorted(views, key=lambda view: not view.active)


def providers(config: PortalConfig, flow: Session, patient: str) -> list[Party]:
    """Every active provider (the ones consent may be granted to), named ones first."""
    people = directory(config, flow, patient)
    seen: list[str] = []
    for event in flow.ledger.events("ProviderRegistered", from_block=flow.from_block):
        if event.args.provider not in seen:
            seen.append(event.args.provider)
    parties = [people.party(address) for address in seen]
    return sorted((p for p in parties if p.status == "active"), key=lambda p: (not p.named, p.label.lower()))


def wards(config: PortalConfig, flow: Session) -> list[Party]:
    """The patients the signer is a guardian of now."""
    found: list[str] = []
    for event in flow.ledger.events("GuardianAppointed", from_block=flow.from_block, guardian=flow.address):
        patient = event.args.patient
        if patient not in found and flow.ledger.guardians.is_guardian(patient, flow.address):
            found.append(patient)
    return [
        Party(address, config.names.name_of(address) or short(address), config.names.name_of(address) is not None)
        for address in found
    ]


def records(config: PortalConfig, flow: Session, patient: str) -> list[RecordView]:
    """The patient's record pointers, newest first (no content: categories, authors, dates)."""
    ledger = flow.ledger
    people = directory(config, flow, patient)
    rows: list[RecordView] = []
    seen: set[bytes] = set()
    for event in ledger.events("RecordAdded", from_block=flow.from_block, patient=patient):
        digest = bytes(event.args.digest)
        if digest in seen:
            continue
        seen.add(digest)
        pointer = ledger.records.get(patient, digest)
        rows.append(
            RecordView(
                str(Cid.from_digest(pointer.digest, pointer.codec)),
                "0x" + pointer.digest.hex(),
                category_phrase(category_name(pointer.category)),
                people.party(pointer.author),
                pointer.created_at,
                pointer.superseded,
                pointer.erased,
            )
        )
    return sorted(rows, key=lambda row: row.created, reverse=True)


@contextmanager
def indexer(config: PortalConfig) -> Iterator[Indexer]:
    """The indexer, caught up with the chain (opened per use: its SQLite connection stays in one thread)."""
    index = Indexer.from_deployment(config.chain, config.deployment, config.index_db)
    try:
        index.sync()
        yield index
    finally:
        index.close()


def history(config: PortalConfig, patient: str) -> list[HistoryEntry]:
    with indexer(config) as index:
        return index.history(patient)


def emergency(config: PortalConfig, flow: Session, patient: str, entries: list[HistoryEntry]) -> EmergencyView:
    ledger = flow.ledger
    people = directory(config, flow, patient)
    now = ledger.chain.now()
    opted_out, mask = ledger.emergency.preferences(patient)
    windows: dict[str, EmergencyWindow] = {}
    for entry in entries:
        if entry.event == "EmergencyAccessOpened":
            provider = str(entry.details["provider"])
            windows[provider] = EmergencyWindow(
                people.party(provider), entry.timestamp, int(str(entry.details["until"])), str(entry.details["reason"])
            )
    still_open = [
        w for w in windows.values() if w.until > now and ledger.emergency.is_open(patient, w.provider.address)
    ]
    return EmergencyView(opted_out, categories_in(mask), still_open, ledger.emergency.window(), patient == flow.address)


def events(config: PortalConfig, flow: Session, patient: str, entries: list[HistoryEntry]) -> list[Event]:
    """The history in plain words, newest first."""
    people = directory(config, flow, patient)
    mine = whose(config.names, flow.address, patient)
    result = []
    for entry in entries:
        described = describe(entry, people, mine)
        if described is not None:
            kind, actor, text = described
            result.append(Event(entry.timestamp, kind, text, actor, entry.tx_hash, entry.block))
    return list(reversed(result))


def describe(entry: HistoryEntry, people: Directory, mine: str) -> tuple[str, Party, str] | None:
    """(kind, who did it, a sentence) for one history entry; None for what is not shown."""
    d = entry.details
    actor = people.party(entry.actor)
    if entry.event == "ConsentGranted":
        grantee = people.party(str(d["grantee"]))
        permissions = (1 if d["read"] else 0) | (2 if d["write"] else 0)
        categories = _category_bits(d["categories"])
        purposes = sum(1 << int(Purpose[p]) for p in _names(d["purposes"]))
        sentence = consent_sentence(
            grantee.label,
            categories=categories,
            purposes=purposes,
            permissions=permissions,
            expiry=int(str(d["expiry"])),
            whose=mine,
        )
        return "grant", grantee, f"Granted: {sentence}"
    if entry.event == "ConsentRevoked":
        grantee = people.party(str(d["grantee"]))
        return "revoke", grantee, f"Revoked: {grantee.label} may no longer see {mine} records"
    if entry.event == "AccessLogged":
        reader = people.party(str(d["accessor"]))
        what = category_phrase(str(d["category"])) if d.get("category") else "a record"
        purpose = purposes_phrase(1 << int(Purpose[str(d["purpose"])]), mine)
        return "read", reader, f"{reader.label} read {mine} {what} for {purpose}"
    if entry.event == "RecordAdded":
        what = category_phrase(str(d["category"]))
        verb = "amended" if d.get("supersedes") else "added"
        return "record", actor, f"{actor.label} {verb} a record to {mine} {what}"
    if entry.event == "RecordErased":
        return "erase", actor, f"A record ({str(d['digest'])[:10]}…) was erased"
    if entry.event == "EmergencyAccessOpened":
        provider = people.party(str(d["provider"]))
        until = date_words(int(str(d["until"])))
        return (
            "emergency",
            provider,
            f"{provider.label} broke the glass ({d['reason']}): emergency access until {until}",
        )
    if entry.event == "EmergencyAccessClosed":
        provider = people.party(str(d["provider"]))
        return "emergency", provider, f"Emergency access of {provider.label} was closed"
    if entry.event == "EmergencyPreferencesSet":
        if d["opted_out"]:
            return "preferences", actor, "Break-glass preferences: opted out of emergency access"
        opened = categories_phrase(_category_bits(d["categories"]))
        return "preferences", actor, f"Break-glass preferences: allowed ({opened or 'the default categories'})"
    if entry.event == "GuardianAppointed":
        guardian = people.party(str(d["guardian"]))
        until = f" until {date_words(int(str(d['until'])))}" if d.get("until") else ""
        return "guardian", guardian, f"{guardian.label} became a guardian{until}"
    if entry.event == "GuardianRemoved":
        guardian = people.party(str(d["guardian"]))
        return "guardian", guardian, f"{guardian.label} is no longer a guardian"
    return None


def _names(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, (list, tuple)) else []


def _category_bits(value: object) -> int:
    """A category mask from the indexer's names (`labs`; an unnamed bit as its number)."""
    bits = 0
    for name in _names(value):
        bits |= 1 << (int(name) if name.isdigit() else int(Category[name.upper().replace("-", "_")]))
    return bits


__all__ = [
    "ConsentView",
    "Directory",
    "EmergencyView",
    "Event",
    "Party",
    "RecordView",
    "consents",
    "describe",
    "emergency",
    "events",
    "history",
    "providers",
    "records",
    "wards",
]
