"""`medledger provider register|suspend|reinstate|show` and `registrar add|remove`."""

from __future__ import annotations

import click

from medledger.cli.context import AppContext, connection_options, guarded, pass_app

KINDS = ["clinician", "organization", "researcher", "insurer", "auditor"]


@click.group("provider")
def command() -> None:
    """Credential providers (registrars) and appoint registrars (admin)."""


@command.command("register")
@click.argument("address")
@click.option("--kind", type=click.Choice(KINDS), required=True)
@connection_options
@pass_app
@guarded
def register(app: AppContext, address: str, kind: str) -> None:
    """Register ADDRESS as an active provider of KIND (registrar only)."""
    receipt = app.ledger().providers.register(address, kind)
    app.output({"provider": address, "kind": kind, "txHash": receipt.tx_hash}, f"registered {address} as {kind}")


@command.command("suspend")
@click.argument("address")
@connection_options
@pass_app
@guarded
def suspend(app: AppContext, address: str) -> None:
    """Suspend ADDRESS: every consent it holds stops working at once."""
    receipt = app.ledger().providers.suspend(address)
    app.output({"provider": address, "txHash": receipt.tx_hash}, f"suspended {address}")


@command.command("reinstate")
@click.argument("address")
@connection_options
@pass_app
@guarded
def reinstate(app: AppContext, address: str) -> None:
    """Reinstate a suspended provider."""
    receipt = app.ledger().providers.reinstate(address)
    app.output({"provider": address, "txHash": receipt.tx_hash}, f"reinstated {address}")


@command.command("show")
@click.argument("address")
@connection_options
@pass_app
@guarded
def show(app: AppContext, address: str) -> None:
    """Show a provider's kind and status."""
    info = app.ledger(signed=False).providers.get(address)
    payload = {
        "address": info.address,
        "kind": info.kind.name.lower(),
        "status": info.status.name.lower(),
        "since": info.since,
    }
    app.output(payload, f"{info.address}: {payload['kind']}, {payload['status']}")


@command.command("add-registrar")
@click.argument("address")
@connection_options
@pass_app
@guarded
def add_registrar(app: AppContext, address: str) -> None:
    """Appoint ADDRESS as a registrar (admin only)."""
    receipt = app.ledger().providers.add_registrar(address)
    app.output({"registrar": address, "txHash": receipt.tx_hash}, f"{address} is now a registrar")


@command.command("add-key-service")
@click.argument("address")
@connection_options
@pass_app
@guarded
def add_key_service(app: AppContext, address: str) -> None:
    """Make ADDRESS an emergency key service (admin only): it will receive shares of patients'
    emergency keyrings and release them to providers who break glass. Publish its key first."""
    receipt = app.ledger().emergency.add_key_service(address)
    app.output({"keyService": address, "txHash": receipt.tx_hash}, f"{address} is now an emergency key service")
