"""`medledger emergency break-glass|close|preferences|release|serve`."""

from __future__ import annotations

import time

import click

from medledger.cli.context import AppContext, connection_options, guarded, pass_app
from medledger.cli.units import categories_option, format_time

REASONS = ["unconscious", "life-threatening", "unable-to-consent", "other"]


@click.group("emergency")
def command() -> None:
    """Break-glass emergency access and the emergency key service."""


@command.command("break-glass")
@click.argument("patient")
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
        "and auditors. The emergency key service will release the keys.",
    )


@command.command("close")
@click.argument("patient")
@click.argument("provider", required=False)
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


@command.command("release")
@click.argument("patient")
@click.argument("provider")
@connection_options
@pass_app
@guarded
def release(app: AppContext, patient: str, provider: str) -> None:
    """Key service: release PATIENT's emergency keyrings to PROVIDER (only while its access is open)."""
    from medledger.flows.emergency import release_emergency_keys

    result = release_emergency_keys(app.session(), patient, provider)
    app.output(
        {"patient": patient, "provider": provider, "categories": result.categories, "txHash": result.receipt.tx_hash},
        f"released emergency keys of {patient} to {provider}",
    )


@command.command("serve")
@click.option("--once", is_flag=True, help="Handle what is pending now, then exit.")
@click.option("--interval", type=click.FloatRange(0.5, 3600), default=5.0, show_default=True)
@click.option("--max-rounds", type=click.IntRange(1), default=None, help="Stop after this many polls.")
@connection_options
@pass_app
@guarded
def serve(app: AppContext, once: bool, interval: float, max_rounds: int | None) -> None:
    """Key service: watch for break-glass openings and release keys to each provider."""
    from medledger.chain.errors import ContractRevertError
    from medledger.flows.emergency import pending_releases, release_emergency_keys
    from medledger.flows.errors import FlowError

    session = app.session()
    rounds = 0
    handled = []
    while True:
        for patient, provider in pending_releases(session):
            try:
                result = release_emergency_keys(session, patient, provider)
                handled.append({"patient": patient, "provider": provider, "txHash": result.receipt.tx_hash})
                if not app.settings.json:
                    click.echo(f"released {patient} -> {provider}")
            except (FlowError, ContractRevertError) as exc:  # one patient's problem must not stop the service
                click.echo(f"skipped {patient} -> {provider}: {exc}", err=True)
        rounds += 1
        if once or (max_rounds and rounds >= max_rounds):
            break
        time.sleep(interval)
    if app.settings.json:
        app.output(handled, "")
