"""`medledger provider register|suspend|reinstate|show|add-registrar|keyservices`."""

from __future__ import annotations

import click

from medledger.cli.context import AppContext, connection_options, guarded, pass_app
from medledger.cli.usage import address_value

KINDS = ["clinician", "organization", "researcher", "insurer", "auditor"]


@click.group("provider")
def command() -> None:
    """Credential providers (registrars) and appoint registrars (admin)."""


@command.command("register")
@click.argument("address", callback=address_value("address"))
@click.option("--kind", type=click.Choice(KINDS), required=True, help="What the provider is (decides what it may do).")
@connection_options
@pass_app
@guarded
def register(app: AppContext, address: str, kind: str) -> None:
    """Register ADDRESS as an active provider of KIND (registrar only)."""
    receipt = app.ledger().providers.register(address, kind)
    app.output({"provider": address, "kind": kind, "txHash": receipt.tx_hash}, f"registered {address} as {kind}")


@command.command("suspend")
@click.argument("address", callback=address_value("address"))
@connection_options
@pass_app
@guarded
def suspend(app: AppContext, address: str) -> None:
    """Suspend ADDRESS: every consent it holds stops working at once."""
    receipt = app.ledger().providers.suspend(address)
    app.output({"provider": address, "txHash": receipt.tx_hash}, f"suspended {address}")


@command.command("reinstate")
@click.argument("address", callback=address_value("address"))
@connection_options
@pass_app
@guarded
def reinstate(app: AppContext, address: str) -> None:
    """Reinstate a suspended provider."""
    receipt = app.ledger().providers.reinstate(address)
    app.output({"provider": address, "txHash": receipt.tx_hash}, f"reinstated {address}")


@command.command("withdraw")
@click.argument("address", callback=address_value("address"))
@connection_options
@pass_app
@guarded
def withdraw(app: AppContext, address: str) -> None:
    """Withdraw ADDRESS's credential for good (registrar only): unlike a suspension it cannot be
    reinstated, and every access it had ends at once."""
    receipt = app.ledger().providers.withdraw(address)
    app.output({"provider": address, "txHash": receipt.tx_hash}, f"withdrew {address}'s credential for good")


@command.command("set-kind")
@click.argument("address", callback=address_value("address"))
@click.option("--kind", type=click.Choice(KINDS), required=True, help="What the provider is (decides what it may do).")
@connection_options
@pass_app
@guarded
def set_kind(app: AppContext, address: str, kind: str) -> None:
    """Correct a registered provider's kind (registrar only)."""
    receipt = app.ledger().providers.set_kind(address, kind)
    app.output({"provider": address, "kind": kind, "txHash": receipt.tx_hash}, f"{address} is now a {kind}")


@command.command("show")
@click.argument("address", callback=address_value("address"))
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
@click.argument("address", callback=address_value("address"))
@connection_options
@pass_app
@guarded
def add_registrar(app: AppContext, address: str) -> None:
    """Appoint ADDRESS as a registrar (admin only)."""
    receipt = app.ledger().providers.add_registrar(address)
    app.output({"registrar": address, "txHash": receipt.tx_hash}, f"{address} is now a registrar")


@command.command("remove-registrar")
@click.argument("address", callback=address_value("address"))
@connection_options
@pass_app
@guarded
def remove_registrar(app: AppContext, address: str) -> None:
    """Take the registrar role from ADDRESS (admin only)."""
    receipt = app.ledger().providers.remove_registrar(address)
    app.output({"registrar": address, "txHash": receipt.tx_hash}, f"{address} is no longer a registrar")


@command.command("keyservices")
@click.option(
    "--version",
    "version",
    type=click.IntRange(1),
    default=None,
    help="The set's version [default: the current set, else the newest proposed].",
)
@connection_options
@pass_app
@guarded
def keyservices(app: AppContext, version: int | None) -> None:
    """Show a key-release service set: version, k of n, activation time, status (current, pending,
    cancelled or retired) and each member's address, X25519 key and endpoint."""
    from medledger.cli.units import format_time

    services = app.ledger(signed=False).services
    count = services.count()
    if count == 0:
        raise click.ClickException("no key-release service set has been proposed on this ledger")
    current = services.current_version()
    version = version or current or count
    if version > count:
        raise click.BadParameter(f"there is no service set {version} (the newest is {count})", param_hint="--version")
    found = services.service_set(version)
    now = services.sender.chain.now()
    if found.cancelled:
        status = "cancelled"
    elif found.activates_at > now:
        status = "pending"
    elif version == current:
        status = "current"
    else:
        status = "retired"  # a newer set is current; this one still serves the records written under it
    members = [
        {"index": index + 1, "address": member, "publicKey": "0x" + key.hex(), "endpoint": services.endpoint(member)}
        for index, (member, key) in enumerate(zip(found.members, found.encryption_keys, strict=True))
    ]
    payload = {
        "version": version,
        "threshold": found.threshold,
        "members": len(members),
        "activatesAt": found.activates_at,
        "status": status,
        "current": current or None,
        "services": members,
    }

    def human() -> None:
        click.echo(
            f"service set {version}: {found.threshold} of {len(members)}, {status} "
            f"(active from {format_time(found.activates_at)})"
        )
        for member in members:
            click.echo(
                f"  {member['index']:>2}  {member['address']}  {member['publicKey']}  "
                f"{member['endpoint'] or 'no endpoint published'}"
            )

    app.output(payload, human)
