"""Errors of the key-release service and its client: one root, each message one line naming the problem.

A message never holds a share, a data key or a private key.
"""

from __future__ import annotations

from dataclasses import dataclass

from medledger.errors import MedLedgerError, RequestRefusedError


class KeyServiceError(MedLedgerError):
    """Base class of every key-release failure."""


class ConfigError(KeyServiceError):
    """A service configuration file that is missing, malformed or incomplete."""


class ReleaseRefusedError(KeyServiceError, RequestRefusedError):
    """A service refused to release its share; `code` is stable, `status` is the HTTP status (403 by default)."""

    default_status = 403


@dataclass(frozen=True)
class ServiceAttempt:
    """What one service answered a reader: a good share, a refusal, a wrong share, or nothing."""

    address: str
    url: str
    outcome: str  # "share", "refused", "wrong-share", "unreachable", "no-endpoint", "not-needed"
    code: str = ""  # the service's refusal code, when it refused
    detail: str = ""

    def describe(self) -> str:
        where = f"{self.address} ({self.url or 'no URL'})"
        if self.outcome == "share":
            return f"{where}: share accepted"
        if self.outcome == "refused":
            return f"{where} refused: {self.code}: {self.detail}"
        if self.outcome == "wrong-share":
            return f"{where} returned a wrong share: {self.detail}"
        return f"{where} {self.outcome}: {self.detail}" if self.detail else f"{where} {self.outcome}"


class ReleaseFailedError(KeyServiceError):
    """Fewer than k services released a good share; names every service tried and why."""

    def __init__(self, message: str, attempts: tuple[ServiceAttempt, ...]):
        super().__init__(message)
        self.attempts = attempts

    def codes(self) -> dict[str, str]:
        """Each service address → its refusal code (or its outcome when it did not refuse)."""
        return {attempt.address: attempt.code or attempt.outcome for attempt in self.attempts}
