"""Typed clients for the MedLedger contract, one per module (providers, keys, consent, records)."""

from medledger.ledger.ledger import MedLedger
from medledger.ledger.values import ConsentTerms, ProviderInfo, ProviderKind, ProviderStatus, RecordPointer

__all__ = ["ConsentTerms", "MedLedger", "ProviderInfo", "ProviderKind", "ProviderStatus", "RecordPointer"]
