"""Errors of the device gateway: one root, each message one line naming the problem."""

from __future__ import annotations

from medledger.errors import MedLedgerError


class GatewayError(MedLedgerError):
    """Base class of every gateway failure."""


class GatewayNotAuthorizedError(GatewayError):
    """The gateway's account is not authorised by an active provider on chain."""


class ReadingRefusedError(GatewayError):
    """The gateway refused a request; `code` is stable, `status` is the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def to_json(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}
