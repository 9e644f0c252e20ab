"""`medledger emergency break-glass|close|preferences`. A provider whose break-glass is open
reads with `medledger record fetch ... --purpose emergency`, through the key-release services."""

from __future__ import annotations

import click

from medledger.cli.context import AppContext, connection_options, guarded, pass_app
from medledger.cli.units import categories_option, format_time
from medledger.cli.usage import address_value

REASONS = ["unconscious", "life-threatening", "unable-to-consent", "other"]


@click.group("emergency")
def command() -> None:
    """Break-glass emergency access (reads go through the key-release services, purpose emergency)."""


@command.command("break-glass")
@click.argument("patient", callback=address_value("patient"))
@click.option("--reason", type=click.Choice(REASONS), required=True, help="A code, never free text.")
@connection_options
@pass_app
@guarded
def break_glass(app: AppContext, patient: str, reason: str) -> None:
    """Open emergency read access to PATIENT's emergency categories (logged for review)."""
    from medledger.ledger.emergency import EmergencyReason

    ledger = app.ledger()
    receipt = ledger.emergency.break_glass(patient, EmergencyReason[reason.upper().replace("-", "_")])
    until = ledger.emergency.access_until(patient, app.signer().address)
    app.output(
        {
            "patient": patient,
            "provider": app.signer().address,
            "reason": reason,
            "until": until,
            "txHash": receipt.tx_hash,
        },
        f"emergency access to {patient} open until {format_time(until)}; this is logged for the patient "
        "and auditors. Read with `medledger record fetch RECORD --patient PATIENT --purpose emergency`: "
        "the key-release services release keys only while the window is open.",
    )


@command.command("close")
@click.argument("patient", callback=address_value("patient"))
@click.argument("provider", required=False, callback=address_value("provider"))
@connection_options
@pass_app
@guarded
def close(app: AppContext, patient: str, provider: str | None) -> None:
    """End an open emergency access early (PROVIDER defaults to you)."""
    ledger = app.ledger()
    provider = provider or app.signer().address
    receipt = ledger.emergency.close(patient, provider)
    app.output({"patient": patient, "provider": provider, "txHash": receipt.tx_hash}, "emergency access closed")


@command.command("preferences")
@click.option("--opt-out/--opt-in", default=False, help="Refuse break-glass entirely, or allow it.")
@click.option("--categories", default=None, help="Which categories break-glass may open [default: deployment's].")
@connection_options
@pass_app
@guarded
def preferences(app: AppContext, opt_out: bool, categories: str | None) -> None:
    """Set your break-glass preferences."""
    ledger = app.ledger()
    mask = categories_option(categories) if categories else 0
    receipt = ledger.emergency.set_preferences(opt_out=opt_out, categories=mask)
    app.output(
        {"optedOut": opt_out, "categories": mask, "txHash": receipt.tx_hash},
        "opted out of break-glass" if opt_out else "break-glass allowed",
    )
