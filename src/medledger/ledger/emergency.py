"""Client for the break-glass module."""

from __future__ import annotations

from enum import IntEnum

from medledger.chain.transactions import Receipt
from medledger.ledger.base import InvalidArgumentError, ModuleClient, checked_address
from medledger.ledger.values import EmergencyWindowInfo


class EmergencyReason(IntEnum):
    """Why glass was broken: codes, never free text (free text could carry PHI onto the chain)."""

    UNCONSCIOUS = 1
    LIFE_THREATENING = 2
    UNABLE_TO_CONSENT = 3
    OTHER = 4


class EmergencyClient(ModuleClient):
    def break_glass(self, patient: str, reason: EmergencyReason | int) -> Receipt:
        if int(reason) not in {r.value for r in EmergencyReason}:
            raise InvalidArgumentError(
                f"unknown emergency reason {reason}; use one of {[r.name for r in EmergencyReason]}"
            )
        return self._send(self.functions.breakGlass(checked_address(patient, "patient"), int(reason)))

    def close(self, patient: str, provider: str) -> Receipt:
        return self._send(
            self.functions.closeEmergencyAccess(
                checked_address(patient, "patient"), checked_address(provider, "provider")
            )
        )

    def set_preferences(self, *, opt_out: bool, categories: int = 0) -> Receipt:
        if not 0 <= categories < 2**64:
            raise InvalidArgumentError("emergency categories must be a 64-bit mask")
        return self._send(self.functions.setEmergencyPreferences(bool(opt_out), int(categories)))

    def access_until(self, patient: str, provider: str) -> int:
        return int(
            self._call(
                self.functions.emergencyAccessUntil(
                    checked_address(patient, "patient"), checked_address(provider, "provider")
                )
            )
        )

    def preferences(self, patient: str) -> tuple[bool, int]:
        opted_out, categories = self._call(self.functions.emergencyPreferencesOf(checked_address(patient, "patient")))
        return bool(opted_out), int(categories)

    def window_of(self, patient: str, provider: str) -> EmergencyWindowInfo:
        """The provider's break-glass slot on the patient: opened, until, cool-down end."""
        patient, provider = checked_address(patient, "patient"), checked_address(provider, "provider")
        opened_at, until, cooldown_until, provider_epoch = self._call(
            self.functions.emergencyWindowOf(patient, provider)
        )
        return EmergencyWindowInfo(
            patient, provider, int(opened_at), int(until), int(cooldown_until), int(provider_epoch)
        )

    def is_open(self, patient: str, provider: str) -> bool:
        """Whether the provider's break-glass access to the patient counts now (window running, no
        opt-out or credential change since it opened, provider active)."""
        return bool(
            self._call(
                self.functions.isEmergencyOpen(
                    checked_address(patient, "patient"), checked_address(provider, "provider")
                )
            )
        )

    def window(self) -> int:
        return int(self._call(self.functions.emergencyWindow()))

    def cooldown(self) -> int:
        """Seconds a provider waits to break glass again after a patient's or guardian's close."""
        return int(self._call(self.functions.emergencyCooldown()))
