"""Errors of the event indexer."""

from __future__ import annotations

from medledger.errors import MedLedgerError


class IndexerError(MedLedgerError):
    """Base class of every indexer error."""


class IndexerChainMismatchError(IndexerError):
    """The database is bound to another chain, contract or deployment; nothing was changed."""


class ReorgTooDeepError(IndexerError):
    """The chain diverged from the indexed blocks further back than the configured reorg depth."""


class StoreError(IndexerError):
    """The database could not be opened or used (unknown URL scheme, missing driver, ...)."""
