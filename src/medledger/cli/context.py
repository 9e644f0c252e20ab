"""What commands share: resolving the chain, account, deployment and store from settings,
printing human or JSON output, and turning failures into one clear line and an exit code."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from medledger.cli.settings import Settings

if TYPE_CHECKING:  # imported lazily below, so that `--help` starts without loading web3
    from medledger.chain.accounts import Signer
    from medledger.chain.connection import Chain
    from medledger.chain.deploy import Deployment
    from medledger.chain.transactions import TxPolicy
    from medledger.flows import Session
    from medledger.ledger import MedLedger
    from medledger.storage import BlobStore

# Exit codes (documented in the README).
EXIT_OK = 0
EXIT_FAILED = 1  # the operation failed (transaction, crypto, storage)
EXIT_USAGE = 2  # bad input: unknown names, unparseable values, wrong password, missing files
EXIT_REFUSED = 3  # the contract, the access rules or the key-release services refused
EXIT_UNREACHABLE = 4  # a node or daemon did not answer

PASSWORD_ENV = "MEDLEDGER_PASSWORD"
DEVNET_CHAIN_ID = 31337


@dataclass
class AppContext:
    settings: Settings
    options: dict[str, Any] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict)

    # -- output ---------------------------------------------------------------------------
    def output(self, payload: object, human: str | Callable[[], None]) -> None:
        if self.settings.json:
            click.echo(json.dumps(payload, indent=1, default=str))
        elif callable(human):
            human()
        else:
            click.echo(human)

    # -- resolution -----------------------------------------------------------------------
    def option(self, name: str) -> Any:
        return self.settings.pick(name, self.options.get(name))

    @property
    def devnet(self) -> dict[str, Any] | None:
        from medledger.cli.devnet_state import load_live_devnet

        if "devnet" not in self._cache:
            self._cache["devnet"] = load_live_devnet(self.settings.home)
        return self._cache["devnet"]

    def chain(self) -> Chain:
        if "chain" not in self._cache:
            from medledger.chain.connection import connect

            url = self.option("rpc_url")
            if url is None and self.devnet:
                url = self.devnet["anvil"]["rpc_url"]
            if url is None:
                raise click.UsageError(
                    "no chain: pass --rpc-url (or MEDLEDGER_RPC_URL), or start `medledger devnet up`"
                )
            chain = connect(str(url))
            expected = self.option("chain_id")
            if expected is not None:
                chain.require_chain_id(int(expected))
            self._cache["chain"] = chain
        return self._cache["chain"]

    def deployments_dir(self) -> Path:
        return Path(self.option("deployments") or "deployments")

    def deployment(self) -> Deployment:
        if "deployment" not in self._cache:
            from medledger.chain.deploy import load_deployment

            self._cache["deployment"] = load_deployment(self.deployments_dir(), self.chain())
        return self._cache["deployment"]

    def policy(self) -> TxPolicy:
        from medledger.chain.transactions import TxPolicy

        confirmations = self.option("confirmations")
        return TxPolicy(confirmations=int(confirmations)) if confirmations else TxPolicy()

    def signer(self) -> Signer:
        if "signer" not in self._cache:
            self._cache["signer"] = self._load_signer()
        return self._cache["signer"]

    def _load_signer(self) -> Signer:
        from medledger.chain import accounts

        keystore = self.option("keystore")
        if keystore:
            path = resolve_keystore(self.settings.home, str(keystore))
            password = os.environ.get(PASSWORD_ENV)
            if password is None:
                if not sys.stdin.isatty():
                    raise click.UsageError(f"keystore {path} needs a password: set {PASSWORD_ENV} or run interactively")
                password = click.prompt(f"Password for {path.name}", hide_input=True)
            return accounts.from_keystore(path, password)
        if os.environ.get(accounts.PRIVATE_KEY_ENV):
            return accounts.from_environment()
        dev = self.option("dev_account")
        if dev is not None:
            if self.chain().chain_id != DEVNET_CHAIN_ID:
                raise click.UsageError(
                    f"--dev-account is only for a local devnet (chain {DEVNET_CHAIN_ID}); "
                    "use --keystore on other chains"
                )
            return accounts.anvil_account(int(dev))
        raise click.UsageError(
            "no account: pass --keystore FILE (or MEDLEDGER_KEYSTORE), set "
            f"{accounts.PRIVATE_KEY_ENV}, or use --dev-account N on a devnet"
        )

    def ledger(self, *, signed: bool = True) -> MedLedger:
        from medledger.ledger import MedLedger

        return MedLedger.from_deployment(
            self.chain(), self.deployment(), signer=self.signer() if signed else None, policy=self.policy()
        )

    def store(self) -> BlobStore:
        if "store" not in self._cache:
            from medledger.storage import KuboStore, LocalBlockStore

            api = self.option("ipfs_api")
            if api is None and self.devnet:
                api = self.devnet["ipfs"]["api_url"]
            self._cache["store"] = KuboStore(str(api)) if api else LocalBlockStore(self.settings.home / "blocks")
        return self._cache["store"]

    def session(self) -> Session:
        from medledger.flows import Session

        return Session.open(
            self.ledger(), self.store(), self.settings.home / "accounts" / self.signer().address, self.deployment()
        )


def resolve_keystore(home: Path, name: str) -> Path:
    """A keystore path, or an address / file name under <home>/keystores."""
    path = Path(name).expanduser()
    if path.exists():
        return path
    directory = home / "keystores"
    for candidate in (directory / name, directory / f"{name}.json"):
        if candidate.exists():
            return candidate
    lowered = name.lower().removeprefix("0x")
    if directory.exists() and lowered:
        matches = sorted(c for c in directory.glob("*.json") if lowered in c.stem.lower())
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise click.UsageError(f"keystore {name} is ambiguous: it matches {', '.join(m.name for m in matches)}")
    raise click.UsageError(f"keystore {name} not found (neither a file nor an account in {directory})")


def connection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--rpc-url, --ipfs-api, --keystore, --dev-account, --deployments, --confirmations, --chain-id."""
    options = [
        click.option(
            "--rpc-url",
            envvar="MEDLEDGER_RPC_URL",
            default=None,
            help="Ethereum RPC URL [env MEDLEDGER_RPC_URL; default: the running devnet].",
        ),
        click.option(
            "--ipfs-api",
            envvar="MEDLEDGER_IPFS_API",
            default=None,
            help="IPFS RPC API URL [env MEDLEDGER_IPFS_API; default: the devnet's, else an embedded store].",
        ),
        click.option(
            "--keystore",
            envvar="MEDLEDGER_KEYSTORE",
            default=None,
            help=f"Keystore file or account name [env MEDLEDGER_KEYSTORE; password from {PASSWORD_ENV} or a prompt].",
        ),
        click.option(
            "--dev-account",
            type=click.IntRange(0, 9),
            envvar="MEDLEDGER_DEV_ACCOUNT",
            default=None,
            help="Use anvil's dev account N (devnets only).",
        ),
        click.option(
            "--deployments",
            envvar="MEDLEDGER_DEPLOYMENTS",
            default=None,
            help="Directory of deployments/<chainId>.json [default: ./deployments].",
        ),
        click.option(
            "--confirmations",
            type=click.IntRange(1, 64),
            envvar="MEDLEDGER_CONFIRMATIONS",
            default=None,
            help="Blocks to wait for after each transaction [default 1].",
        ),
        click.option(
            "--chain-id",
            type=int,
            envvar="MEDLEDGER_CHAIN_ID",
            default=None,
            help="Refuse to act unless the endpoint serves this chain.",
        ),
    ]

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        rpc_url: str | None,
        ipfs_api: str | None,
        keystore: str | None,
        dev_account: int | None,
        deployments: str | None,
        confirmations: int | None,
        chain_id: int | None,
        **kwargs: Any,
    ) -> Any:
        app = click.get_current_context().find_object(AppContext)
        if app is None:  # only a command invoked outside the `medledger` group has no AppContext
            raise click.UsageError("medledger commands run under the `medledger` command group")
        app.options.update(
            rpc_url=rpc_url,
            ipfs_api=ipfs_api,
            keystore=keystore,
            dev_account=dev_account,
            deployments=deployments,
            confirmations=confirmations,
            chain_id=chain_id,
        )
        return command(*args, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def guarded(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a user's mistake or an unreachable service into one clear line and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except click.ClickException as exc:  # a UsageError/BadParameter raised while running: one line, not usage
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except Exception as exc:
            code = exit_code_for(exc)
            if code is None:
                raise  # a bug, not a user's problem: keep the traceback
            report_failure(exc)
            sys.exit(code)

    return wrapper


def report_failure(exc: Exception) -> None:
    """One line on stderr: `error: <sentence>`, or with --json a contract's refusal as
    `{"error": {"name": ..., "arguments": {...}, "message": ...}}`."""
    from medledger.chain.errors import ContractRevertError

    if not isinstance(exc, ContractRevertError):
        click.echo(f"error: {exc}", err=True)
        return
    from medledger.cli.messages import refusal_sentence

    message = refusal_sentence(exc.error, exc.arguments) or str(exc)
    app = click.get_current_context(silent=True)
    as_json = app is not None and (obj := app.find_object(AppContext)) is not None and obj.settings.json
    if as_json:
        arguments = {key: _json_value(value) for key, value in exc.arguments.items()}
        click.echo(json.dumps({"error": {"name": exc.error, "arguments": arguments, "message": message}}), err=True)
    else:
        click.echo(f"error: {message}", err=True)


def _json_value(value: object) -> object:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    return value


def exit_code_for(exc: Exception) -> int | None:
    """The exit code for a failure the user can act on, None for anything else.

    The library's exception classes are imported only once something failed, so commands that
    never touch the chain (`--help`, `devnet`, `account list`) start without loading web3."""
    from medledger.chain.errors import (
        AccountError,
        ChainError,
        ConnectionFailedError,
        ContractRevertError,
        DeploymentError,
        WrongChainError,
    )
    from medledger.crypto import CryptoError
    from medledger.flows import (
        AccessDeniedError,
        AlreadyCurrentError,
        FlowError,
        NoReadableKeyError,
        RecordErasedError,
        RecordNotFoundError,
    )
    from medledger.keyservice.errors import ConfigError, ReleaseFailedError, ReleaseRefusedError
    from medledger.ledger.base import InvalidArgumentError
    from medledger.scopes import ScopeError
    from medledger.storage import StorageError, StorageTimeoutError, StorageUnavailableError

    for classes, code in (
        ((ConnectionFailedError, StorageUnavailableError, StorageTimeoutError), EXIT_UNREACHABLE),
        (
            (
                ContractRevertError,
                AccessDeniedError,
                NoReadableKeyError,
                RecordErasedError,
                RecordNotFoundError,
                AlreadyCurrentError,
                ReleaseFailedError,  # fewer than k key-release services released a share
                ReleaseRefusedError,
            ),
            EXIT_REFUSED,
        ),
        (
            (
                InvalidArgumentError,
                ScopeError,
                AccountError,
                WrongChainError,
                DeploymentError,
                FileNotFoundError,
                IsADirectoryError,
                ConfigError,
            ),
            EXIT_USAGE,
        ),
        ((ChainError, FlowError, CryptoError, StorageError), EXIT_FAILED),
    ):
        if isinstance(exc, classes):
            return code
    return None


pass_app = click.make_pass_decorator(AppContext)
