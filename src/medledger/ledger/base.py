"""What every module client shares: the contract, the sender, the signer, argument checks."""

from __future__ import annotations

from typing import Any

from eth_utils import is_address, is_checksum_address, to_checksum_address
from web3.contract import Contract

from medledger.chain.abi import FunctionCodec
from medledger.chain.accounts import Signer
from medledger.chain.errors import ChainError
from medledger.chain.transactions import OnSigned, Receipt, TransactionSender


class InvalidArgumentError(ChainError, ValueError):
    """An argument was refused before anything was sent."""


class NoSignerError(ChainError):
    """A state-changing call was made on a read-only client."""


def checked_address(value: str, what: str = "address") -> str:
    """A checksummed address; a mixed-case input must carry a valid EIP-55 checksum."""
    if not isinstance(value, str) or not is_address(value):
        raise InvalidArgumentError(f"{what} {value!r} is not an Ethereum address")
    if value != value.lower() and value[2:] != value[2:].upper() and not is_checksum_address(value):
        raise InvalidArgumentError(f"{what} {value} has a bad EIP-55 checksum; check for a typo")
    address = to_checksum_address(value)
    if int(address, 16) == 0:
        raise InvalidArgumentError(f"{what} is the zero address")
    return address


class ModuleClient:
    def __init__(self, contract: Contract, sender: TransactionSender, signer: Signer | None):
        self.contract = contract
        self.sender = sender
        self.signer = signer

    @property
    def functions(self) -> Any:
        return self.contract.functions

    def _send(self, function: Any, *, on_signed: OnSigned | None = None) -> Receipt:
        if self.signer is None:
            raise NoSignerError("this client has no signer; use ledger.as_signer(...) to send transactions")
        return self.sender.send(self.signer, function, on_signed=on_signed)

    def _call(self, function: Any) -> Any:
        return self.sender.call(function, sender=self.signer.address if self.signer else None)

    def codec(self, name: str) -> FunctionCodec:
        """An encoder/decoder of one function, for many calls without web3's per-call overhead."""
        codecs: dict[str, FunctionCodec] = self.__dict__.setdefault("_codecs", {})
        if name not in codecs:
            codecs[name] = FunctionCodec.of(self.contract.abi, name)
        return codecs[name]

    @property
    def address(self) -> str:
        return str(self.contract.address)


def utc_text(timestamp: int) -> str:
    """A chain timestamp as people read it in a message: `2027-01-02 08:21:05 UTC`."""
    from datetime import UTC, datetime

    try:
        return datetime.fromtimestamp(int(timestamp), tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"unix time {int(timestamp)}"
