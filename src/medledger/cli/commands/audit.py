"""`medledger audit PATIENT`: the consent and record history from events."""

from __future__ import annotations

from dataclasses import asdict

import click

from medledger.cli.context import AppContext, connection_options, guarded, pass_app
from medledger.cli.units import format_time


@click.command("audit")
@click.argument("patient")
@connection_options
@pass_app
@guarded
def command(app: AppContext, patient: str) -> None:
    """Every grant, revocation, keyring rotation, record and erasure of PATIENT, in chain order."""
    from rich.console import Console
    from rich.table import Table

    from medledger.flows.audit import patient_history
    from medledger.ledger.base import checked_address

    ledger = app.ledger(signed=False)
    entries = patient_history(ledger, checked_address(patient, "patient"),
                              from_block=app.deployment().contracts["MedLedger"].block)

    def human() -> None:
        table = Table(title=f"history of {patient}")
        for column in ("time", "block", "event", "actor", "details"):
            table.add_column(column)
        for entry in entries:
            details = ", ".join(f"{k}={v}" for k, v in entry.details.items() if v not in (None, []))
            table.add_row(format_time(entry.timestamp), str(entry.block), entry.event, entry.actor, details)
        Console(width=200).print(table)

    app.output([asdict(entry) for entry in entries], human)
