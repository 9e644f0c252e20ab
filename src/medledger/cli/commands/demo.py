"""`medledger demo`: the README's main job."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from medledger.cli.context import AppContext, guarded, pass_app

if TYPE_CHECKING:
    from medledger.demo import DemoStep

EMBEDDED = "embedded"  # medledger.chain.connection.EMBEDDED, spelled out so `--help` need not import web3


@click.command("demo")
@click.option(
    "--rpc-url",
    default=EMBEDDED,
    show_default=True,
    envvar="MEDLEDGER_RPC_URL",
    help="Ethereum RPC URL of a development chain (anvil), or 'embedded'.",
)
@click.option(
    "--ipfs-api",
    default=None,
    envvar="MEDLEDGER_IPFS_API",
    help="Kubo-compatible IPFS RPC API URL [default: an embedded block store].",
)
@click.option("--devnet", is_flag=True, help="Use the chain and IPFS daemon of `medledger devnet up`.")
@click.option(
    "--network",
    default=None,
    help="A named network instead of --rpc-url: devnet, embedded, or one of `medledger networks list` "
    "(anvil's dev accounts sign, so a development chain).",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the demo keeps its files [default: a new temporary directory].",
)
@pass_app
@guarded
def command(
    app: AppContext, rpc_url: str, ipfs_api: str | None, devnet: bool, network: str | None, workdir: Path | None
) -> None:
    """Run the whole story: three key-release services (2 of 3, in-process), publish, grant, read
    through the services, then a narrowed, an expired and a revoked grant refused by them."""
    from medledger.cli import named_networks as named
    from medledger.demo import run_demo

    if network is not None:
        chosen = named.get_network(app.settings.home, network)
        devnet = devnet or chosen.name == named.DEVNET
        if chosen.name != named.DEVNET:
            rpc_url, ipfs_api = str(chosen.rpc_url), ipfs_api or chosen.ipfs_api
    if devnet:
        if not app.devnet:
            raise click.UsageError("no devnet is running: start one with `medledger devnet up`")
        rpc_url, ipfs_api = app.devnet["anvil"]["rpc_url"], app.devnet["ipfs"]["api_url"]

    def report(step: DemoStep) -> None:
        if not app.settings.json:
            click.echo(click.style("✔ ", fg="green") + step.title)
            for line in step.lines:
                click.echo(f"    | {line}")
            for key, value in step.details.items():
                click.echo(f"    {key}: {value}")

    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)  # run_demo writes its files there without creating it
    steps = run_demo(rpc_url=rpc_url, ipfs_api=ipfs_api, workdir=workdir, report=report)
    if app.settings.json:
        click.echo(__import__("json").dumps([asdict(step) for step in steps], indent=1, default=str))
