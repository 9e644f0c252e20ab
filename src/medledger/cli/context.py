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

from medledger.cli import named_networks as named
from medledger.cli.settings import Settings

if TYPE_CHECKING:  # imported lazily below, so that `--help` starts without loading web3
    from medledger.chain.accounts import Signer
    from medledger.chain.connection import Chain
    from medledger.chain.deploy import Deployment
    from medledger.chain.transactions import TxPolicy
    from medledger.flows import Session
    from medledger.ledger import MedLedger
    from medledger.storage import BlobStore, StorageConfig

# Exit codes (documented in the README).
EXIT_OK = 0
EXIT_FAILED = 1  # the operation failed (transaction, crypto, storage)
EXIT_USAGE = 2  # bad input: unknown names, unparseable values, wrong password, missing files
EXIT_REFUSED = 3  # the contract, the access rules or the key-release services refused
EXIT_UNREACHABLE = 4  # a node or daemon did not answer

PASSWORD_ENV = "MEDLEDGER_PASSWORD"
DEVNET_CHAIN_ID = 31337

# Where a setting came from, highest precedence first.
FLAG, ENVIRONMENT, CONFIG = 0, 1, 2
LEVELS = {FLAG: "both as flags", ENVIRONMENT: "both in the environment", CONFIG: "both in the config file"}


@dataclass(frozen=True)
class Target:
    """The network a command acts on: its name (the folder its deployments are recorded in), the
    RPC URL ("embedded" for the in-process chain) and, for a named network, its definition."""

    name: str
    rpc_url: str
    network: named.Network | None


