"""`medledger keys publish|show`."""

from __future__ import annotations

from typing import Any

import click

from medledger.cli.context import AppContext, connection_options, guarded, pass_app
from medledger.cli.units import categories_option
from medledger.scopes import categories_in


@click.group("keys")
def command() -> None:
    """Publish and look up encryption keys."""


@command.command("publish")
@click.option(
    "--categories", default=None, help="Patients: also create keyrings for these categories (e.g. labs,imaging)."
)
@connection_options
@pass_app
@guarded
def publish(app: AppContext, categories: str | None) -> None:
    """Publish this account's X25519 key (derived from its Ethereum key) in one transaction."""
    from medledger.flows.consent import setup_account
    from medledger.scopes import Category

    wanted = []
    if categories:
        mask = categories_option(categories)
        wanted = [Category(bit) for bit in range(64) if mask >> bit & 1]
    session = app.session()
    result = setup_account(session, wanted)
    payload: dict[str, Any] = {
        "address": session.address,
        "publicKey": "0x" + session.keypair.public.hex(),
        "published": result.published_key,
        "keyringsCreated": categories_in(sum(1 << c for c in result.created_keyrings)),
        "txHash": result.receipt.tx_hash if result.receipt else None,
    }
    human = (
        f"encryption key of {session.address}: 0x{session.keypair.public.hex()}"
        + ("" if result.published_key else " (already published)")
        + (f"\nkeyrings created: {', '.join(payload['keyringsCreated'])}" if result.created_keyrings else "")
    )
    app.output(payload, human)


@command.command("show")
@click.argument("address")
@connection_options
@pass_app
@guarded
def show(app: AppContext, address: str) -> None:
    """Show ADDRESS's published encryption key and keyring epochs."""
    from medledger.scopes import Category

    ledger = app.ledger(signed=False)
    key = ledger.keys.encryption_key_of(address)
    keyrings = {}
    for category in Category:
        found = ledger.keys.keyring_of(address, category)
        if found:
            keyrings[category.name.lower()] = {"publicKey": "0x" + found[0].hex(), "epoch": found[1]}
    payload = {"address": address, "publicKey": ("0x" + key.hex()) if key else None, "keyrings": keyrings}
    lines = [f"{address}: " + (f"0x{key.hex()}" if key else "no encryption key published")]
    lines += [f"  keyring {name}: epoch {entry['epoch']}" for name, entry in keyrings.items()]
    app.output(payload, "\n".join(lines))


@command.command("rotate")
@click.option("--categories", required=True, help="Keyrings to rotate, e.g. labs,imaging.")
@connection_options
@pass_app
@guarded
def rotate(app: AppContext, categories: str) -> None:
    """Start a new epoch of your keyrings, shared only with current readers (e.g. after a
    revocation relayed from a signature, which cannot rotate by itself)."""
    from medledger.flows.keyrings import rotation_call

    mask = categories_option(categories)
    session = app.session()
    calls = [rotation_call(session, bit)[0] for bit in range(64) if mask >> bit & 1]
    receipt = session.ledger.multicall(calls)
    app.output(
        {"categories": categories_in(mask), "txHash": receipt.tx_hash},
        f"rotated keyrings: {', '.join(categories_in(mask))}",
    )
