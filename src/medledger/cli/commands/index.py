"""`medledger index sync|status` and `medledger export fhir`: the event indexer and FHIR export."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from medledger.cli.context import AppContext, connection_options, guarded, pass_app
from medledger.cli.outfile import out_file_options, write_out
from medledger.cli.usage import address_value

if TYPE_CHECKING:
    from medledger.indexer import Indexer

DB_HELP = "SQLite file or postgresql:// URL [default: <home>/index/<chainId>-<contract>.sqlite]."


def open_indexer(app: AppContext, db: str | None, *, confirmations: int = 0, batch: int = 2000) -> Indexer:
    from medledger.indexer import Indexer

    deployment = app.deployment()
    if db is None:
        path = app.settings.home / "index" / f"{deployment.chain_id}-{deployment.ledger_address}.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        db = str(path)
    return Indexer.from_deployment(app.chain(), deployment, db, batch_size=batch, confirmations=confirmations)


@contextmanager
def synced_index(app: AppContext, db: str | None = None) -> Iterator[Indexer]:
    """The index, caught up from its last synced block (so a list costs what changed since the
    last command, not a scan of the chain's history)."""
    indexer = open_indexer(app, db)
    try:
        indexer.sync()
        yield indexer
    finally:
        indexer.close()


def index_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--db and --no-index, for commands that read the index."""
    command = click.option(
        "--no-index", is_flag=True, help="Scan the chain's event logs from the deployment block instead of the index."
    )(command)
    return click.option("--db", default=None, envvar="MEDLEDGER_INDEX_DB", help=DB_HELP)(command)


@click.group("index")
def command() -> None:
    """Sync every MedLedger event into SQLite or PostgreSQL, for audits and disclosure accounting."""


@command.command("sync")
@click.option("--db", default=None, envvar="MEDLEDGER_INDEX_DB", help=DB_HELP)
@click.option(
    "--lag",
    type=click.IntRange(0, 1000),
    default=0,
    show_default=True,
    help="Stay this many blocks behind the head (events this recent are not indexed yet).",
)
@click.option("--batch", type=click.IntRange(1, 100_000), default=2000, show_default=True, help="Blocks per range.")
@connection_options
@pass_app
@guarded
def sync(app: AppContext, db: str | None, lag: int, batch: int) -> None:
    """Catch up from the last synced block (rolling back a reorg if the chain changed)."""
    indexer = open_indexer(app, db, confirmations=lag, batch=batch)
    try:
        report = indexer.sync()
    finally:
        indexer.close()
    app.output(
        asdict(report),
        f"indexed blocks {report.from_block}..{report.to_block}: {report.events} events"
        + (f"; rolled back a reorg from block {report.rolled_back_from}" if report.rolled_back_from else ""),
    )


@click.group("export")
def export() -> None:
    """Export chain data in healthcare formats."""


@export.command("fhir")
@click.argument("patient", callback=address_value("patient"))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write the Bundle to (JSON), whole or not at all; see --force, --parents.",
)
@click.option("--db", default=None, envvar="MEDLEDGER_INDEX_DB", help=DB_HELP)
@out_file_options(inputs=("keystore",))
@connection_options
@pass_app
@guarded
def export_fhir(app: AppContext, patient: str, out: Path, db: str | None) -> None:
    """Write PATIENT's consents (FHIR Consent) and audit trail (FHIR AuditEvent) as a Bundle."""
    from medledger.fhir import patient_bundle, to_json
    from medledger.ledger.base import checked_address

    patient = checked_address(patient, "patient")
    indexer = open_indexer(app, db)
    try:
        indexer.sync()
        entries = indexer.history(patient)
    finally:
        indexer.close()
    deployment = app.deployment()
    bundle = patient_bundle(entries, chain_id=deployment.chain_id, patient=patient, contract=deployment.ledger_address)
    write_out(out, json.dumps(to_json(bundle), indent=1) + "\n")
    count = len(bundle.entry or [])
    app.output({"file": str(out), "resources": count}, f"wrote a FHIR Bundle of {count} resources to {out}")
