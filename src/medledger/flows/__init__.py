"""The flows people use, composed from chain, ledger, crypto and storage:
account setup, grant and revoke, publish (journaled), fetch (directly or through the key-release
services), amend, re-encrypt, erase, audit."""

from medledger.flows.errors import (
    AccessDeniedError,
    AlreadyCurrentError,
    AlreadyRegisteredError,
    EmptyRecordError,
    FlowError,
    JournalError,
    MissingEncryptionKeyError,
    NoReadableKeyError,
    NoServiceSetError,
    RecordErasedError,
    RecordNotFoundError,
    RegistrationPendingError,
)
from medledger.flows.session import Session

__all__ = [
    "AccessDeniedError",
    "AlreadyCurrentError",
    "AlreadyRegisteredError",
    "EmptyRecordError",
    "FlowError",
    "JournalError",
    "MissingEncryptionKeyError",
    "NoReadableKeyError",
    "NoServiceSetError",
    "RecordErasedError",
    "RecordNotFoundError",
    "RegistrationPendingError",
    "Session",
]
