"""The flows people use, composed from chain, ledger, crypto and storage:
account setup, grant and revoke with keyrings, publish (journaled), fetch, amend, erase, audit."""

from medledger.flows.errors import (
    AccessDeniedError,
    AlreadyRegisteredError,
    EmptyRecordError,
    FlowError,
    JournalError,
    MissingEncryptionKeyError,
    NoReadableKeyError,
    RecordErasedError,
    RecordNotFoundError,
    RegistrationPendingError,
)
from medledger.flows.session import Session

__all__ = [
    "AccessDeniedError",
    "AlreadyRegisteredError",
    "EmptyRecordError",
    "FlowError",
    "JournalError",
    "MissingEncryptionKeyError",
    "NoReadableKeyError",
    "RecordErasedError",
    "RecordNotFoundError",
    "RegistrationPendingError",
    "Session",
]
