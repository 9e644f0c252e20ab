"""Client for the provider registry module."""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import keccak, to_checksum_address

from medledger.chain.transactions import Receipt
from medledger.ledger.base import InvalidArgumentError, ModuleClient, checked_address
from medledger.ledger.values import ProviderInfo, ProviderKind, ProviderStatus

REGISTRAR_ROLE = keccak(text="medledger.REGISTRAR")
PAUSER_ROLE = keccak(text="medledger.PAUSER")
ADMIN_ROLE = b"\x00" * 32


@dataclass(frozen=True)
class AdminState:
    """The admin, a pending transfer (None when there is none) and the admin delay, in seconds."""

    admin: str
    pending_admin: str | None
    pending_accept_after: int  # 0 when no transfer is pending
    delay: int


class ProvidersClient(ModuleClient):
    def add_registrar(self, account: str) -> Receipt:
        """Admin only: let `account` register, suspend and reinstate providers."""
        return self._send(self.functions.grantRole(REGISTRAR_ROLE, checked_address(account)))

    def remove_registrar(self, account: str) -> Receipt:
        return self._send(self.functions.revokeRole(REGISTRAR_ROLE, checked_address(account)))

    def is_registrar(self, account: str) -> bool:
        return bool(self._call(self.functions.hasRole(REGISTRAR_ROLE, checked_address(account))))

    def is_admin(self, account: str) -> bool:
        return bool(self._call(self.functions.hasRole(ADMIN_ROLE, checked_address(account))))

    def add_pauser(self, account: str) -> Receipt:
        """Admin only: let `account` pause and unpause (a separate account from every other duty)."""
        return self._send(self.functions.grantRole(PAUSER_ROLE, checked_address(account)))

    def remove_pauser(self, account: str) -> Receipt:
        return self._send(self.functions.revokeRole(PAUSER_ROLE, checked_address(account)))

    def is_pauser(self, account: str) -> bool:
        return bool(self._call(self.functions.hasRole(PAUSER_ROLE, checked_address(account))))

    def pause(self) -> Receipt:
        """Pauser only: stop break-glass, registration, reinstatement and access logging (so key releases)."""
        return self._send(self.functions.pause())

    def unpause(self) -> Receipt:
        return self._send(self.functions.unpause())

    def is_paused(self) -> bool:
        return bool(self._call(self.functions.paused()))

    def begin_admin_transfer(self, new_admin: str) -> Receipt:
        """Admin only: propose `new_admin`; it may accept once the admin delay has passed."""
        return self._send(self.functions.beginDefaultAdminTransfer(checked_address(new_admin, "new admin")))

    def cancel_admin_transfer(self) -> Receipt:
        return self._send(self.functions.cancelDefaultAdminTransfer())

    def accept_admin_transfer(self) -> Receipt:
        """The pending admin takes over (after the delay)."""
        return self._send(self.functions.acceptDefaultAdminTransfer())

    def admin_state(self) -> AdminState:
        admin = self._call(self.functions.defaultAdmin())
        pending, schedule = self._call(self.functions.pendingDefaultAdmin())
        delay = self._call(self.functions.defaultAdminDelay())
        no_one = int(pending, 16) == 0
        return AdminState(
            to_checksum_address(admin),
            None if no_one else to_checksum_address(pending),
            0 if no_one else int(schedule),
            int(delay),
        )

    def register(self, provider: str, kind: ProviderKind | str) -> Receipt:
        kind = _kind(kind)
        return self._send(self.functions.registerProvider(checked_address(provider, "provider"), int(kind)))

    def suspend(self, provider: str) -> Receipt:
        return self._send(self.functions.suspendProvider(checked_address(provider, "provider")))

    def reinstate(self, provider: str) -> Receipt:
        return self._send(self.functions.reinstateProvider(checked_address(provider, "provider")))

    def withdraw(self, provider: str) -> Receipt:
        """Registrar only: end a credential for good (never reinstated or registered again)."""
        return self._send(self.functions.withdrawProvider(checked_address(provider, "provider")))

    def set_kind(self, provider: str, kind: ProviderKind | str) -> Receipt:
        """Registrar only: correct a provider's kind (ends any break-glass window it has open)."""
        kind = _kind(kind)
        return self._send(self.functions.setProviderKind(checked_address(provider, "provider"), int(kind)))

    def get(self, account: str) -> ProviderInfo:
        address = checked_address(account)
        kind, status, since, epoch = self._call(self.functions.providerOf(address))
        return ProviderInfo(address, ProviderKind(kind), ProviderStatus(status), since, epoch)

    def is_active(self, account: str) -> bool:
        return bool(self._call(self.functions.isActiveProvider(checked_address(account))))


def _kind(kind: ProviderKind | str) -> ProviderKind:
    if isinstance(kind, str):
        key = kind.strip().upper()
        if key not in ProviderKind.__members__ or key == "NONE":
            known = ", ".join(k.lower() for k in ProviderKind.__members__ if k != "NONE")
            raise InvalidArgumentError(f"unknown provider kind {kind!r}; known kinds: {known}")
        return ProviderKind[key]
    if kind is ProviderKind.NONE:
        raise InvalidArgumentError("provider kind NONE cannot be registered")
    return ProviderKind(kind)
