"""What the portal is started with: the chain, the deployment, the store, how users log in."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from medledger.addressbook import AddressBook
from medledger.portal.sessions import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_AGE

if TYPE_CHECKING:
    from medledger.chain.accounts import Signer
    from medledger.chain.connection import Chain
    from medledger.chain.deploy import Deployment
    from medledger.chain.transactions import TxPolicy
    from medledger.storage import BlobStore

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass
class PortalConfig:
    """Login is one of two kinds:

    - keystores (the default): the login page offers `keystores` (address -> keystore file) and
      asks for the password; the key is unlocked into this process's memory for the session.
    - a preset signer (a devnet's dev account, MEDLEDGER_PRIVATE_KEY): the key is already in
      memory, so the login page asks for `access_code` instead, a random code printed where the
      portal was started (whoever can read that terminal can act as this account anyway).
    """

    chain: Chain
    deployment: Deployment
    store: BlobStore
    home: Path  # <home>: accounts/<address>/ holds each account's local state, as for the CLI
    index_db: str  # the indexer's SQLite file or postgresql:// URL (the timeline's read model)
    names: AddressBook = field(default_factory=AddressBook)
    keystores: dict[str, Path] = field(default_factory=dict)
    signer: Signer | None = field(default=None, repr=False)
    access_code: str | None = field(default=None, repr=False)
    policy: TxPolicy | None = None
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    max_age: float = DEFAULT_MAX_AGE
    hosts: frozenset[str] = LOOPBACK_HOSTS  # the Host header names accepted (DNS rebinding)
    secure_cookies: bool = False  # behind a TLS-terminating proxy: mark the cookie Secure

    def __post_init__(self) -> None:
        if (self.signer is None) == (not self.keystores):
            raise ValueError("a portal logs in with keystores or with a preset signer, exactly one")
        if self.signer is not None and not self.access_code:
            raise ValueError("a preset signer needs an access code")


__all__ = ["LOOPBACK_HOSTS", "PortalConfig"]
