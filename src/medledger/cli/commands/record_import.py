"""`medledger record import`: many records at once, in batches (see medledger.flows.ingest)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from medledger.cli.context import AppContext, connection_options, guarded, pass_app
from medledger.cli.usage import address_value

if TYPE_CHECKING:
    from medledger.flows.ingest import BatchResult


@click.command("import")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--patient", default=None, callback=address_value("patient"), help="The patient the records belong to (an address)."
)
@click.option("--category", default=None, help="Record category of every record, e.g. labs.")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 200),
    default=50,
    show_default=True,
    help="Records per batch: per journal entry and per registration transaction.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 32),
    default=4,
    show_default=True,
    help="Threads encrypting and uploading at once.",
)
@click.option(
    "--in-flight",
    type=click.IntRange(1, 16),
    default=4,
    show_default=True,
    help="Registration transactions pending at once (each batch's own, with the next nonce).",
)
@click.option(
    "--no-validate",
    is_flag=True,
    help="Do not validate each NDJSON line as a FHIR R4 resource (JSON is still checked).",
)
@click.option("--resume", "resume_id", default=None, help="Finish the unfinished batch with this id instead.")
@click.option("--rollback", is_flag=True, help="With --resume: undo the batch instead (only before registration).")
@click.option("--pending", is_flag=True, help="List this account's unfinished batches instead.")
@connection_options
@pass_app
@guarded
def command(
    app: AppContext,
    path: Path | None,
    patient: str | None,
    category: str | None,
    batch_size: int,
    workers: int,
    in_flight: int,
    no_validate: bool,
    resume_id: str | None,
    rollback: bool,
    pending: bool,
) -> None:
    """Publish every file of a directory, or every FHIR resource of an NDJSON file (one per
    line), as records of PATIENT: encrypted in parallel, stored concurrently, registered in one
    transaction per batch, each batch journaled so a crash resumes (`--resume BATCH`) or rolls
    back (`--resume BATCH --rollback`)."""
    from medledger.flows import ingest

    if pending:
        rows = [
            {"batch": e.id, "state": e.state, "records": len(e.sources), "patient": e.patient}
            for e in ingest.pending_batches(app.session())
        ]
        app.output(rows, "\n".join(f"{r['batch']}  {r['state']:10} {r['records']} records" for r in rows) or "none")
        return
    if resume_id is not None:
        if path is not None or patient or category:
            raise click.UsageError("--resume takes a batch id only: no PATH, --patient or --category")
        entry = ingest.resume_batch(app.session(), resume_id, rollback=rollback, workers=workers)
        app.output({"batch": entry.id, "state": entry.state, "cids": entry.cids}, f"batch {entry.id}: {entry.state}")
        return
    if rollback:
        raise click.UsageError("--rollback goes with --resume BATCH")
    if path is None or patient is None or category is None:
        raise click.UsageError("give PATH, --patient and --category (or --resume BATCH, or --pending)")
    from medledger.cli.commands.record import _category

    bits = _category(category)
    try:  # read and check every source before connecting to anything
        sources = ingest.sources_from(path, validate=not no_validate)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    session = app.session()
    started = time.monotonic()
    with _progress(app, len(sources)) as advance:
        results = ingest.import_records(
            session,
            patient,
            bits,
            sources,
            batch_size=batch_size,
            workers=workers,
            in_flight=in_flight,
            progress=advance,
        )
    elapsed = time.monotonic() - started
    _report(app, results, elapsed)


def _report(app: AppContext, results: list[BatchResult], elapsed: float) -> None:
    count = sum(len(result.cids) for result in results)
    payload = {
        "records": count,
        "seconds": round(elapsed, 3),
        "batches": [
            {"batch": r.id, "txHash": r.tx_hash, "serviceSet": r.service_set, "cids": list(r.cids)} for r in results
        ],
    }
    sets = {r.service_set for r in results}
    note = (
        "\nnote: no key-release service set is current, so nobody but the patient and the author can read "
        "these records until the patient re-encrypts them"
        if None in sets
        else f"\nkeys split over key-release service set {', '.join(str(s) for s in sorted(sets))}"  # type: ignore[type-var]
    )
    rate = count / elapsed if elapsed > 0 else float("inf")
    app.output(
        payload,
        f"imported {count} records in {len(results)} batches, {elapsed:.1f} s ({rate:.0f} records/s){note}",
    )


@contextmanager
def _progress(app: AppContext, total: int) -> Iterator[Callable[[int], None]]:
    """A bar with the count, the rate and the time left, on a terminal and not with --json."""
    if app.settings.json or not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    columns: list[Any] = [
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    ]
    started = time.monotonic()
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("importing", total=total, rate="")
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            per_second = done / max(time.monotonic() - started, 1e-6)
            bar.update(task, advance=n, rate=f"{per_second:.0f} records/s")

        yield advance


@click.command("fetch-all")
@click.option(
    "--patient",
    required=True,
    callback=address_value("patient"),
    help="The patient whose records to read (an address).",
)
@click.option(
    "--out-dir",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the decrypted records, one file per record named by its CID (created if missing).",
)
@click.option("--category", default=None, help="Only records of this category, e.g. labs [default: every one].")
@click.option(
    "--purpose",
    default="treatment",
    show_default=True,
    help="Why you are reading them (treatment, payment, ...); logged on chain for each record.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 32),
    default=8,
    show_default=True,
    help="Threads downloading, and as many releasing, at once.",
)
@click.option(
    "--in-flight",
    type=click.IntRange(1, 8),
    default=2,
    show_default=True,
    help="logAccess transactions (100 accesses each) pending at once.",
)
@click.option("--db", default=None, envvar="MEDLEDGER_INDEX_DB", help="Index database [default: <home>/index/...].")
@connection_options
@pass_app
@guarded
def fetch_all(
    app: AppContext,
    patient: str,
    out_dir: Path,
    category: str | None,
    purpose: str,
    workers: int,
    in_flight: int,
    db: str | None,
) -> None:
    """Read every current record of PATIENT (or of one category) you may read, with the
    accesses logged on chain 100 per transaction; each key is still released per record.

    Nothing is read or logged if any selected record is one you may not read: narrow the
    selection with --category."""
    from medledger.cli.commands.index import synced_index
    from medledger.cli.commands.record import _category, _purpose
    from medledger.flows.batch_read import read_records
    from medledger.ledger.base import checked_address

    patient = checked_address(patient, "patient")
    wanted = _category(category) if category else None
    reason = _purpose(purpose)
    session = app.session()
    with synced_index(app, db) as index:
        digests = [bytes.fromhex(entry.digest[2:]) for entry in index.records_added(patient)]
    pointers = session.ledger.records.get_many(patient, digests)
    selected = [
        p.digest
        for p in pointers
        if p.exists and not p.erased and not p.superseded and (wanted is None or p.category == wanted)
    ]
    if not selected:
        app.output({"records": 0, "files": []}, "no current records to read")
        return
    with _progress(app, len(selected)) as advance:
        reads = read_records(
            session, patient, selected, out_dir, purpose=reason, workers=workers, in_flight=in_flight, progress=advance
        )
    app.output(
        {
            "records": len(reads),
            "files": [{"cid": r.cid, "path": str(r.path), "bytes": r.size, "accessTx": r.access_tx} for r in reads],
        },
        f"read {len(reads)} records into {out_dir} ({len({r.access_tx for r in reads})} logAccess transactions)",
    )
