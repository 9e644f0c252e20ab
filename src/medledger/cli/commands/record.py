"""`medledger record publish|fetch|list|amend|reencrypt|erase|resume` (file in, file out)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from medledger.cli.commands.index import index_options, synced_index
from medledger.cli.context import AppContext, connection_options, guarded, pass_app
from medledger.cli.outfile import out_file_options
from medledger.cli.units import format_time
from medledger.cli.usage import address_value, record_value
from medledger.scopes import Purpose, ScopeError, categories_in

if TYPE_CHECKING:
    from medledger.flows.records import PublishResult


@click.group("record")
def command() -> None:
    """Publish, fetch, amend and erase encrypted records."""


def _category(name: str) -> int:
    from medledger.scopes import category

    try:
        return int(category(name))
    except ScopeError as exc:
        raise click.BadParameter(str(exc), param_hint="--category") from None


def _purpose(name: str) -> Purpose:
    from medledger.scopes import purpose

    try:
        return purpose(name)
    except ScopeError as exc:
        raise click.BadParameter(str(exc), param_hint="--purpose") from None


def _digest(reference: str) -> bytes:
    """A record reference: its CID (bafy…/bafk…) or its 0x sha2-256 digest."""
    from medledger.storage import Cid, InvalidCidError

    text = reference.strip()
    if text.startswith("0x") and len(text) == 66:
        try:
            return bytes.fromhex(text[2:])
        except ValueError:
            pass
        raise click.BadParameter(f"{reference} is not a 32-byte hex digest", param_hint="RECORD")
    try:
        return Cid.parse(text).digest
    except InvalidCidError as exc:
        raise click.BadParameter(f"{reference} is neither a CID nor a 0x digest: {exc}", param_hint="RECORD") from None


def _nonempty(file: Path) -> Path:
    """Refuse an empty source before connecting to anything."""
    if file.stat().st_size == 0:
        raise click.BadParameter(f"{file} is empty (0 bytes): there is nothing to publish", param_hint="FILE")
    return file


def _published(app: AppContext, result: PublishResult) -> None:
    payload = {
        "cid": result.cid,
        "digest": "0x" + result.digest.hex(),
        "codec": result.codec,
        "txHash": result.tx_hash,
        "journal": result.journal_id,
        "serviceSet": result.service_set,
        "stores": list(result.stores),
    }
    note = (
        f"\nkey sealed to the patient and the author, and split over key-release service set {result.service_set}"
        if result.service_set is not None
        else "\nnote: no key-release service set is current, so nobody but the patient and the author can read "
        "this record until the patient re-encrypts it under a service set (`medledger record reencrypt`)"
    )
    if result.stores:
        note += f"\npinned on {len(result.stores)} stores: {', '.join(result.stores)}"
    app.output(payload, f"published {result.cid}\ndigest 0x{result.digest.hex()}\ntx {result.tx_hash}{note}")


@command.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--patient", required=True, callback=address_value("patient"), help="The patient the record belongs to.")
@click.option("--category", required=True, help="Record category, e.g. labs.")
@connection_options
@pass_app
@guarded
def publish(app: AppContext, file: Path, patient: str, category: str) -> None:
    """Encrypt FILE for PATIENT, store and pin it, and register its pointer."""
    from medledger.cli.progress import file_progress
    from medledger.flows.records import publish as publish_flow

    bits = _category(category)
    _nonempty(file)
    session = app.session()
    with file_progress(app, "encrypting and uploading", file.stat().st_size) as advance:
        result = publish_flow(session, patient, bits, file, progress=advance)
    _published(app, result)


@command.command("amend")
@click.argument("record", callback=record_value)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--patient",
    required=True,
    callback=address_value("patient"),
    help="The patient the record belongs to (an address).",
)
@connection_options
@pass_app
@guarded
def amend(app: AppContext, record: str, file: Path, patient: str) -> None:
    """Publish FILE as a new version of RECORD (which is marked superseded, never overwritten)."""
    from medledger.flows.records import amend as amend_flow

    result = amend_flow(app.session(), patient, _digest(record), _nonempty(file))
    _published(app, result)


@command.command("fetch")
@click.argument("record", callback=record_value)
@click.option(
    "--patient",
    required=True,
    callback=address_value("patient"),
    help="The patient the record belongs to (an address).",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the decrypted record (written whole or not at all); see --force, --parents.",
)
@click.option(
    "--purpose",
    default="treatment",
    show_default=True,
    help="Why you are reading it (treatment, emergency under break-glass, payment, ...); logged on chain.",
)
@click.option(
    "--no-log",
    is_flag=True,
    help="Patient or author only: do not record this read on chain. Every other read is logged.",
)
@out_file_options(inputs=("keystore",))
@connection_options
@pass_app
@guarded
def fetch(app: AppContext, record: str, patient: str, out: Path, purpose: str, no_log: bool) -> None:
    """Fetch, verify and decrypt RECORD (a CID or 0x digest) of PATIENT to --out.

    The patient and the record's author open it with their own key. Anyone else reads through
    the key-release services, one progress line per step: the blob is fetched and verified, the
    access is logged on chain (logAccess, confirmed), k services each check the reader's access
    now and release a share, the record is decrypted. Exit 3 when the rules refuse, including a
    refusal by the key-release services (each service's answer is shown).
    """
    from medledger.flows.records import fetch as fetch_flow

    def step(line: str) -> None:
        if not app.settings.json:
            click.echo(line, err=True)

    result = fetch_flow(
        app.session(), patient, _digest(record), out, purpose=_purpose(purpose), log_access=not no_log, step=step
    )
    for incident in getattr(app.store(), "incidents", ()):  # replicated storage: stores skipped
        click.echo(f"warning: {incident.source} {incident.reason.split(':')[0]} for block {incident.cid}", err=True)
    app.output(
        {
            "cid": result.cid,
            "path": str(result.path),
            "bytes": result.size,
            "category": categories_in(1 << result.pointer.category)[0],
            "direct": result.direct,
            "accessTx": result.access_tx,
            "services": [
                {"address": a.address, "url": a.url, "outcome": a.outcome, "code": a.code} for a in result.attempts
            ],
        },
        f"wrote {result.size} bytes to {result.path}",
    )


@command.command("list")
@click.option("--patient", required=True, callback=address_value("patient"), help="Whose records (an address).")
@index_options
@connection_options
@pass_app
@guarded
def list_(app: AppContext, patient: str, db: str | None, no_index: bool) -> None:
    """List PATIENT's record pointers (no content: digests, categories, authors).

    Which records exist comes from the index (caught up first), their state from the contract
    in batched reads, so the cost does not grow with the chain's history."""
    from medledger.ledger.base import checked_address
    from medledger.storage import Cid

    ledger = app.ledger(signed=False)
    patient = checked_address(patient, "patient")
    added: list[tuple[bytes, bytes | None]]
    if no_index:
        events = ledger.events("RecordAdded", from_block=app.deployment().contracts["MedLedger"].block, patient=patient)
        links = {bytes(e.args.digest): bytes(e.args.supersedes) if any(e.args.supersedes) else None for e in events}
        added = list(links.items())
    else:
        with synced_index(app, db) as index:
            added = [
                (bytes.fromhex(e.digest[2:]), bytes.fromhex(e.supersedes[2:]) if e.supersedes else None)
                for e in index.records_added(patient)
            ]
    pointers = ledger.records.get_many(patient, [digest for digest, _ in added])
    rows: list[dict[str, Any]] = []
    for pointer, (_, supersedes) in zip(pointers, added, strict=True):
        rows.append(
            {
                "cid": str(Cid.from_digest(pointer.digest, pointer.codec)),
                "digest": "0x" + pointer.digest.hex(),
                "category": categories_in(1 << pointer.category)[0],
                "author": pointer.author,
                "created": pointer.created_at,
                "superseded": pointer.superseded,
                "erased": pointer.erased,
                "supersedes": "0x" + supersedes.hex() if supersedes else None,
            }
        )

    def human() -> None:
        if not rows:
            click.echo("no records")
        for row in rows:
            flags = ",".join(f for f in ("superseded", "erased") if row[f]) or "current"
            created = format_time(row["created"])
            click.echo(f"{row['cid']}  {row['category']:14} {flags:10} {created}  by {row['author']}")

    app.output(rows, human)


@command.command("erase")
@click.argument("record", callback=record_value)
@click.option("--yes", "-y", is_flag=True, help="Erase without asking (for scripts); the prompt names this flag.")
@connection_options
@pass_app
@guarded
def erase(app: AppContext, record: str, yes: bool) -> None:
    """Erase one of your records: unpin its blob (and the keys inside) and mark it erased."""
    import sys

    from medledger.flows.records import erase_record

    digest = _digest(record)
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("not confirmed: pass --yes to erase without a prompt")
        click.confirm(
            f"Erase record 0x{digest.hex()}? This cannot be undone (--yes skips this question)", abort=True, err=True
        )
    result = erase_record(app.session(), digest)
    pointer = result.pointer
    stores = [{"store": o.store, "state": o.state, "detail": o.detail} for o in result.stores]
    lines = [f"erased 0x{pointer.digest.hex()}"]
    lines += [f"  {o.store}: blocks {o.state}" + (f" ({o.detail})" if o.detail else "") for o in result.stores]
    app.output({"digest": "0x" + pointer.digest.hex(), "erased": pointer.erased, "stores": stores}, "\n".join(lines))


@command.command("reencrypt")
@click.argument("record", required=False)
@click.option("--all", "every", is_flag=True, help="Every live record of yours that needs it, one after the other.")
@connection_options
@pass_app
@guarded
def reencrypt(app: AppContext, record: str | None, every: bool) -> None:
    """Move one of your records (or --all) under the current key-release service set.

    For records written before threshold key release (keyring era, or while no service set was
    current) and records under a set that has since been replaced: a fresh key, sealed to you and
    split over the current set, published as an amendment; the old version is then erased.
    Refused (exit 3) for a record already under the current set. Crash-safe: `record resume`
    finishes an interrupted one, and `--all` erases an old version a crash left behind.
    """
    from medledger.flows.records import reencrypt as reencrypt_flow
    from medledger.flows.records import reencrypt_all

    if every == (record is not None):
        raise click.UsageError("name one RECORD, or pass --all")
    session = app.session()
    if every:

        def step(line: str) -> None:
            if not app.settings.json:
                click.echo(line, err=True)

        results = reencrypt_all(session, step=step)
        app.output(
            [{"cid": r.cid, "digest": "0x" + r.digest.hex(), "serviceSet": r.service_set} for r in results],
            f"re-encrypted {len(results)} record{'' if len(results) == 1 else 's'}"
            + (" (nothing needed it)" if not results else ""),
        )
        return
    old = _digest(record)  # type: ignore[arg-type]
    result = reencrypt_flow(session, old)
    app.output(
        {
            "old": "0x" + old.hex(),
            "cid": result.cid,
            "digest": "0x" + result.digest.hex(),
            "serviceSet": result.service_set,
            "txHash": result.tx_hash,
        },
        f"re-encrypted as {result.cid} under key-release service set {result.service_set}; the old version is erased",
    )


@command.command("resume")
@click.argument("journal_id", required=False)
@click.option(
    "--rollback",
    is_flag=True,
    help="Undo instead of finishing (refused once registered on chain: erase the record instead).",
)
@connection_options
@pass_app
@guarded
def resume(app: AppContext, journal_id: str | None, rollback: bool) -> None:
    """Finish (or roll back) publishes a crash interrupted; all pending ones without JOURNAL_ID.

    A registration transaction already sent is waited for, never sent twice.
    """
    from medledger.flows.journal import Journal
    from medledger.flows.records import resume as resume_flow

    session = app.session()
    ids = [journal_id] if journal_id else [entry.id for entry in Journal(session.home).pending()]
    results = [resume_flow(session, entry_id, rollback=rollback) for entry_id in ids]
    rows = [{"journal": e.id, "state": e.state, "cid": e.cid, "txHash": e.tx_hash} for e in results]
    app.output(rows, "\n".join(f"{r['journal']}: {r['state']} {r['cid'] or ''}" for r in rows) or "nothing to resume")
