"""The root of every exception medledger raises.

Each layer has its own base class (``ChainError``, ``CryptoError``, ``StorageError``,
``FlowError``, ``IndexerError``...), and each of those derives from :class:`MedLedgerError`, so a
caller can handle any medledger failure in one place, as with ``web3.exceptions.Web3Exception``::

    try:
        fetch_record(session, patient, index)
    except MedLedgerError as exc:
        log.error("medledger: %s", exc)

Classes keep their other bases (``ValueError``, ``TimeoutError``, ``RuntimeError``...), so code
that catches those keeps working. This module imports nothing from the package: every layer
may import it.
"""

from __future__ import annotations

__all__ = ["MedLedgerError"]


class MedLedgerError(Exception):
    """Base class of every exception defined by medledger."""
