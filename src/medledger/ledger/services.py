"""Client for the key-release service-set module.

MedLedger deploys the module as its own contract (`MedLedger.keyReleaseServices()`), so this
client talks to that address, with that contract's ABI; its events are that contract's too.
Versions are 1..count; a proposal activates after the ledger's admin delay, the same delay as an
admin transfer, and can be cancelled until then; old versions stay readable for ever.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_utils import to_checksum_address
from web3.contract import Contract

from medledger.chain.accounts import Signer
from medledger.chain.artifacts import load_artifact
from medledger.chain.reverts import RevertDecoder
from medledger.chain.transactions import Receipt, TransactionSender
from medledger.ledger.base import InvalidArgumentError, ModuleClient, checked_address
from medledger.ledger.values import ServiceSetInfo

SERVICES_CONTRACT = "KeyReleaseServices"
MAX_SERVICES = 16
MAX_ENDPOINT_BYTES = 256
KEY_BYTES = 32


class KeyReleaseServices(ModuleClient):
    """Propose, cancel and read key-release service sets; publish a member's endpoint."""

    @classmethod
    def for_ledger(
        cls, ledger_contract: Contract, sender: TransactionSender, signer: Signer | None
    ) -> KeyReleaseServices:
        """The module of the MedLedger at `ledger_contract` (its address is read from the ledger)."""
        artifact = load_artifact(SERVICES_CONTRACT)
        address = sender.call(ledger_contract.functions.keyReleaseServices())
        contract = ledger_contract.w3.eth.contract(address=to_checksum_address(address), abi=artifact.abi)
        # Reverts may come from either contract (the module asks the ledger about roles).
        decoder = RevertDecoder(artifact.abi + list(ledger_contract.abi))
        own_sender = TransactionSender(sender.chain, decoder, sender.policy)
        return cls(contract, own_sender, signer)

    @property
    def address(self) -> str:
        return str(self.contract.address)

    def propose(self, members: Sequence[str], encryption_keys: Sequence[bytes], threshold: int) -> Receipt:
        """Admin only: propose a set (activates after the admin delay). The receipt's
        `ServiceSetProposed` event carries the version; `count()` is it too right after."""
        checked = [checked_address(m, "service member") for m in members]
        keys = [_key(k) for k in encryption_keys]
        if len(checked) != len(keys):
            raise InvalidArgumentError(f"{len(checked)} members but {len(keys)} encryption keys")
        if not 1 <= len(checked) <= MAX_SERVICES:
            raise InvalidArgumentError(f"a service set has 1..{MAX_SERVICES} members, not {len(checked)}")
        if not 1 <= int(threshold) <= len(checked):
            raise InvalidArgumentError(f"threshold {threshold} must be between 1 and the {len(checked)} members")
        if len({m.lower() for m in checked}) != len(checked):
            raise InvalidArgumentError("a service set names a member twice")
        return self._send(self.functions.proposeServiceSet(checked, keys, int(threshold)))

    def cancel(self, version: int) -> Receipt:
        """Admin only: cancel a proposed set before it activates."""
        return self._send(self.functions.cancelServiceSet(_version(version)))

    def count(self) -> int:
        return int(self._call(self.functions.serviceSetCount()))

    def current_version(self) -> int:
        """The newest set that is not cancelled and has activated; 0 when there is none."""
        return int(self._call(self.functions.currentServiceSet()))

    def service_set(self, version: int) -> ServiceSetInfo:
        members, keys, threshold, activates_at, cancelled = self._call(self.functions.serviceSet(_version(version)))
        return ServiceSetInfo(
            int(version),
            tuple(to_checksum_address(m) for m in members),
            tuple(bytes(k) for k in keys),
            int(threshold),
            int(activates_at),
            bool(cancelled),
        )

    def current(self) -> ServiceSetInfo | None:
        version = self.current_version()
        return self.service_set(version) if version else None

    def service_index(self, version: int, account: str) -> int:
        """1-based share index of `account` in set `version`; 0 if it is not a member."""
        return int(self._call(self.functions.serviceIndex(_version(version), checked_address(account))))

    def holds_seat(self, account: str) -> bool:
        """Whether `account` belongs to a set that is not cancelled (then it may take no role)."""
        return bool(self._call(self.functions.holdsServiceSeat(checked_address(account))))

    def set_endpoint(self, url: str) -> Receipt:
        """A member publishes its own HTTPS endpoint."""
        size = len(url.encode())
        if not 1 <= size <= MAX_ENDPOINT_BYTES:
            raise InvalidArgumentError(f"a service endpoint is 1..{MAX_ENDPOINT_BYTES} bytes, not {size}")
        return self._send(self.functions.setServiceEndpoint(url))

    def endpoint(self, service: str) -> str | None:
        url = str(self._call(self.functions.serviceEndpoint(checked_address(service, "service"))))
        return url or None

    def events(self, name: str, *, from_block: int = 0, to_block: int | str = "latest", **filters: Any) -> list[Any]:
        """Decoded logs of this module's event `name` (ServiceSetProposed, ServiceSetCancelled,
        ServiceEndpointSet), filtered on indexed arguments."""
        event = getattr(self.contract.events, name)
        return list(event.get_logs(from_block=from_block, to_block=to_block, argument_filters=filters or None))


def _key(value: bytes) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) != KEY_BYTES:
        raise InvalidArgumentError(f"a service's X25519 public key is {KEY_BYTES} bytes")
    if not any(value):
        raise InvalidArgumentError("the all-zero public key is not a key")
    return bytes(value)


def _version(version: int) -> int:
    if not 0 < int(version) < 2**32:
        raise InvalidArgumentError(f"service-set version {version} is not 1..2**32-1")
    return int(version)
