"""`medledger storage stores|audit|repair`: the replicated stores, and an availability audit and
repair of every registered record, for people and for cron.

Exit codes of audit and repair (beside 1 failed, 2 bad input):
  0  every live record is pinned whole on r stores, and no erased record's blocks are served
  5  some record is under-replicated, missing, corrupt on a store, or erased but still served
  4  a store did not answer, so some record could not be confirmed (checked before 5)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import click

from medledger.cli.context import EXIT_OK, EXIT_UNREACHABLE, AppContext, connection_options, guarded, pass_app

if TYPE_CHECKING:
    from medledger.flows.durability import RecordAudit, StorageReport
    from medledger.storage.replicated import ReplicatedStore

EXIT_DEGRADED = 5  # some record is not as durable as configured (see the module docstring)
DB_HELP = "Index database (SQLite file or postgresql:// URL) [default: <home>/index/<chainId>-<contract>.sqlite]."


@click.group("storage")
def command() -> None:
    """Replicated storage: list the stores, audit every record's copies, repair missing ones.

    Configure stores, the replication factor r and gateways in the config file's [storage]
    table (see the README). Exit codes of audit and repair: 0 all healthy, 5 some record
    under-replicated, missing, corrupt or erased but still served, 4 a store did not answer.
    """


@command.command("stores")
@connection_options
@pass_app
@guarded
def stores(app: AppContext) -> None:
    """The configured stores (credentials shown only as their kind), r, and whether each answers."""
    store = _replicated(app, None)
    config = app.storage_config()
    described = config.describe() if config is not None else None
    inventories = store.inventories()
    rows = []
    for index, member in enumerate(store.members):
        spec = described["stores"][index] if described is not None else {"name": member.name, "credentials": []}
        error = inventories[member.name].error
        rows.append({**spec, "location": member.location, "reachable": error is None, "error": error})
    payload: dict[str, Any] = {
        "replication": store.replication,
        "stores": rows,
        "gateways": described["gateways"] if described is not None else [],
    }

    def human() -> None:
        click.echo(f"replication factor r = {store.replication} of {len(rows)} store(s)")
        for row in rows:
            state = "reachable" if row["reachable"] else f"UNREACHABLE ({row['error']})"
            credentials = f" [{', '.join(row['credentials'])}]" if row["credentials"] else ""
            click.echo(f"  {row['name']}: {row['location']}{credentials}: {state}")
        for gateway in payload["gateways"]:
            click.echo(f"  gateway {gateway['url']}")

    app.output(payload, human)
    sys.exit(EXIT_OK if all(row["reachable"] for row in rows) else EXIT_UNREACHABLE)


def _run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--db", default=None, envvar="MEDLEDGER_INDEX_DB", help=DB_HELP),
            click.option(
                "--restart",
                is_flag=True,
                help="Start over instead of continuing an interrupted run.",
            ),
            click.option(
                "--replication",
                type=click.IntRange(1, 64),
                envvar="MEDLEDGER_REPLICATION",
                default=None,
                help="Copies each record needs [default: storage.replication from the config file].",
            ),
            click.option(
                "--workers",
                type=click.IntRange(1, 64),
                default=8,
                show_default=True,
                help="Records checked at a time (the stores answer in parallel).",
            ),
        ]
    ):
        command = option(command)
    return command


@command.command("audit")
@_run_options
@connection_options
@pass_app
@guarded
def audit(app: AppContext, db: str | None, restart: bool, replication: int | None, workers: int) -> None:
    """Check every registered record: pinned whole (every block verified) on r stores? erased
    records no longer served? Continues an interrupted audit. Exit 0 healthy, 5 degraded, 4 a
    store did not answer."""
    _run(app, db, restart, replication, workers, repair=False)


@command.command("repair")
@_run_options
@connection_options
@pass_app
@guarded
def repair(app: AppContext, db: str | None, restart: bool, replication: int | None, workers: int) -> None:
    """Audit, and copy each under-replicated record from a store holding it whole to the next
    stores lacking it (blocks verified, then pinned). Exit 0 all healthy afterwards, 5 some
    record still degraded, 4 a store did not answer."""
    _run(app, db, restart, replication, workers, repair=True)


def _run(
    app: AppContext, db: str | None, restart: bool, replication: int | None, workers: int, *, repair: bool
) -> None:
    from medledger.cli.commands.index import open_indexer
    from medledger.flows.durability import run_storage_audit

    store = _replicated(app, replication)
    indexer = open_indexer(app, db)
    try:
        indexer.sync()
        total = indexer.record_count()
        verb = "repairing" if repair else "auditing"
        with _record_progress(app, f"{verb} {total} records", total) as advance:
            report = run_storage_audit(
                indexer, store, repair=repair, restart=restart, on_record=advance, workers=workers
            )
    finally:
        indexer.close()
        store.close()
    code = exit_code_of(report)
    app.output({**_payload(report), "exit_code": code}, lambda: _human(report))
    sys.exit(code)


def exit_code_of(report: StorageReport) -> int:
    if report.unverified:
        return EXIT_UNREACHABLE
    return EXIT_OK if report.clean else EXIT_DEGRADED


def _replicated(app: AppContext, replication: int | None) -> ReplicatedStore:
    from medledger.flows.records import replicated_view
    from medledger.storage.replicated import ReplicatedStore

    store = replicated_view(app.store())
    if store is None:  # pragma: no cover - app.store() only builds the kinds replicated_view knows
        raise click.UsageError("the configured store cannot be audited")
    if replication is not None:
        if replication > len(store.members):
            raise click.UsageError(
                f"--replication {replication} needs at least {replication} stores; {len(store.members)} configured"
            )
        store = ReplicatedStore(store.members, replication, store.gateways)
    return store


def _payload(report: StorageReport) -> dict[str, Any]:
    payload = asdict(report)
    payload["problems"] = [asdict(row) for row in report.problems]
    return payload


def _human(report: StorageReport) -> None:
    from rich.console import Console
    from rich.table import Table

    what = "repair" if report.run == "repair" else "audit"
    if report.problems:
        table = Table(title=f"records needing attention (r = {report.replication})")
        for column in ("patient", "record", "status", "copies", *report.stores):
            table.add_column(column)
        for row in report.problems:
            states = {item["store"]: item["state"] for item in row.stores}
            table.add_row(
                row.patient,
                row.cid,
                row.status,
                f"{row.copies}/{row.required}",
                *(states.get(name, "-") for name in report.stores),
            )
        Console(width=220, stderr=False).print(table)
    for name, error in report.unreachable.items():
        click.echo(f"store {name} did not answer: {error}")
    counts = ", ".join(f"{count} {status}" for status, count in sorted(report.statuses.items())) or "no records"
    resumed = " (resumed from its checkpoint)" if report.resumed else ""
    repaired = f"; {report.repaired} copies made" if report.run == "repair" else ""
    click.echo(f"storage {what}{resumed}: {report.total} records over {len(report.stores)} stores: {counts}{repaired}")


@contextmanager
def _record_progress(app: AppContext, description: str, total: int) -> Iterator[Callable[[RecordAudit], None]]:
    """A records bar on a terminal (never with --json), shown once a second has passed."""
    if app.settings.json or not sys.stderr.isatty():
        yield lambda record: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    started = time.monotonic()
    done = 0
    bar: Progress | None = None
    task = None

    def advance(record: RecordAudit) -> None:
        nonlocal done, bar, task
        done += 1
        if bar is None:
            if time.monotonic() - started < 1.0:
                return
            bar = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                transient=True,
                console=Console(stderr=True),
            )
            bar.start()
            task = bar.add_task(description, total=total, completed=done - 1)
        assert task is not None
        bar.advance(task, 1)

    try:
        yield advance
    finally:
        if bar is not None:
            bar.stop()
