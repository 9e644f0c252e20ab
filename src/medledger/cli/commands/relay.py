"""`medledger relay FILE`: submit a patient's signed message and pay its gas."""

from __future__ import annotations

from pathlib import Path

import click

from medledger.cli.context import AppContext, connection_options, guarded, pass_app


@click.command("relay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@connection_options
@pass_app
@guarded
def command(app: AppContext, file: Path) -> None:
    """Relay a signed Grant / Revoke / guardian message written by `medledger consent sign`."""
    from medledger.ledger.signatures import SignedMessage

    signed = SignedMessage.from_json(file.read_text())
    receipt = app.ledger().signed.relay(signed)
    app.output(
        {
            "kind": signed.kind,
            "patient": signed.message["patient"],
            "txHash": receipt.tx_hash,
            "gasUsed": receipt.gas_used,
        },
        f"relayed {signed.kind} of {signed.message['patient']}; tx {receipt.tx_hash}",
    )