@dataclass
class AppContext:
    settings: Settings
    options: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)  # option name -> FLAG or ENVIRONMENT
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
        value = self.settings.pick(name, self.options.get(name))
        if value is None and name in ("ipfs_api", "confirmations"):
            try:  # a named network's own IPFS API and confirmations
                network = self.target().network
            except click.UsageError:
                network = None  # no chain chosen: the command that needs one says so
            value = getattr(network, name) if network is not None else None
        return value

    def _given(self, name: str) -> tuple[Any, int | None]:
        """An option's value and where it came from: FLAG, ENVIRONMENT, CONFIG, or (None, None)."""
        if self.options.get(name) is not None:
            return self.options[name], self.sources.get(name, ENVIRONMENT)
        if self.settings.values.get(name) is not None:
            return self.settings.values[name], CONFIG
        return None, None

    def target(self) -> Target:
        """The network to act on: --network or --rpc-url, whichever comes from the higher level
        (flag > environment > config file), else the running devnet."""
        if "target" not in self._cache:
            self._cache["target"] = self._resolve_target()
        target: Target = self._cache["target"]
        return target

    def _resolve_target(self) -> Target:
        url, url_level = self._given("rpc_url")
        name, name_level = self._given("network")
        if url is not None and name is not None:
            if url_level == name_level:
                raise click.UsageError(
                    f"both --rpc-url and --network are given ({LEVELS[_level(url_level)]}); give one of them"
                )
            if _level(url_level) < _level(name_level):
                name = None
            else:
                url = None
        home = self.settings.home
        if name is not None:
            network = named.get_network(home, str(name))
            if network.name == named.DEVNET:
                if not self.devnet:
                    raise click.UsageError("network devnet is not running: start it with `medledger devnet up`")
                return Target(network.name, self.devnet["anvil"]["rpc_url"], network)
            return Target(network.name, str(network.rpc_url), network)
        if url is not None:
            url = str(url)
            if self.devnet and url.rstrip("/") == str(self.devnet["anvil"]["rpc_url"]).rstrip("/"):
                return Target(named.DEVNET, url, named.built_in(named.DEVNET))
            for network in named.load_networks(home).values():
                if network.rpc_url and not network.built_in and network.rpc_url.rstrip("/") == url.rstrip("/"):
                    return Target(network.name, url, network)
            return Target(named.EMBEDDED if url == named.EMBEDDED else named.UNNAMED, url, None)
        if self.devnet:
            return Target(named.DEVNET, self.devnet["anvil"]["rpc_url"], named.built_in(named.DEVNET))
        raise click.UsageError(
            "no chain: pass --network NAME (or MEDLEDGER_NETWORK; see `medledger networks list`), "
            "--rpc-url URL, or start `medledger devnet up`"
        )

    @property
    def devnet(self) -> dict[str, Any] | None:
        from medledger.cli.devnet_state import load_live_devnet

        if "devnet" not in self._cache:
            self._cache["devnet"] = load_live_devnet(self.settings.home)
        return self._cache["devnet"]

    def chain(self) -> Chain:
        if "chain" not in self._cache:
            from medledger.chain.connection import connect

            target = self.target()
            chain = connect(target.rpc_url)
            if target.network is not None and target.network.chain_id is not None:
                chain.require_chain_id(target.network.chain_id)
            expected = self.option("chain_id")
            if expected is not None:
                chain.require_chain_id(int(expected))
            self._cache["chain"] = chain
        return self._cache["chain"]

    def deployments_dir(self) -> Path:
        """--deployments if given; else <home>/deployments/<network>; else, when only it records
        this chain, a project-local ./deployments (said once on stderr)."""
        given = self.option("deployments")
        if given:
            return Path(given)
        if "deployments_dir" not in self._cache:
            from medledger.chain.deploy import deployment_path, pending_path

            directory = named.deployments_home(self.settings.home, self.target().name)
            legacy = Path("deployments")
            chain_id = self.chain().chain_id
            mine = (deployment_path(directory, chain_id), pending_path(directory, chain_id))
            theirs = (deployment_path(legacy, chain_id), pending_path(legacy, chain_id))
            if not self.chain().is_embedded and not any(p.exists() for p in mine) and any(p.exists() for p in theirs):
                click.echo(
                    f"note: using the project-local {legacy}/{chain_id}.json; nothing is recorded for network "
                    f"{self.target().name} under {directory} (move the file there to use it from any directory)",
                    err=True,
                )
                directory = legacy
            self._cache["deployments_dir"] = directory
        directory = self._cache["deployments_dir"]
        assert isinstance(directory, Path)
        return directory

    def deployment(self) -> Deployment:
        if "deployment" not in self._cache:
            from medledger.chain.deploy import deploy, deployment_path, load_deployment

            chain = self.chain()
            if chain.is_embedded and self.option("deployments") is None:
                # The embedded chain lives as long as this process: deploy a fresh ledger on it,
                # administered by the account in use (or a throwaway one for read-only commands).
                self._cache["deployment"] = deploy(chain, self._embedded_admin(), policy=self.policy())
            else:
                directory = self.deployments_dir()
                if not deployment_path(directory, chain.chain_id).exists() and not self.option("deployments"):
                    from medledger.chain.errors import DeploymentError

                    name = self.target().name
                    network = f"--network {name}" if name != named.UNNAMED else "--rpc-url ..."
                    raise DeploymentError(
                        f"nothing is deployed on network {name} (chain {chain.chain_id}; looked in {directory}): "
                        f"run `medledger deploy {network}` first, or pass --deployments DIR"
                    )
                self._cache["deployment"] = load_deployment(directory, chain)
        return self._cache["deployment"]

    def _embedded_admin(self) -> Signer:
        from medledger.chain.accounts import Signer

        try:
            return self.signer()
        except click.UsageError:
            signer = Signer.from_private_key(os.urandom(32))
            self.chain().fund(signer.address, 10**20)
            return signer

    def policy(self) -> TxPolicy:
        from medledger.chain.transactions import TxPolicy

        confirmations = self.option("confirmations")
        return TxPolicy(confirmations=int(confirmations)) if confirmations else TxPolicy()

    def signer(self) -> Signer:
        if "signer" not in self._cache:
            signer = self._load_signer()
            chain = self._cache.get("chain")
            if chain is not None and chain.is_embedded and chain.w3.eth.get_balance(signer.address) == 0:
                chain.fund(signer.address, 10**20)  # the embedded chain's faucet pays for gas
            self._cache["signer"] = signer
        return self._cache["signer"]

    def _load_signer(self) -> Signer:
        from medledger.chain import accounts

        keystore, keystore_level = self._given("keystore")
        account, account_level = self._given("account")
        if account is not None and keystore is not None and account_level == keystore_level:
            raise click.UsageError("both --account and --keystore are given; give one of them")
        path: Path | None = None
        if account is not None and (keystore is None or _level(account_level) < _level(keystore_level)):
            path = resolve_account(self.settings.home, str(account))
        elif keystore:
            path = resolve_keystore(self.settings.home, str(keystore))
        if path is not None:
            password = os.environ.get(PASSWORD_ENV)
            if password is None:
                if not sys.stdin.isatty():
                    raise click.UsageError(f"keystore {path} needs a password: set {PASSWORD_ENV} or run interactively")
                password = click.prompt(f"Password for {path.name} (or set {PASSWORD_ENV})", hide_input=True)
            return accounts.from_keystore(path, password)
        if os.environ.get(accounts.PRIVATE_KEY_ENV):
            return accounts.from_environment()
        dev = self.option("dev_account")
        if dev is not None:
            if self.chain().chain_id != DEVNET_CHAIN_ID and not self.chain().is_embedded:
                raise click.UsageError(
                    f"--dev-account is only for a local devnet (chain {DEVNET_CHAIN_ID}) or the embedded chain; "
                    "use --account or --keystore on other chains"
                )
            return accounts.anvil_account(int(dev))
        raise click.UsageError(
            "no account: pass --account NAME (see `medledger account list`), --keystore FILE, set "
            f"{accounts.PRIVATE_KEY_ENV}, or use --dev-account N on a devnet"
        )

    def ledger(self, *, signed: bool = True) -> MedLedger:
        from medledger.ledger import MedLedger

        return MedLedger.from_deployment(
            self.chain(), self.deployment(), signer=self.signer() if signed else None, policy=self.policy()
        )

    def store(self) -> BlobStore:
        """--ipfs-api (flag or environment) if given; else the config file's [storage] stores
        (a ReplicatedStore); else its ipfs_api, the devnet's daemon, or the embedded store."""
        if "store" not in self._cache:
            from medledger.storage import KuboStore, LocalBlockStore, open_replicated

            storage = self.storage_config()
            if self.options.get("ipfs_api") is None and storage is not None:
                self._cache["store"] = open_replicated(storage)
                return self._cache["store"]
            api = self.option("ipfs_api")
            if api is None and self.devnet:
                api = self.devnet["ipfs"]["api_url"]
            self._cache["store"] = KuboStore(str(api)) if api else LocalBlockStore(self.settings.home / "blocks")
        return self._cache["store"]

    def storage_config(self) -> StorageConfig | None:
        """The config file's [storage] table, checked (a bad one is a one-line usage error)."""
        raw = self.settings.values.get("storage")
        if raw is None:
            return None
        from medledger.storage import StorageConfigError, parse_storage_config

        try:
            return parse_storage_config(raw, home=self.settings.home)  # type: ignore[arg-type]
        except StorageConfigError as exc:
            raise click.UsageError(f"config file: {exc}") from None

    def session(self) -> Session:
        from medledger.flows import Session

        return Session.open(
            self.ledger(), self.store(), self.settings.home / "accounts" / self.signer().address, self.deployment()
        )


