"""`medledger keys publish|show`."""

from __future__ import annotations

import click

from medledger.cli.context import AppContext, connection_options, guarded, pass_app
from medledger.cli.usage import address_value


@click.group("keys")
def command() -> None:
    """Publish and look up encryption keys."""


@command.command("publish")
@connection_options
@pass_app
@guarded
def publish(app: AppContext) -> None:
    """Publish this account's X25519 key (derived from its Ethereum key) in one transaction.

    Patients and authors need one: every record's key is sealed to its patient and its author."""
    from medledger.flows.consent import setup_account

    session = app.session()
    result = setup_account(session)
    payload = {
        "address": session.address,
        "publicKey": "0x" + session.keypair.public.hex(),
        "published": result.published_key,
        "txHash": result.receipt.tx_hash if result.receipt else None,
    }
    human = f"encryption key of {session.address}: 0x{session.keypair.public.hex()}" + (
        "" if result.published_key else " (already published)"
    )
    app.output(payload, human)


@command.command("show")
@click.argument("address", callback=address_value("address"))
@connection_options
@pass_app
@guarded
def show(app: AppContext, address: str) -> None:
    """Show ADDRESS's published encryption key."""
    ledger = app.ledger(signed=False)
    key = ledger.keys.encryption_key_of(address)
    payload = {"address": address, "publicKey": ("0x" + key.hex()) if key else None}
    app.output(payload, f"{address}: " + (f"0x{key.hex()}" if key else "no encryption key published"))
