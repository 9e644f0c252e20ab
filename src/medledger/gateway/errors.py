"""Errors of the device gateway: one root, each message one line naming the problem."""

from __future__ import annotations

from medledger.errors import MedLedgerError, RequestRefusedError


class GatewayError(MedLedgerError):
    """Base class of every gateway failure."""


class GatewayNotAuthorizedError(GatewayError):
    """The gateway's account is not authorised by an active provider on chain."""


class ReadingRefusedError(GatewayError, RequestRefusedError):
    """The gateway refused a request; `code` is stable, `status` is the HTTP status (400 by default)."""
