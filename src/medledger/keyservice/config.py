"""A key-release service's configuration: one TOML file.

Example (relative paths are resolved against the file's directory)::

    [chain]
    rpc_url = "http://127.0.0.1:8545"
    ledger = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    chain_id = 31337
    timeout = 5.0              # seconds for each chain call
    confirmations = 1          # how deep the reader's logAccess must be

    [account]                  # the service's one secret: its Ethereum key (X25519 key derived from it)
    keystore = "service.json"  # with its password in the variable named by password_env
    password_env = "MEDLEDGER_SERVICE_PASSWORD"
    # or: private_key_env = "MEDLEDGER_SERVICE_KEY"

    [server]
    host = "127.0.0.1"
    port = 8701
    max_body_bytes = 1048576

    [policy]
    max_access_age = 600       # seconds between the logAccess block and the request
    max_request_lifetime = 120 # how far ahead a request's deadline may be
    rate_limit = 20.0          # requests per second per reader (token bucket)
    rate_burst = 40

    [log]
    database = "releases.sqlite"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import is_address, to_checksum_address

from medledger.chain.accounts import Signer, from_environment, from_keystore
from medledger.chain.errors import AccountError

from .errors import ConfigError

__all__ = ["ServiceConfig", "load_config"]


@dataclass(frozen=True)
class ServiceConfig:
    rpc_url: str
    ledger: str
    chain_id: int
    database: Path
    keystore: Path | None = None
    password_env: str = "MEDLEDGER_SERVICE_PASSWORD"
    private_key_env: str | None = None
    host: str = "127.0.0.1"
    port: int = 8701
    chain_timeout: float = 5.0
    confirmations: int = 1
    max_access_age: int = 600
    max_request_lifetime: int = 120
    rate_limit: float = 20.0
    rate_burst: int = 40
    max_body_bytes: int = 1024 * 1024
    source: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not is_address(self.ledger):
            raise ConfigError(f"ledger {self.ledger!r} is not an Ethereum address")
        object.__setattr__(self, "ledger", to_checksum_address(self.ledger))
        if not self.rpc_url.startswith(("http://", "https://")):
            raise ConfigError(f"rpc_url {self.rpc_url!r} is not an http(s) URL")
        if (self.keystore is None) == (self.private_key_env is None):
            raise ConfigError("the [account] section needs exactly one of keystore or private_key_env")
        checks = (
            ("chain_id", self.chain_id > 0),
            ("port", 0 <= self.port < 65536),
            ("timeout", self.chain_timeout > 0),
            ("confirmations", 1 <= self.confirmations <= 64),
            ("max_access_age", self.max_access_age > 0),
            ("max_request_lifetime", self.max_request_lifetime > 0),
            ("rate_limit", self.rate_limit > 0),
            ("rate_burst", self.rate_burst >= 1),
            ("max_body_bytes", self.max_body_bytes >= 1024),
        )
        for name, ok in checks:
            if not ok:
                raise ConfigError(f"{name} is out of range in the service configuration")

    def signer(self) -> Signer:
        """The service's account, from its keystore (password from the environment) or a key variable."""
        try:
            if self.private_key_env is not None:
                return from_environment(self.private_key_env)
            password = os.environ.get(self.password_env)
            if password is None:
                raise ConfigError(f"keystore {self.keystore} needs its password in ${self.password_env}")
            return from_keystore(self.keystore, password)  # type: ignore[arg-type]
        except AccountError as exc:
            raise ConfigError(str(exc)) from None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


_SCHEMA: dict[str, dict[str, tuple[str, type | tuple[type, ...]]]] = {
    "chain": {
        "rpc_url": ("rpc_url", str),
        "ledger": ("ledger", str),
        "chain_id": ("chain_id", int),
        "timeout": ("chain_timeout", (int, float)),
        "confirmations": ("confirmations", int),
    },
    "account": {
        "keystore": ("keystore", str),
        "password_env": ("password_env", str),
        "private_key_env": ("private_key_env", str),
    },
    "server": {"host": ("host", str), "port": ("port", int), "max_body_bytes": ("max_body_bytes", int)},
    "policy": {
        "max_access_age": ("max_access_age", int),
        "max_request_lifetime": ("max_request_lifetime", int),
        "rate_limit": ("rate_limit", (int, float)),
        "rate_burst": ("rate_burst", int),
    },
    "log": {"database": ("database", str)},
}
_REQUIRED = ("rpc_url", "ledger", "chain_id", "database")


def load_config(path: str | os.PathLike[str]) -> ServiceConfig:
    """Read and check a service configuration file; ConfigError names the first problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"service configuration {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"service configuration {path} is not readable: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"service configuration {path} is not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for section, content in data.items():
        if section not in _SCHEMA or not isinstance(content, dict):
            raise ConfigError(f"{path}: unknown section [{section}]")
        for key, value in content.items():
            if key not in _SCHEMA[section]:
                raise ConfigError(f"{path}: unknown key {key} in [{section}]")
            name, kind = _SCHEMA[section][key]
            if isinstance(value, bool) or not isinstance(value, kind):
                raise ConfigError(f"{path}: [{section}] {key} has the wrong type")
            values[name] = value
    missing = [name for name in _REQUIRED if name not in values]
    if missing:
        raise ConfigError(f"{path}: missing {', '.join(missing)}")
    base = path.parent
    values["database"] = base / Path(values["database"]).expanduser()
    if "keystore" in values:
        values["keystore"] = base / Path(values["keystore"]).expanduser()
    return ServiceConfig(source=path, **values)
