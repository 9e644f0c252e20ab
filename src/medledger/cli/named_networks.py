"""Named networks, as brownie and ape users know them: `<home>/networks.toml`.

The file holds one table per network the user added::

    [networks.sepolia]
    rpc_url = "https://sepolia.example/rpc"
    chain_id = 11155111
    # optional: ipfs_api = "http://127.0.0.1:5001", confirmations = 3

Two networks are built in and cannot be added, changed or removed: `devnet`, the chain and IPFS
daemon `medledger devnet up` started (looked up in its state file when used), and `embedded`,
a fresh in-process chain that lives as long as the command (nothing is recorded for it).

Deployments are kept per network under the home, `<home>/deployments/<network>/<chainId>.json`,
so every command finds them from any working directory.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import click

DEVNET = "devnet"
EMBEDDED = "embedded"  # medledger.chain.connection.EMBEDDED, spelled out so `--help` need not import web3
BUILT_IN = (DEVNET, EMBEDDED)
DEVNET_CHAIN_ID = 31337
UNNAMED = "unnamed"  # the deployments folder for an RPC URL given without a network name
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class Network:
    name: str
    rpc_url: str | None  # None: devnet, whose URL is known only while it runs
    chain_id: int | None  # None: embedded, whose chain id is py-evm's
    ipfs_api: str | None = None
    confirmations: int | None = None
    built_in: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "rpcUrl": self.rpc_url,
            "chainId": self.chain_id,
            "ipfsApi": self.ipfs_api,
            "confirmations": self.confirmations,
            "builtIn": self.built_in,
        }


def networks_file(home: Path) -> Path:
    return home / "networks.toml"


def deployments_home(home: Path, network: str) -> Path:
    """Where the deployments of `network` are recorded."""
    return home / "deployments" / network


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise click.BadParameter(
            f"{name!r} is not a network name: use lower-case letters, digits, '-', '_' or '.' (at most 63)",
            param_hint="NAME",
        )
    return name


def built_in(name: str) -> Network:
    if name == DEVNET:
        return Network(DEVNET, None, DEVNET_CHAIN_ID, built_in=True)
    return Network(EMBEDDED, EMBEDDED, None, built_in=True)


def load_networks(home: Path) -> dict[str, Network]:
    """The built-in networks, then the user's, by name."""
    found = {name: built_in(name) for name in BUILT_IN}
    path = networks_file(home)
    if not path.exists():
        return found
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        raise click.UsageError(f"{path} is not valid TOML: {exc}") from None
    tables = data.get("networks", {})
    if not isinstance(tables, dict) or set(data) - {"networks"}:
        raise click.UsageError(f"{path} must hold only [networks.NAME] tables")
    for name, table in tables.items():
        if name in BUILT_IN or not isinstance(table, dict):
            raise click.UsageError(f"{path}: [networks.{name}] is not a network table (or names a built-in network)")
        try:
            found[name] = Network(
                name=name,
                rpc_url=str(table["rpc_url"]),
                chain_id=int(table["chain_id"]),
                ipfs_api=str(table["ipfs_api"]) if table.get("ipfs_api") else None,
                confirmations=int(table["confirmations"]) if table.get("confirmations") else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise click.UsageError(f"{path}: [networks.{name}] needs rpc_url and chain_id ({exc})") from None
    return found


def get_network(home: Path, name: str) -> Network:
    networks = load_networks(home)
    if name not in networks:
        raise click.UsageError(
            f"unknown network {name!r}: known are {', '.join(sorted(networks))} "
            "(add one with `medledger networks add NAME --rpc-url URL --chain-id ID`)"
        )
    return networks[name]


def add_network(home: Path, network: Network, *, replace: bool = False) -> Path:
    check_name(network.name)
    if network.name in BUILT_IN:
        raise click.UsageError(f"{network.name!r} is a built-in network and cannot be redefined")
    if not network.rpc_url or not network.rpc_url.startswith(("http://", "https://")):
        raise click.BadParameter(f"{network.rpc_url!r} is not an http(s) URL", param_hint="--rpc-url")
    networks = load_networks(home)
    if network.name in networks and not replace:
        raise click.UsageError(f"network {network.name!r} already exists; pass --replace to change it")
    networks[network.name] = network
    return _save(home, networks)


def remove_network(home: Path, name: str) -> Path:
    if name in BUILT_IN:
        raise click.UsageError(f"{name!r} is a built-in network and cannot be removed")
    networks = load_networks(home)
    if name not in networks:
        raise click.UsageError(f"unknown network {name!r}")
    del networks[name]
    return _save(home, networks)


def _save(home: Path, networks: dict[str, Network]) -> Path:
    """Write the user's networks atomically (JSON strings are valid TOML basic strings)."""
    lines = ["# medledger networks: `medledger networks add|list|remove`"]
    for network in networks.values():
        if network.built_in:
            continue
        lines += ["", f"[networks.{json.dumps(network.name)}]", f"rpc_url = {json.dumps(network.rpc_url)}"]
        lines.append(f"chain_id = {network.chain_id}")
        if network.ipfs_api:
            lines.append(f"ipfs_api = {json.dumps(network.ipfs_api)}")
        if network.confirmations:
            lines.append(f"confirmations = {network.confirmations}")
    path = networks_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path