def _level(level: int | None) -> int:
    return CONFIG if level is None else level


def resolve_account(home: Path, name: str) -> Path:
    """A named account: exactly <home>/keystores/<name>.json, or the keystore there of address `name`."""
    directory = home / "keystores"
    if "/" in name or name.startswith("."):
        raise click.UsageError(f"{name!r} is not an account name; give a keystore file with --keystore")
    for candidate in (directory / f"{name}.json", directory / name):
        if candidate.is_file():
            return candidate
    if len(name) == 42 and name.lower().startswith("0x") and directory.is_dir():
        for candidate in sorted(directory.glob("*.json")):
            try:
                stored = json.loads(candidate.read_text()).get("address", "")
            except (OSError, ValueError, AttributeError):
                continue
            if isinstance(stored, str) and stored.lower().removeprefix("0x") == name.lower()[2:]:
                return candidate
    raise click.UsageError(
        f"no account {name!r} in {directory}: see `medledger account list`, or create it with "
        f"`medledger account new {name}`"
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
    """--network, --rpc-url, --ipfs-api, --account, --keystore, --dev-account, --deployments,
    --confirmations, --chain-id."""
    options = [
        click.option(
            "--network",
            envvar="MEDLEDGER_NETWORK",
            default=None,
            help="Named network: devnet, embedded, or one of `medledger networks list` [env MEDLEDGER_NETWORK; "
            "default: the running devnet].",
        ),
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
            "--account",
            envvar="MEDLEDGER_ACCOUNT",
            default=None,
            help=f"Named account from `medledger account list` [env MEDLEDGER_ACCOUNT; password from {PASSWORD_ENV} "
            "or a prompt].",
        ),
        click.option(
            "--dev-account",
            type=click.IntRange(0, 9),
            envvar="MEDLEDGER_DEV_ACCOUNT",
            default=None,
            help="Use anvil's dev account N (index 0-9; devnets only).",
        ),
        click.option(
            "--deployments",
            envvar="MEDLEDGER_DEPLOYMENTS",
            default=None,
            help="Directory of <chainId>.json deployment records [default: <home>/deployments/<network>].",
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
            help="Refuse to act unless the endpoint serves this chain id (e.g. 31337, 11155111 Sepolia).",
        ),
    ]

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        network: str | None,
        rpc_url: str | None,
        ipfs_api: str | None,
        keystore: str | None,
        account: str | None,
        dev_account: int | None,
        deployments: str | None,
        confirmations: int | None,
        chain_id: int | None,
        **kwargs: Any,
    ) -> Any:
        ctx = click.get_current_context()
        app = ctx.find_object(AppContext)
        if app is None:  # only a command invoked outside the `medledger` group has no AppContext
            raise click.UsageError("medledger commands run under the `medledger` command group")
        for name in ("network", "rpc_url", "keystore", "account"):
            source = ctx.get_parameter_source(name)
            app.sources[name] = FLAG if source is click.core.ParameterSource.COMMANDLINE else ENVIRONMENT
        app.options.update(
            network=network,
            rpc_url=rpc_url,
            ipfs_api=ipfs_api,
            keystore=keystore,
            account=account,
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
