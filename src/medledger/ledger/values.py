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


@dataclass(frozen=True)
class ProviderInfo:
    address: str
    kind: ProviderKind
    status: ProviderStatus
    since: int

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
    patient: str
    guardian: str
    active: bool
    can_appoint: bool
    until: int  # 0: no end date
    nonce: int
