"""The `medledger` command. Library code never prints; this module does."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from medledger.chain.connection import EMBEDDED

EXIT_USAGE = 2
EXIT_FAILED = 1


def _emit(as_json: bool, payload: object, human: str) -> None:
    click.echo(json.dumps(payload, indent=1, default=str) if as_json else human)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="medledger")
def main() -> None:
    """medledger: patient-controlled consent and encrypted medical records on Ethereum + IPFS."""


@main.command()
@click.option("--rpc-url", default=EMBEDDED, show_default=True, envvar="MEDLEDGER_RPC_URL",
              help="Ethereum RPC URL (e.g. a devnet's anvil), or 'embedded' for an in-process chain.")
@click.option("--ipfs-api", default=None, envvar="MEDLEDGER_IPFS_API",
              help="Kubo-compatible IPFS RPC API URL; default: an embedded block store.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the demo keeps its files (default: a new temporary directory).")
@click.option("--json", "as_json", is_flag=True, help="Print the steps as JSON.")
def demo(rpc_url: str, ipfs_api: str | None, workdir: Path | None, as_json: bool) -> None:
    """Run the whole story: publish, grant, fetch, revoke, and a record the clinic cannot read."""
    from medledger.demo import run_demo

    def report(step) -> None:
        if not as_json:
            click.echo(click.style("✔ ", fg="green") + step.title)
            for key, value in step.details.items():
                click.echo(f"    {key}: {value}")

    steps = _guarded(lambda: run_demo(rpc_url=rpc_url, ipfs_api=ipfs_api, workdir=workdir, report=report))
    if as_json:
        click.echo(json.dumps([asdict(step) for step in steps], indent=1, default=str))


def _guarded(action):
    """Run `action`; a user's mistake or an unreachable service becomes one clear line and exit 1."""
    from medledger.chain.errors import ChainError
    from medledger.crypto import CryptoError
    from medledger.flows import FlowError
    from medledger.scopes import ScopeError
    from medledger.storage import StorageError

    try:
        return action()
    except (ChainError, CryptoError, FlowError, ScopeError, StorageError, FileNotFoundError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
