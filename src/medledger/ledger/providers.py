"""Client for the provider registry module."""

from __future__ import annotations

from eth_utils import keccak

from medledger.chain.transactions import Receipt
from medledger.ledger.base import InvalidArgumentError, ModuleClient, checked_address
from medledger.ledger.values import ProviderInfo, ProviderKind, ProviderStatus

REGISTRAR_ROLE = keccak(text="medledger.REGISTRAR")
ADMIN_ROLE = b"\x00" * 32


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

    def register(self, provider: str, kind: ProviderKind | str) -> Receipt:
        kind = _kind(kind)
        return self._send(self.functions.registerProvider(checked_address(provider, "provider"), int(kind)))

    def suspend(self, provider: str) -> Receipt:
        return self._send(self.functions.suspendProvider(checked_address(provider, "provider")))

    def reinstate(self, provider: str) -> Receipt:
        return self._send(self.functions.reinstateProvider(checked_address(provider, "provider")))

    def get(self, account: str) -> ProviderInfo:
        address = checked_address(account)
        kind, status, since = self._call(self.functions.providerOf(address))
        return ProviderInfo(address, ProviderKind(kind), ProviderStatus(status), since)

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
