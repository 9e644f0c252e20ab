"""Errors of the user-facing flows. Each names the problem and, where there is one, the fix."""

from __future__ import annotations


class FlowError(Exception):
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
