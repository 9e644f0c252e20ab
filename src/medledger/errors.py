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

__all__ = ["MedLedgerError", "RequestRefusedError", "error_payload"]


class MedLedgerError(Exception):
    """Base class of every exception defined by medledger."""


def error_payload(code: str, message: str) -> dict[str, dict[str, str]]:
    """The one refusal shape every medledger server answers with: `{"error": {"code", "message"}}`."""
    return {"error": {"code": code, "message": message}}


class RequestRefusedError(MedLedgerError):
    """A server refused a request: `code` is stable, `status` the HTTP status (each server's own
    refusal class sets `default_status`), `to_json()` the body it answers with."""

    default_status = 400

    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = self.default_status if status is None else status

    def to_json(self) -> dict[str, dict[str, str]]:
        return error_payload(self.code, self.message)
