"""Errors of the user-facing flows. Each names the problem and, where there is one, the fix."""

from __future__ import annotations

from medledger.errors import MedLedgerError


class FlowError(MedLedgerError):
    """Base class of every flow failure."""


class MissingEncryptionKeyError(FlowError):
    """An account has not published its X25519 key in the key directory."""


class AccessDeniedError(FlowError):
    """The chain says this account may not do this to this patient's records."""


class RecordNotFoundError(FlowError):
    """No pointer with this digest exists for the patient."""


class RecordErasedError(FlowError):
    """The record was erased: its blob is unpinned and its keys are gone."""


class NoReadableKeyError(FlowError):
    """None of the keys this account holds opens the record (e.g. written after a revocation)."""


class JournalError(FlowError):
    """A publish journal entry is missing, malformed or cannot be resumed."""


class EmptyRecordError(FlowError, ValueError):
    """A source file holds no bytes: there is nothing to publish."""


class RegistrationPendingError(JournalError):
    """A publish's registration transaction is sent but not yet mined: wait, then resume."""


class AlreadyRegisteredError(JournalError):
    """A rollback was asked for a publish whose record is registered on chain: only erasure removes it."""
