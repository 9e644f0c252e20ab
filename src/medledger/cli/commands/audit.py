"""`medledger audit PATIENT`: the history from the indexer, or an accounting of disclosures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

import click

from medledger.cli.context import AppContext, connection_options, guarded, pass_app
from medledger.cli.units import parse_moment
from medledger.cli.usage import address_value

if TYPE_CHECKING:
    from medledger.flows.audit import AuditEntry
    from medledger.indexer.queries import Disclosure, HistoryEntry


@click.command("audit")
@click.argument("patient", callback=address_value("patient"))
@click.option(
    "--disclosures",
    is_flag=True,
    help="An accounting of disclosures (who received which records, when, why) instead of the history.",
)
@click.option(
    "--since",
    default=None,
    help="Start of the period: a UTC date (2026-01-01) or a duration back (90d, 2w, 6m months, 1y).",
)
@click.option(
    "--until",
    "until_text",
    default=None,
    help="End of the period: a UTC date (2026-03-01) or a duration from now (30d) [default: now].",
)
@click.option(
    "--db",
    default=None,
    envvar="MEDLEDGER_INDEX_DB",
    help="Index database (SQLite file or postgresql:// URL) [default: <home>/index/...].",
)
@click.option("--no-index", is_flag=True, help="Scan the chain's events directly instead of the indexer.")
@click.option(
    "--services",
    is_flag=True,
    help="Include the key-release service sets (proposed, cancelled, endpoints) in the history.",
)
@connection_options
@pass_app
@guarded
def command(
    app: AppContext,
    patient: str,
    disclosures: bool,
    since: str | None,
    until_text: str | None,
    db: str | None,
    no_index: bool,
    services: bool,
) -> None:
    """PATIENT's grants, revocations, records, reads, guardians and break-glass, in chain order."""
    from medledger.cli.audit_table import disclosures_table, history_table, terminal_width
    from medledger.cli.commands.index import open_indexer
    from medledger.ledger.base import checked_address

    patient = checked_address(patient, "patient")
    if services and disclosures:
        raise click.UsageError("--services adds to the history; it does not apply to --disclosures")
    rows: Sequence[Disclosure | HistoryEntry | AuditEntry]
    if disclosures or not no_index:
        indexer = open_indexer(app, db)
        try:
            indexer.sync()
            if disclosures:
                now = app.chain().now()
                start = _moment(since, now, back=True) if since else None
                end = _moment(until_text, now, back=False) if until_text else None
                rows = indexer.disclosures(patient, since=start, until=end)
            else:
                rows = indexer.history(patient)
                if services:
                    rows = _in_chain_order([*rows, *indexer.service_history()])
        finally:
            indexer.close()
    else:
        from medledger.flows.audit import patient_history, service_history

        ledger = app.ledger(signed=False)
        start = app.deployment().contracts["MedLedger"].block
        rows = patient_history(ledger, patient, from_block=start)
        if services:
            rows = _in_chain_order([*rows, *service_history(ledger, from_block=start)])
    payload = [asdict(row) for row in rows]

    def human() -> None:
        width = terminal_width()
        if disclosures:
            click.echo(disclosures_table(patient, payload, width))
        else:
            click.echo(history_table(patient, payload, width))

    app.output(payload, human)


def _in_chain_order(rows: list[HistoryEntry | AuditEntry]) -> list[HistoryEntry | AuditEntry]:
    return sorted(rows, key=lambda row: (row.block, row.log_index))


def _moment(text: str, now: int, *, back: bool) -> int:
    """A date, or (for --since) a duration before now, in calendar terms (--since 1m: a month ago)."""
    return parse_moment(text, now, back=back)
