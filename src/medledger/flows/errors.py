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
    """The record holds no stanza this account's own key opens."""


class AlreadyCurrentError(FlowError):
    """A re-encryption was asked for a record already under the current key-release service set."""


class NoServiceSetError(FlowError):
    """The ledger has no current key-release service set (the admin has proposed none, or it is
    not active yet)."""


class JournalError(FlowError):
    """A publish journal entry is missing, malformed or cannot be resumed."""


class EmptyRecordError(FlowError, ValueError):
    """A source file holds no bytes: there is nothing to publish."""


class RegistrationPendingError(JournalError):
    """A publish's registration transaction is sent but not yet mined: wait, then resume."""


class AlreadyRegisteredError(JournalError):
    """A rollback was asked for a publish whose record is registered on chain: only erasure removes it."""
