"""What the medledger brownie scripts share: brownie's network and account, as medledger objects.

Not a script (it has no `main`). Everything below calls the medledger Python API; brownie only
supplies the endpoint (`network.web3`) and the signing account.

Environment variables, read by every script:
  BROWNIE_ACCOUNT            who signs: an index into brownie's `accounts` on a development
                             network (default 0), or the id of a brownie keystore
                             (`brownie accounts new ID`), required on live networks
  BROWNIE_ACCOUNT_PASSWORD   that keystore's password (else brownie prompts for it)
  MEDLEDGER_PRIVATE_KEY      a hex private key instead (CI); wins over BROWNIE_ACCOUNT
  MEDLEDGER_DEPLOYMENTS      where deployments/<chainId>.json lives (default: deployments)
  MEDLEDGER_HOME             local state: block store, publish journal (default: ~/.medledger)
  MEDLEDGER_IPFS_API         a Kubo-compatible RPC API, e.g. http://127.0.0.1:5001 (default: the
                             embedded block store in MEDLEDGER_HOME/blocks)
"""

from __future__ import annotations

import os
from pathlib import Path

from brownie import accounts, network
from brownie._config import CONFIG

from medledger.chain.accounts import PRIVATE_KEY_ENV, Signer, anvil_account, from_environment
from medledger.chain.connection import Chain, connect
from medledger.chain.deploy import Deployment, load_deployment
from medledger.flows import Session
from medledger.ledger import MedLedger
from medledger.storage import BlobStore, KuboStore, LocalBlockStore

ACCOUNT_ENV = "BROWNIE_ACCOUNT"
PASSWORD_ENV = "BROWNIE_ACCOUNT_PASSWORD"
DEPLOYMENTS_ENV = "MEDLEDGER_DEPLOYMENTS"
HOME_ENV = "MEDLEDGER_HOME"
IPFS_ENV = "MEDLEDGER_IPFS_API"


def chain() -> Chain:
    """medledger's connection to the endpoint brownie is connected to (`--network`)."""
    endpoint = network.web3.provider.endpoint_uri
    connection = connect(endpoint)
    connection.require_chain_id(int(network.chain.id))
    return connection


def is_development() -> bool:
    return CONFIG.network_type == "development"


def signer() -> Signer:
    """The account that signs, as a medledger Signer (its key never leaves the object)."""
    if os.environ.get(PRIVATE_KEY_ENV):
        return from_environment()
    choice = os.environ.get(ACCOUNT_ENV, "0" if is_development() else "")
    if choice.isdigit():
        if not is_development():
            raise SystemExit(
                f"{ACCOUNT_ENV}={choice} names a development account; on a live network "
                "use a brownie keystore id or MEDLEDGER_PRIVATE_KEY"
            )
        # brownie's development accounts are unlocked in anvil, which derives them from the
        # well-known test mnemonic: medledger derives the same keys.
        dev = anvil_account(int(choice))
        if dev.address != accounts[int(choice)].address:
            raise SystemExit(f"brownie's accounts[{choice}] is not anvil's development account {choice}")
        return dev
    if not choice:
        raise SystemExit(f"no account: set {ACCOUNT_ENV} to a brownie keystore id, or {PRIVATE_KEY_ENV}")
    account = accounts.load(choice, password=os.environ.get(PASSWORD_ENV))
    return Signer.from_private_key(account.private_key)


def deployments_dir() -> Path:
    return Path(os.environ.get(DEPLOYMENTS_ENV, "deployments"))


def home() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".medledger")


def store() -> BlobStore:
    api = os.environ.get(IPFS_ENV)
    return KuboStore(api) if api else LocalBlockStore(home() / "blocks")


def deployment(connection: Chain) -> Deployment:
    return load_deployment(deployments_dir(), connection)


def session() -> Session:
    """One account acting on the recorded deployment, with the configured blob store."""
    connection = chain()
    recorded = deployment(connection)
    me = signer()
    ledger = MedLedger.from_deployment(connection, recorded, signer=me)
    return Session.open(ledger, store(), home() / "accounts" / me.address, recorded)
