"""A deployment's storage configuration: the stores a blob is replicated to, the replication
factor, and trustless gateways for reads.

It is the `[storage]` table of the CLI's config file (any mapping of the same shape works):

    [storage]
    replication = 2                       # r: copies a publish waits for (see DEFAULT below)
    gateways = ["https://gateway.example"]  # read fallbacks, tried after every store

    [[storage.stores]]
    name = "clinic-a"                     # how reports and errors name the store
    url = "http://10.0.0.5:5001"          # a Kubo RPC endpoint (Kubo, IPFS Cluster's proxy, js-ipfs)
    bearer_token_env = "CLINIC_A_TOKEN"   # Authorization: Bearer <value of that variable>

    [[storage.stores]]
    name = "clinic-b"
    url = "https://ipfs.clinic-b.example:5001"
    username = "medledger"
    password_env = "CLINIC_B_PASSWORD"    # basic auth

    [[storage.stores]]
    name = "local"
    kind = "embedded"                     # the embedded block store
    path = "/var/lib/medledger/blocks"    # default: <home>/blocks

Credentials come from environment variables (`*_env` keys), or literally (`bearer_token`,
`password`, `headers`, user information in the URL) for files only their owner can read. No
credential ever appears in a message, a log, `describe()` or `repr()`.

Default replication factor: 1 with one store, 2 with two or more (a lost store then loses no
record); never more than the number of stores.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import StorageError
from .kubo import split_userinfo

KUBO, EMBEDDED = "kubo", "embedded"
_STORE_KEYS = {
    "name",
    "kind",
    "url",
    "path",
    "bearer_token",
    "bearer_token_env",
    "username",
    "password",
    "password_env",
    "headers",
    "timeout",
}
_STORAGE_KEYS = {"stores", "replication", "gateways"}


class StorageConfigError(StorageError, ValueError):
    """The storage configuration is malformed (names the key, never a credential's value)."""


@dataclass(frozen=True)
class Credentials:
    """What an endpoint needs to let us in. repr() and describe() never show the values."""

    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    basic: tuple[str, str] | None = field(default=None, repr=False)

    def describe(self) -> list[str]:
        kinds = [f"header {name}" for name in self.headers if name.lower() != "authorization"]
        if any(name.lower() == "authorization" for name in self.headers):
            kinds.insert(0, "bearer token")
        if self.basic is not None:
            kinds.append(f"basic auth as {self.basic[0]}")
        return kinds


@dataclass(frozen=True)
class StoreSpec:
    name: str
    kind: str  # KUBO or EMBEDDED
    url: str | None = None  # without user information
    path: Path | None = None
    credentials: Credentials = field(default_factory=Credentials)
    timeout: float | None = None  # seconds for one block (block/get), None: the client's default

    def describe(self) -> dict[str, Any]:
        where = self.url if self.kind == KUBO else str(self.path)
        return {"name": self.name, "kind": self.kind, "location": where, "credentials": self.credentials.describe()}


@dataclass(frozen=True)
class GatewaySpec:
    url: str
    credentials: Credentials = field(default_factory=Credentials)

    def describe(self) -> dict[str, Any]:
        return {"url": self.url, "credentials": self.credentials.describe()}


@dataclass(frozen=True)
class StorageConfig:
    stores: tuple[StoreSpec, ...]
    replication: int
    gateways: tuple[GatewaySpec, ...] = ()

    def describe(self) -> dict[str, Any]:
        """The configuration with every credential replaced by what kind it is."""
        return {
            "replication": self.replication,
            "stores": [spec.describe() for spec in self.stores],
            "gateways": [gateway.describe() for gateway in self.gateways],
        }


def default_replication(stores: int) -> int:
    return 1 if stores <= 1 else 2


def parse_storage_config(
    data: Mapping[str, Any], *, home: Path, environ: Mapping[str, str] | None = None
) -> StorageConfig:
    """Check and resolve a `[storage]` table; StorageConfigError names the first problem."""
    env = os.environ if environ is None else environ
    if not isinstance(data, Mapping):
        raise StorageConfigError("[storage] must be a table")
    unknown = sorted(set(data) - _STORAGE_KEYS)
    if unknown:
        raise StorageConfigError(f"[storage] has unknown keys {unknown}; known: {sorted(_STORAGE_KEYS)}")
    raw_stores = data.get("stores")
    if not isinstance(raw_stores, Sequence) or isinstance(raw_stores, str) or not raw_stores:
        raise StorageConfigError("[storage] needs at least one [[storage.stores]] entry")
    stores = tuple(_store(index, item, home, env) for index, item in enumerate(raw_stores, start=1))
    names = [spec.name for spec in stores]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise StorageConfigError(f"[[storage.stores]] names must differ; repeated: {duplicates}")
    replication = data.get("replication", default_replication(len(stores)))
    if isinstance(replication, bool) or not isinstance(replication, int):
        raise StorageConfigError(f"storage.replication must be a whole number, not {type(replication).__name__}")
    if not 1 <= replication <= len(stores):
        raise StorageConfigError(
            f"storage.replication is {replication} but {len(stores)} store(s) are configured: it must be "
            f"between 1 and {len(stores)}"
        )
    raw_gateways = data.get("gateways", [])
    if not isinstance(raw_gateways, Sequence) or isinstance(raw_gateways, str):
        raise StorageConfigError("storage.gateways must be a list of URLs (or of tables with a url)")
    gateways = tuple(_gateway(index, item, env) for index, item in enumerate(raw_gateways, start=1))
    return StorageConfig(stores, replication, gateways)


def single_store_config(spec: StoreSpec) -> StorageConfig:
    return StorageConfig((spec,), 1)


def _store(index: int, item: object, home: Path, env: Mapping[str, str]) -> StoreSpec:
    where = f"[[storage.stores]] entry {index}"
    if not isinstance(item, Mapping):
        raise StorageConfigError(f"{where} must be a table")
    unknown = sorted(set(item) - _STORE_KEYS)
    if unknown:
        raise StorageConfigError(f"{where} has unknown keys {unknown}; known: {sorted(_STORE_KEYS)}")
    url = item.get("url")
    kind = item.get("kind", KUBO if url is not None else EMBEDDED if "path" in item else None)
    if kind not in (KUBO, EMBEDDED):
        raise StorageConfigError(f"{where}: kind must be {KUBO!r} (with a url) or {EMBEDDED!r}, not {kind!r}")
    name = item.get("name", f"store-{index}")
    if not isinstance(name, str) or not name.strip():
        raise StorageConfigError(f"{where}: name must be a non-empty string")
    where = f"store {name!r}"
    timeout = item.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise StorageConfigError(f"{where}: timeout must be a positive number of seconds")
    if kind == EMBEDDED:
        if url is not None:
            raise StorageConfigError(f"{where}: an embedded store has a path, not a url")
        path = Path(str(item.get("path") or home / "blocks")).expanduser()
        return StoreSpec(name, EMBEDDED, path=path)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise StorageConfigError(f"{where}: url must be an http:// or https:// Kubo RPC endpoint")
    clean, url_auth = split_userinfo(url.rstrip("/"))
    credentials = _credentials(where, item, env, url_auth)
    return StoreSpec(name, KUBO, url=clean, credentials=credentials, timeout=float(timeout) if timeout else None)


def _gateway(index: int, item: object, env: Mapping[str, str]) -> GatewaySpec:
    where = f"storage.gateways entry {index}"
    if isinstance(item, str):
        item = {"url": item}
    if not isinstance(item, Mapping):
        raise StorageConfigError(f"{where} must be a URL or a table with a url")
    unknown = sorted(set(item) - (_STORE_KEYS - {"kind", "path", "name", "timeout"}))
    if unknown:
        raise StorageConfigError(f"{where} has unknown keys {unknown}")
    url = item.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise StorageConfigError(f"{where}: url must be an http:// or https:// gateway URL")
    clean, url_auth = split_userinfo(url.rstrip("/"))
    return GatewaySpec(clean, _credentials(where, item, env, url_auth))


def _credentials(
    where: str, item: Mapping[str, Any], env: Mapping[str, str], url_auth: tuple[str, str] | None
) -> Credentials:
    headers_raw = item.get("headers", {})
    if not isinstance(headers_raw, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers_raw.items()
    ):
        raise StorageConfigError(f"{where}: headers must be a table of strings")
    headers = dict(headers_raw)
    token = _secret(where, item, "bearer_token", env)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    basic = url_auth
    password = _secret(where, item, "password", env)
    username = item.get("username")
    if username is not None or password is not None:
        if not isinstance(username, str) or password is None:
            raise StorageConfigError(f"{where}: basic auth needs both username and password (or password_env)")
        basic = (username, password)
    if basic is not None and "Authorization" in headers:
        raise StorageConfigError(f"{where}: give a bearer token or basic auth, not both")
    return Credentials(headers, basic)


def _secret(where: str, item: Mapping[str, Any], key: str, env: Mapping[str, str]) -> str | None:
    literal, variable = item.get(key), item.get(f"{key}_env")
    if literal is not None and variable is not None:
        raise StorageConfigError(f"{where}: give {key} or {key}_env, not both")
    if variable is not None:
        if not isinstance(variable, str) or not variable:
            raise StorageConfigError(f"{where}: {key}_env must name an environment variable")
        value = env.get(variable)
        if not value:
            raise StorageConfigError(f"{where}: environment variable {variable} ({key}) is not set")
        return value
    if literal is not None and not isinstance(literal, str):
        raise StorageConfigError(f"{where}: {key} must be a string")
    return literal
