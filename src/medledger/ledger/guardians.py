"""Client for the guardians module."""

from __future__ import annotations

from datetime import datetime, timedelta

from medledger.chain.transactions import Receipt
from medledger.ledger.base import InvalidArgumentError, ModuleClient, checked_address, utc_text
from medledger.ledger.values import GuardianInfo


class GuardiansClient(ModuleClient):
    def appoint(
        self,
        patient: str,
        guardian: str,
        *,
        until: int | datetime | timedelta,
        can_appoint: bool = False,
    ) -> Receipt:
        """Appoint `guardian` for `patient` until `until` (a unix time, a datetime, or a duration from
        chain time; at most `max_term()` ahead). The signer is the patient or an appointing guardian.
        No key material goes with it: the guardian reads through the key-release services."""
        return self._send(
            self.functions.appointGuardian(
                checked_address(patient, "patient"),
                checked_address(guardian, "guardian"),
                self.resolve_until(until),
                bool(can_appoint),
            )
        )

    def resolve_until(self, until: int | datetime | timedelta) -> int:
        """A guardianship end as a unix time, checked against chain time and the maximum term."""
        now = self.sender.chain.now()
        if isinstance(until, timedelta):
            value = now + int(until.total_seconds())
        elif isinstance(until, datetime):
            value = int(until.timestamp())
        else:
            value = int(until)
        if value <= now:
            raise InvalidArgumentError(
                f"guardianship end {utc_text(value)} is not in the future (chain time is {utc_text(now)}); "
                "every guardianship has an end date"
            )
        limit = now + self.max_term()
        if value > limit:
            raise InvalidArgumentError(
                f"guardianship end {utc_text(value)} is beyond the maximum term (latest {utc_text(limit)})"
            )
        return value

    def max_term(self) -> int:
        """The longest guardianship this deployment allows, in seconds."""
        return int(self._call(self.functions.maxGuardianTerm()))

    def remove(self, patient: str, guardian: str) -> Receipt:
        return self._send(
            self.functions.removeGuardian(checked_address(patient, "patient"), checked_address(guardian, "guardian"))
        )

    def get(self, patient: str, guardian: str) -> GuardianInfo:
        patient, guardian = checked_address(patient, "patient"), checked_address(guardian, "guardian")
        active, can_appoint, removed, until, nonce, term, appointer_term, appointer = self._call(
            self.functions.guardianOf(patient, guardian)
        )
        return GuardianInfo(
            patient,
            guardian,
            active,
            can_appoint,
            until,
            nonce,
            removed,
            term,
            appointer if appointer_term else None,
            appointer_term,
        )

    def is_guardian(self, patient: str, account: str) -> bool:
        return bool(
            self._call(self.functions.isGuardian(checked_address(patient, "patient"), checked_address(account)))
        )
