"""What the medledger brownie scripts share: brownie's network and account as medledger objects,
and the same config home, block store and deployment records as the `medledger` CLI.

Not a script (it has no `main`). Everything below calls the medledger Python API; brownie only
supplies the endpoint (`network.web3`) and the signing account. Home, config file, network name,
deployments directory and blob store are resolved by the CLI's own code (medledger.cli.context),
so what a script publishes `medledger record fetch` finds, and the reverse.

Environment variables, read by every script:
  BROWNIE_ACCOUNT            who signs: an anvil development account index on a development
                             network or the devnet (chain 31337; default 0), or the id of a
                             brownie keystore (`brownie accounts new ID`), required elsewhere
  BROWNIE_ACCOUNT_PASSWORD   that keystore's password (else brownie prompts for it)
  MEDLEDGER_PRIVATE_KEY      a hex private key instead (CI); wins over BROWNIE_ACCOUNT
  MEDLEDGER_HOME             config home, as for the CLI (default: ~/.medledger): block store
                             (<home>/blocks), publish journal, deployments (<home>/deployments/
                             <network>: `devnet` when brownie is attached to `medledger devnet`)
  MEDLEDGER_CONFIG           the config file, as for the CLI (default: <home>/config.toml)
  MEDLEDGER_DEPLOYMENTS      a deployments directory instead of the CLI's choice
  MEDLEDGER_IPFS_API         a Kubo-compatible RPC API, e.g. http://127.0.0.1:5001 (default, as
                             for the CLI: the config file's stores, else the running devnet's
                             IPFS daemon, else the embedded block store in <home>/blocks)

On a development network that brownie launched itself (a throwaway anvil, stopped when the
script ends) nothing is recorded under the home or ./deployments: a deployment there is a
rehearsal, recorded in build/brownie/rehearsal/ (see deploy.py).

Errors end the script with one line on stderr, `error: ...`, and the CLI's exit codes (2 bad
input, 3 refused, 4 unreachable), instead of a traceback.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from brownie import accounts, network
from brownie._config import CONFIG
from brownie.network import rpc

from medledger.chain.accounts import PRIVATE_KEY_ENV, Signer, anvil_account, from_environment
from medledger.chain.connection import Chain
from medledger.chain.deploy import Deployment
from medledger.cli.context import FLAG, AppContext, exit_code_for, report_failure
from medledger.cli.settings import Settings
from medledger.errors import MedLedgerError
from medledger.flows import Session
from medledger.ledger import MedLedger
from medledger.storage import BlobStore

ACCOUNT_ENV = "BROWNIE_ACCOUNT"
PASSWORD_ENV = "BROWNIE_ACCOUNT_PASSWORD"
DEPLOYMENTS_ENV = "MEDLEDGER_DEPLOYMENTS"
HOME_ENV = "MEDLEDGER_HOME"
CONFIG_ENV = "MEDLEDGER_CONFIG"
IPFS_ENV = "MEDLEDGER_IPFS_API"
REHEARSAL_DIR = Path("build") / "brownie" / "rehearsal"
DEVNET_CHAIN_ID = 31337  # anvil's, and `medledger devnet`'s: development accounts are allowed

_app: dict[str, AppContext] = {}


class ScriptError(MedLedgerError):
    """A script's own bad input (a missing argument or variable)."""


def one_line_errors(function: Callable[..., Any]) -> Callable[..., Any]:
    """A script entry point whose failures print one `error:` line and exit with the CLI's code."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except click.ClickException as exc:
            print(f"error: {exc.format_message()}", file=sys.stderr)
            raise SystemExit(exc.exit_code) from None
        except ScriptError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        except Exception as exc:
            code = exit_code_for(exc)
            if code is None:
                raise  # a bug: keep brownie's traceback
            report_failure(exc)
            raise SystemExit(code) from None

    return wrapper


def argument(given: str, variable: str, what: str) -> str:
    """A script argument, else the environment variable, else a one-line error naming both."""
    value = given or os.environ.get(variable, "")
    if not value:
        raise ScriptError(f"missing {what}: pass it as an argument or set {variable}")
    return value


def is_development() -> bool:
    return CONFIG.network_type == "development"


def is_rehearsal() -> bool:
    """Brownie launched this chain itself and stops it when the script ends."""
    return is_development() and rpc.is_active() and rpc.is_child()


def home() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".medledger").expanduser()


def app() -> AppContext:
    """The CLI's resolution (home, config file, network, deployments, store) for brownie's endpoint."""
    endpoint = str(network.web3.provider.endpoint_uri)
    variables = (HOME_ENV, CONFIG_ENV, DEPLOYMENTS_ENV, IPFS_ENV)
    key = "|".join([endpoint, *(os.environ.get(name, "") for name in variables)])
    cached = _app.get(key)
    if cached is not None:
        return cached
    config = os.environ.get(CONFIG_ENV)
    settings = Settings(home=home(), config_file=Path(config) if config else None)
    settings.load_config()
    context = AppContext(settings)
    deployments = os.environ.get(DEPLOYMENTS_ENV)
    if not deployments and is_rehearsal():
        deployments = str(REHEARSAL_DIR)
    context.options.update(rpc_url=endpoint, ipfs_api=os.environ.get(IPFS_ENV) or None, deployments=deployments)
    context.sources.update(rpc_url=FLAG)  # brownie's --network beats a network named in the config file
    _app.clear()
    _app[key] = context
    return context


def fresh_rehearsal() -> None:
    """Forget a previous rehearsal's record: its chain is gone."""
    if is_rehearsal() and not os.environ.get(DEPLOYMENTS_ENV):
        shutil.rmtree(REHEARSAL_DIR, ignore_errors=True)


def chain() -> Chain:
    """medledger's connection to the endpoint brownie is connected to (`--network`)."""
    connection = app().chain()
    connection.require_chain_id(int(network.chain.id))
    return connection


def signer() -> Signer:
    """The account that signs, as a medledger Signer (its key never leaves the object)."""
    if os.environ.get(PRIVATE_KEY_ENV):
        return from_environment()
    local = is_development() or int(network.chain.id) == DEVNET_CHAIN_ID
    choice = os.environ.get(ACCOUNT_ENV, "0" if local else "")
    if choice.isdigit():
        if not local:
            raise ScriptError(
                f"{ACCOUNT_ENV}={choice} names a development account; on a live network "
                "use a brownie keystore id or MEDLEDGER_PRIVATE_KEY"
            )
        # anvil derives its development accounts from the well-known test mnemonic, and so does
        # medledger (brownie's development `accounts` are the same; on the devnet, registered as a
        # live network, brownie lists none).
        dev = anvil_account(int(choice))
        if is_development() and dev.address != accounts[int(choice)].address:
            raise ScriptError(f"brownie's accounts[{choice}] is not anvil's development account {choice}")
        return dev
    if not choice:
        raise ScriptError(f"no account: set {ACCOUNT_ENV} to a brownie keystore id, or {PRIVATE_KEY_ENV}")
    account = accounts.load(choice, password=os.environ.get(PASSWORD_ENV))
    return Signer.from_private_key(account.private_key)


def deployments_dir() -> Path:
    return app().deployments_dir()


def store() -> BlobStore:
    return app().store()


def deployment(connection: Chain) -> Deployment:
    return app().deployment()


def session() -> Session:
    """One account acting on the recorded deployment, with the CLI's blob store and home."""
    connection = chain()
    recorded = deployment(connection)
    me = signer()
    ledger = MedLedger.from_deployment(connection, recorded, signer=me)
    return Session.open(ledger, store(), home() / "accounts" / me.address, recorded)
