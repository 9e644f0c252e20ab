"""Values read from the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from medledger.scopes import categories_in, purposes_in


class ProviderKind(IntEnum):
    NONE = 0
    CLINICIAN = 1
    ORGANIZATION = 2
    RESEARCHER = 3
    INSURER = 4
    AUDITOR = 5


class ProviderStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2
    WITHDRAWN = 3  # for good: never reinstated or registered again


@dataclass(frozen=True)
class ProviderInfo:
    address: str
    kind: ProviderKind
    status: ProviderStatus
    since: int
    epoch: int = 0  # counts credential changes (registration, suspension, ..., kind correction)

    @property
    def is_active(self) -> bool:
        return self.status is ProviderStatus.ACTIVE


@dataclass(frozen=True)
class ConsentTerms:
    """What a patient granted a grantee (all zero when nothing is granted)."""

    patient: str
    grantee: str
    categories: int
    purposes: int
    permissions: int
    expiry: int
    nonce: int = 0  # counts every change to the pair; signed messages must carry it

    @property
    def exists(self) -> bool:
        return self.categories != 0

    def describe(self) -> dict[str, object]:
        return {
            "categories": categories_in(self.categories),
            "purposes": purposes_in(self.purposes),
            "read": bool(self.permissions & 1),
            "write": bool(self.permissions & 2),
            "expiry": self.expiry,
        }


@dataclass(frozen=True)
class RecordPointer:
    """An on-chain record pointer: the CID digest and codec, never any content."""

    patient: str
    digest: bytes
    author: str
    codec: int
    category: int
    created_at: int
    superseded: bool
    erased: bool

    @property
    def exists(self) -> bool:
        return self.author != "0x0000000000000000000000000000000000000000"


@dataclass(frozen=True)
class GuardianInfo:
    """A guardianship entry as stored (`is_guardian` says whether it is in force now)."""

    patient: str
    guardian: str
    active: bool
    can_appoint: bool
    until: int
    nonce: int
    removed_by_patient: bool = False  # then only the patient may appoint it again
    term: int = 0  # counts fresh appointments
    appointer: str | None = None  # the appointing guardian, None when the patient appointed it
    appointer_term: int = 0


@dataclass(frozen=True)
class EmergencyWindowInfo:
    """One provider's break-glass slot on one patient (all zero when it never broke glass)."""

    patient: str
    provider: str
    opened_at: int
    until: int
    cooldown_until: int
    provider_epoch: int  # the provider's credential epoch it was opened under (a change ends it)


@dataclass(frozen=True)
class ServiceSetInfo:
    """A key-release service set: member i's X25519 key is encryption_keys[i]; share index i + 1."""

    version: int
    members: tuple[str, ...]
    encryption_keys: tuple[bytes, ...]
    threshold: int
    activates_at: int
    cancelled: bool

    def index_of(self, account: str) -> int:
        """1-based share index of `account`, 0 if it is not a member."""
        lowered = account.lower()
        for i, member in enumerate(self.members):
            if member.lower() == lowered:
                return i + 1
        return 0
