"""Typed clients for the MedLedger contract, one per module (providers, keys, consent, records,
key-release service sets)."""

from medledger.ledger.ledger import MedLedger
from medledger.ledger.services import KeyReleaseServices
from medledger.ledger.values import (
    ConsentTerms,
    ProviderInfo,
    ProviderKind,
    ProviderStatus,
    RecordPointer,
    ServiceSetInfo,
)

__all__ = [
    "ConsentTerms",
    "KeyReleaseServices",
    "MedLedger",
    "ProviderInfo",
    "ProviderKind",
    "ProviderStatus",
    "RecordPointer",
    "ServiceSetInfo",
]
