"""Exceptions raised by the chain layer. Messages name the problem and the fix, never a secret."""

from __future__ import annotations

from medledger.errors import MedLedgerError


class ChainError(MedLedgerError):
    """Base class for every chain-layer failure."""


class ConnectionFailedError(ChainError):
    """The RPC endpoint did not answer."""


class WrongChainError(ChainError):
    """The endpoint serves another chain than the one expected."""


class AccountError(ChainError):
    """An account could not be loaded (missing keystore, wrong password, malformed key)."""


class InsufficientFundsError(ChainError):
    """The sender cannot pay for gas."""


class TransactionFailedError(ChainError):
    """A transaction was mined but reverted without a decodable reason, or was dropped."""


class DeploymentError(ChainError):
    """No usable deployment for this chain (missing file, other chain, code not on chain)."""


class DeploymentCodeMissingError(DeploymentError):
    """The recorded address holds no code: the chain was reset since the deployment."""


class ContractRevertError(ChainError):
    """A contract refused a call with a custom error; `error` names it and `args` holds its arguments.

    Subclasses named after each custom error (see `revert_class`) let callers catch one refusal:
    ``except revert_class("NotAuthorized")``.
    """

    error: str = ""

    def __init__(self, error: str, args: dict[str, object]):
        self.error = error
        self.arguments = args
        rendered = ", ".join(f"{key}={_render(value)}" for key, value in args.items())
        super().__init__(f"{error}({rendered})")


def _render(value: object) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


_REVERT_CLASSES: dict[str, type[ContractRevertError]] = {}


def revert_class(error: str) -> type[ContractRevertError]:
    """The exception class raised for the custom error named `error` (created on first use)."""
    cls = _REVERT_CLASSES.get(error)
    if cls is None:
        cls = type(error, (ContractRevertError,), {"error": error, "__module__": __name__})
        _REVERT_CLASSES[error] = cls
    return cls
