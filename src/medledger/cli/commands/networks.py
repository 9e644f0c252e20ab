"""`medledger networks add|list|remove`: named networks kept in <home>/networks.toml."""

from __future__ import annotations

import click

from medledger.cli import named_networks as named
from medledger.cli.context import AppContext, guarded, pass_app


@click.group("networks")
def command() -> None:
    """Named networks for --network NAME (devnet and embedded are built in).

    Each network's deployments are recorded under <home>/deployments/NAME/, so commands find
    them from any directory.
    """


@command.command("add")
@click.argument("name")
@click.option("--rpc-url", required=True, help="The network's Ethereum RPC URL (http or https).")
@click.option("--chain-id", type=click.IntRange(1), required=True, help="Its chain id; every command checks it.")
@click.option("--ipfs-api", default=None, help="An IPFS RPC API URL to use with this network [default: none].")
@click.option(
    "--confirmations", type=click.IntRange(1, 64), default=None, help="Blocks to wait after each transaction."
)
@click.option("--replace", is_flag=True, help="Redefine an existing network of that name.")
@pass_app
@guarded
def add(
    app: AppContext,
    name: str,
    rpc_url: str,
    chain_id: int,
    ipfs_api: str | None,
    confirmations: int | None,
    replace: bool,
) -> None:
    """Add network NAME (its RPC URL and chain id); nothing is contacted."""
    network = named.Network(named.check_name(name), rpc_url, chain_id, ipfs_api, confirmations)
    path = named.add_network(app.settings.home, network, replace=replace)
    app.output(
        {**network.to_json(), "file": str(path)},
        f"added network {name} (chain {chain_id}, {rpc_url}) to {path}; use it with --network {name}",
    )


@command.command("list")
@pass_app
@guarded
def list_(app: AppContext) -> None:
    """List the networks: built-in first, then those added."""
    from medledger.cli.devnet_state import load_live_devnet

    networks = named.load_networks(app.settings.home)
    devnet = load_live_devnet(app.settings.home)
    rows = []
    for network in networks.values():
        row = network.to_json()
        if network.name == named.DEVNET:
            row["rpcUrl"] = devnet["anvil"]["rpc_url"] if devnet else None
            row["running"] = devnet is not None
        row["deployments"] = str(named.deployments_home(app.settings.home, network.name))
        rows.append(row)

    def human() -> None:
        for row in rows:
            if row["name"] == named.DEVNET:
                where = row["rpcUrl"] or "not running (`medledger devnet up`)"
            elif row["name"] == named.EMBEDDED:
                where = "in-process chain, fresh for every command"
            else:
                where = str(row["rpcUrl"])
            chain = f"chain {row['chainId']}" if row["chainId"] is not None else "chain -"
            tag = "  (built in)" if row["builtIn"] else ""
            click.echo(f"{row['name']:<12} {chain:<16} {where}{tag}")

    app.output(rows, human)


@command.command("remove")
@click.argument("name")
@pass_app
@guarded
def remove(app: AppContext, name: str) -> None:
    """Remove network NAME (its recorded deployments stay under <home>/deployments/NAME)."""
    path = named.remove_network(app.settings.home, name)
    app.output({"removed": name, "file": str(path)}, f"removed network {name} from {path}")
