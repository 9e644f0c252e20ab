"""Client for the guardians module."""

from __future__ import annotations

from medledger.chain.transactions import Receipt
from medledger.ledger.base import ModuleClient, checked_address
from medledger.ledger.values import GuardianInfo


class GuardiansClient(ModuleClient):
    def appoint(self, patient: str, guardian: str, *, until: int = 0, can_appoint: bool = False,
                envelope: bytes = b"") -> Receipt:
        """Appoint `guardian` for `patient` (the signer is the patient or an appointing guardian)."""
        return self._send(self.functions.appointGuardian(checked_address(patient, "patient"),
                                                         checked_address(guardian, "guardian"), int(until),
                                                         bool(can_appoint), bytes(envelope)))

    def remove(self, patient: str, guardian: str) -> Receipt:
        return self._send(self.functions.removeGuardian(checked_address(patient, "patient"),
                                                        checked_address(guardian, "guardian")))

    def get(self, patient: str, guardian: str) -> GuardianInfo:
        patient, guardian = checked_address(patient, "patient"), checked_address(guardian, "guardian")
        active, can_appoint, until, nonce = self._call(self.functions.guardianOf(patient, guardian))
        return GuardianInfo(patient, guardian, active, can_appoint, until, nonce)

    def is_guardian(self, patient: str, account: str) -> bool:
        return bool(self._call(self.functions.isGuardian(checked_address(patient, "patient"),
                                                         checked_address(account))))
