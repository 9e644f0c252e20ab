"""`medledger study register|show|list|enrol|withdraw|read|claim-reward|close|suspend|reinstate|
cancel-signatures` and `medledger deploy studies`: paid research studies beside the ledger.

Amounts are typed and shown in the token's units (`--reward 25.00` of a 6-decimal token is
25,000,000 of its smallest unit, shown as "25.00 USDC"); times as durations from now or ISO dates.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from medledger.cli.context import AppContext, connection_options, guarded, pass_app
from medledger.cli.outfile import out_file_options, write_out
from medledger.cli.units import DURATION_HELP, categories_option, format_time, parse_expiry

if TYPE_CHECKING:
    from medledger.ledger.studies import StudiesClient
    from medledger.ledger.tokens import TokenClient

DEVNET_TOKEN = ("Test USD Coin", "USDC", 6)
DEVNET_CHAIN_ID = 31337
STUDIES = "Studies"
TOKEN = "SettlementToken"


@click.group("study")
def command() -> None:
    """Paid research studies: register (researcher), enrol and withdraw (patient), rewards in an ERC-20."""


def _studies(app: AppContext, *, signed: bool = True) -> StudiesClient:
    from medledger.ledger.studies import StudiesClient

    return StudiesClient.from_deployment(
        app.chain(), app.deployment(), app.signer() if signed else None, policy=app.policy()
    )


def _token(app: AppContext, address: str, *, signed: bool = True) -> TokenClient:
    from medledger.ledger.tokens import TokenClient

    return TokenClient(app.chain(), address, signer=app.signer() if signed else None, policy=app.policy())


def _study_id(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise click.BadParameter(f"{value!r} is not a study number (1, 2, ...)", param_hint="STUDY")
    return number


def _digest(text: str, hint: str) -> bytes:
    from medledger.storage import Cid, InvalidCidError

    raw = text.strip().removeprefix("0x")
    if len(raw) == 64:
        try:
            return bytes.fromhex(raw)
        except ValueError:
            pass
    try:
        return Cid.parse(text.strip()).digest
    except InvalidCidError:
        raise click.BadParameter(
            f"{text!r} is neither a record digest (64 hex digits) nor a CID", param_hint=hint
        ) from None


# -- deploy ------------------------------------------------------------------------------------


@click.command("studies")
@click.option(
    "--test-token",
    is_flag=True,
    help=f"Devnets only: also deploy a {DEVNET_TOKEN[1]} SettlementToken for studies (6 decimals), minted by you.",
)
@click.option(
    "--fund",
    "funded",
    multiple=True,
    help="With --test-token: mint 10000.00 test tokens to this address (repeatable).",
)
@connection_options
@pass_app
@guarded
def deploy_studies(app: AppContext, test_token: bool, funded: tuple[str, ...]) -> None:
    """Deploy the Studies contract beside this network's MedLedger (resumable; recorded in the
    deployment record). Studies reads the ledger's providers, roles, consent and records."""
    from medledger.chain.deploy import deploy_module
    from medledger.ledger.base import checked_address

    chain = app.chain()
    if funded and not test_token:
        raise click.UsageError("--fund mints test tokens: it needs --test-token")
    if test_token and chain.chain_id != DEVNET_CHAIN_ID and not chain.is_embedded:
        raise click.UsageError(
            f"--test-token is for a local devnet (chain {DEVNET_CHAIN_ID}); on other chains studies use a real token"
        )
    recipients = [checked_address(address, "--fund address") for address in funded]
    ledger = app.deployment().ledger_address
    deployment = deploy_module(chain, app.signer(), app.deployments_dir(), STUDIES, [ledger], policy=app.policy())
    payload: dict[str, Any] = {"studies": deployment.module(STUDIES).address, "ledger": ledger}
    lines = [f"Studies {payload['studies']} deployed beside MedLedger {ledger}"]
    if test_token:
        deployment = deploy_module(
            chain, app.signer(), app.deployments_dir(), TOKEN, list(DEVNET_TOKEN), policy=app.policy()
        )
        token = _token(app, deployment.module(TOKEN).address)
        payload["token"] = token.address
        lines.append(f"test token {token.symbol} {token.address}")
        for recipient in recipients:
            amount = token.parse("10000")
            token.mint(recipient, amount)
            lines.append(f"minted {token.format(amount)} to {recipient}")
        payload["funded"] = recipients
    app.output(payload, "\n".join(lines))


# -- researchers -------------------------------------------------------------------------------


@command.command("register")
@click.option("--token", default=None, help="The ERC-20 paying rewards [default: the devnet's test token].")
@click.option("--reward", required=True, help="Reward per participant in the token's units, e.g. 25.00.")
@click.option(
    "--places",
    type=click.IntRange(1, 2**32 - 1),
    required=True,
    help="How many enrolment records (participants) the study takes, each escrowing one reward.",
)
@click.option("--categories", required=True, help="Record categories the study reads, e.g. labs,summary.")
@click.option("--enrol-until", required=True, help="When enrolment closes: " + DURATION_HELP + ".")
@click.option(
    "--until", "end", required=True, help="When the study ends (reads stop, refunds open): " + DURATION_HELP + "."
)
@click.option("--protocol", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Protocol file.")
@click.option(
    "--approval",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Ethics-board approval file.",
)
@click.option(
    "--encrypt",
    is_flag=True,
    help="Store the documents as your own encrypted records (you, and whom you grant, read them) instead of public.",
)
@connection_options
@pass_app
@guarded
def register(
    app: AppContext,
    token: str | None,
    reward: str,
    places: int,
    categories: str,
    enrol_until: str,
    end: str,
    protocol: Path,
    approval: Path,
    encrypt: bool,
) -> None:
    """As a researcher: store the protocol and approval (public by CID, or --encrypt), escrow
    places x reward of the token, and register the study."""
    from medledger.flows.studies import register_study
    from medledger.ledger.base import checked_address
    from medledger.scopes import Category

    category_bits = categories_option(categories)
    if category_bits >> Category.GENOMICS & 1:
        click.echo(
            "note: genomic data is identifying by nature; de-identification does not make a genome anonymous",
            err=True,
        )
    for path, hint in ((protocol, "--protocol"), (approval, "--approval")):
        if not path.is_file():
            raise click.BadParameter(f"{path} does not exist", param_hint=hint)
    if token is None:
        recorded = app.deployment().contracts.get(TOKEN)
        if recorded is None:
            raise click.UsageError("no --token given and no test token deployed here (`deploy studies --test-token`)")
        token = recorded.address
    client = _token(app, checked_address(token, "--token"))
    amount = client.parse(reward)
    if amount <= 0:
        raise click.BadParameter("the reward must be positive", param_hint="--reward")
    session = app.session()
    now = session.ledger.chain.now()
    enrolment_end = parse_expiry(enrol_until, now, "--enrol-until")
    study_end = parse_expiry(end, now, "--until")
    if enrolment_end <= now:
        raise click.BadParameter(f"{enrol_until} is in the past", param_hint="--enrol-until")
    if study_end <= enrolment_end:
        raise click.BadParameter("the study must end after enrolment closes", param_hint="--until")
    registered = register_study(
        session,
        _studies(app),
        client,
        protocol=protocol,
        approval=approval,
        categories=category_bits,
        reward=amount,
        places=places,
        enrolment_end=enrolment_end,
        end=study_end,
        encrypt=encrypt,
    )
    app.output(
        {
            "study": registered.study_id,
            "tx": registered.tx_hash,
            "deposit": client.format(registered.deposit),
            "protocol": registered.protocol.cid,
            "approval": registered.approval.cid,
        },
        f"study {registered.study_id} registered: {places} places x {client.format(amount)}, "
        f"{client.format(registered.deposit)} escrowed; enrolment until {format_time(enrolment_end)}, "
        f"ends {format_time(study_end)} (transaction {registered.tx_hash})\n"
        f"protocol {registered.protocol.cid}\napproval {registered.approval.cid}",
    )


@command.command("show")
@click.argument("study")
@click.option("--patient", default=None, help="Also show this participant's entry.")
@connection_options
@pass_app
@guarded
def show(app: AppContext, study: str, patient: str | None) -> None:
    """Show a study: terms, status, places, escrow, documents (and a participant's entry)."""
    from medledger.flows.studies import require_study, study_summary
    from medledger.ledger.base import checked_address

    studies = _studies(app, signed=False)
    found = require_study(studies, _study_id(study))
    token = _token(app, found.token, signed=False)
    payload = study_summary(studies, token, found)
    lines = [
        f"study {found.study_id} ({payload['status']}) by {found.researcher}",
        f"  reward      {payload['reward']} x {found.max_participants} places ({payload['deposit']} escrowed)",
        f"  enrolled    {found.enrolled}, rewards earned {found.earned}, paid {found.paid}",
        f"  categories  {', '.join(payload['categories'])}",
        f"  enrolment   until {format_time(found.enrolment_end)}",
        f"  ends        {format_time(found.end)}",
        f"  protocol    {payload['protocol']}",
        f"  approval    {payload['approval']}",
    ]
    if patient is not None:
        patient = checked_address(patient, "--patient")
        entry = studies.participant(found.study_id, patient)
        payload["participant"] = {
            "patient": patient,
            "status": entry.status.label,
            "records": entry.records,
            "rewardEarned": entry.accessed,
            "rewardPaid": entry.paid,
        }
        state = "earned and paid" if entry.paid else "earned, claimable" if entry.accessed else "not earned yet"
        lines.append(f"  participant {patient}: {entry.status.label}, {entry.records} records, reward {state}")
    app.output(payload, "\n".join(lines))


@command.command("list")
@connection_options
@pass_app
@guarded
def list_studies(app: AppContext) -> None:
    """List every study on this deployment."""
    from medledger.flows.studies import study_summary

    studies = _studies(app, signed=False)
    rows = []
    tokens: dict[str, TokenClient] = {}
    for study_id in range(1, studies.study_count() + 1):
        found = studies.study(study_id)
        if found is None:
            continue
        token = tokens.setdefault(found.token, _token(app, found.token, signed=False))
        rows.append(study_summary(studies, token, found))

    def human() -> None:
        if not rows:
            click.echo("no studies registered")
        for row in rows:
            click.echo(
                f"{row['study']:>4}  {row['status']:<10} {row['reward']:>14} x {row['places']:<5} "
                f"enrolled {row['enrolled']:<5} {','.join(row['categories'])}  by {row['researcher']}"
            )

    app.output(rows, human)


@command.command("read")
@click.argument("study")
@click.argument("patient")
@click.argument("record")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Where to write it.")
@out_file_options()
@connection_options
@pass_app
@guarded
def read(app: AppContext, study: str, patient: str, record: str, out: Path) -> None:
    """As the study's researcher: read PATIENT's de-identified study RECORD (digest or CID). The read
    is logged on the ledger and in the study (the participant's reward, on the first read) before
    the key-release services release its key."""
    from medledger.flows.studies import read_study_record
    from medledger.ledger.base import checked_address

    result = read_study_record(
        app.session(),
        _studies(app),
        _study_id(study),
        checked_address(patient, "PATIENT"),
        _digest(record, "RECORD"),
        out,
    )
    app.output(
        {"out": str(out), "size": result.fetched.size, "rewardEarned": result.first, "tx": result.study_tx},
        f"wrote {result.fetched.size} bytes to {out}"
        + ("; the participant's reward is now claimable" if result.first else ""),
    )


@command.command("close")
@click.argument("study")
@connection_options
@pass_app
@guarded
def close(app: AppContext, study: str) -> None:
    """After the end: refund the places never earned to the researcher (anyone may send it)."""
    from medledger.flows.studies import close_study, require_study

    studies = _studies(app)
    found = require_study(studies, _study_id(study))
    refund, receipt = close_study(app.session(), studies, found.study_id)
    token = _token(app, found.token, signed=False)
    app.output(
        {"study": found.study_id, "refund": token.format(refund), "tx": receipt.tx_hash},
        f"study {found.study_id} closed: {token.format(refund)} refunded to {found.researcher} "
        f"(transaction {receipt.tx_hash})",
    )


@command.command("unlogged-reads")
@click.option("--db", default=None, envvar="MEDLEDGER_INDEX_DB", help="The index database [default: in the home].")
@connection_options
@pass_app
@guarded
def unlogged_reads(app: AppContext, db: str | None) -> None:
    """For registrars and auditors: research reads of participants' study records that the
    researcher logged on the ledger (which key release needs) but not in the study (which pays the
    participant). Each is a read its participant was not paid for; exit 3 when there is any."""
    from medledger.cli.commands.index import synced_index
    from medledger.indexer.studies import unlogged_study_reads

    with synced_index(app, db) as index:
        found = unlogged_study_reads(index.store)
    rows = [
        {
            "study": r.study_id,
            "patient": r.patient,
            "digest": r.digest,
            "researcher": r.researcher,
            "block": r.block,
            "tx": r.tx_hash,
        }
        for r in found
    ]

    def human() -> None:
        if not rows:
            click.echo("every research read of a study record was logged in its study")
        for row in rows:
            click.echo(
                f"study {row['study']}: {row['researcher']} read {row['patient']}'s record {row['digest']} "
                f"without the study's log (block {row['block']}, {row['tx']})"
            )

    app.output(rows, human)
    if rows:
        raise SystemExit(3)


@command.command("suspend")
@click.argument("study")
@connection_options
@pass_app
@guarded
def suspend(app: AppContext, study: str) -> None:
    """As a registrar: suspend a study (no enrolment, no reads; earned rewards are still paid)."""
    receipt = _studies(app).suspend(_study_id(study))
    app.output({"study": int(study), "tx": receipt.tx_hash}, f"study {study} suspended ({receipt.tx_hash})")


@command.command("reinstate")
@click.argument("study")
@connection_options
@pass_app
@guarded
def reinstate(app: AppContext, study: str) -> None:
    """As a registrar: reinstate a suspended study."""
    receipt = _studies(app).reinstate(_study_id(study))
    app.output({"study": int(study), "tx": receipt.tx_hash}, f"study {study} reinstated ({receipt.tx_hash})")


# -- patients ----------------------------------------------------------------------------------


@command.command("enrol")
@click.argument("study")
@click.option(
    "--data",
    "data",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A FHIR JSON file to de-identify and publish for the study (repeatable).",
)
@click.option("--record", "records", multiple=True, help="An already published study record (digest or CID).")
@click.option("--category", default=None, help="Publish the copies under this category [default: by resource type].")
@click.option("--sign-only", is_flag=True, help="Do not send the enrolment: write a signed Enrol to --out.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="With --sign-only.")
@click.option(
    "--relay",
    "relay_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Send a patient's signed Enrol or Withdraw (you pay the gas).",
)
@out_file_options()
@connection_options
@pass_app
@guarded
def enrol(
    app: AppContext,
    study: str,
    data: tuple[Path, ...],
    records: tuple[str, ...],
    category: str | None,
    sign_only: bool,
    out: Path | None,
    relay_file: Path | None,
) -> None:
    """As the patient: de-identify and publish --data for STUDY (HIPAA Safe Harbor: names, places
    below the state, dates but the year, contact details, identifiers, photos and free text removed),
    give the researcher research consent until the study ends, and enrol."""
    from medledger.flows import studies as flows
    from medledger.scopes import category as parse_category

    study_id = _study_id(study)
    if relay_file is not None:
        from medledger.ledger.studies import parse_study_message

        if data or records or sign_only:
            raise click.UsageError("--relay sends a signed file as it is: give no --data, --record or --sign-only")
        signed = parse_study_message(relay_file.read_text())
        if int(signed.message["studyId"]) != study_id:
            raise click.BadParameter(f"the signed message is for study {signed.message['studyId']}", param_hint="STUDY")
        receipt = _studies(app).relay(signed)
        app.output(
            {"study": study_id, "patient": signed.message["patient"], "kind": signed.kind, "tx": receipt.tx_hash},
            f"relayed {signed.kind} of {signed.message['patient']} for study {study_id} ({receipt.tx_hash})",
        )
        return
    if sign_only and out is None:
        raise click.UsageError("--sign-only writes the signed Enrol to --out FILE")
    if not data and not records:
        raise click.UsageError("give --data FILE (to de-identify and publish) or --record DIGEST (already published)")
    chosen = None
    if category is not None:
        try:
            chosen = int(parse_category(category))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--category") from None
    digests = [_digest(record, "--record") for record in records]
    session = app.session()
    studies = _studies(app)
    copies = flows.publish_study_data(session, studies, study_id, list(data), category=chosen) if data else []
    digests += [copy.published.digest for copy in copies]
    lines = [
        f"published {Path(c.source).name} as a de-identified {c.resource_type} ({len(c.removed)} elements removed, "
        f"{len(c.generalised)} generalised): {c.published.cid}"
        for c in copies
    ]
    payload: dict[str, Any] = {
        "study": study_id,
        "records": ["0x" + d.hex() for d in digests],
        "published": [{"source": c.source, "cid": c.published.cid, "removed": list(c.removed)} for c in copies],
    }
    if sign_only:
        assert out is not None
        signed = flows.sign_enrolment(session, studies, study_id, digests)
        write_out(out, signed.to_json())
        payload["signed"] = str(out)
        lines.append(
            f"signed Enrol written to {out}: anyone may send it with `medledger study enrol {study_id} --relay`"
        )
    else:
        receipt = flows.enrol(session, studies, study_id, digests)
        payload["tx"] = receipt.tx_hash
        lines.append(f"enrolled in study {study_id} with {len(digests)} records ({receipt.tx_hash})")
    app.output(payload, "\n".join(lines))


@command.command("cancel-signatures")
@connection_options
@pass_app
@guarded
def cancel_signatures(app: AppContext) -> None:
    """As the patient: void the signed Enrol or Withdraw you gave someone and they have not sent yet."""
    receipt = _studies(app).cancel_signatures()
    app.output({"tx": receipt.tx_hash}, f"unrelayed study signatures voided ({receipt.tx_hash})")


@command.command("withdraw")
@click.argument("study")
@click.option("--keep-consent", is_flag=True, help="Leave the study but keep the researcher's consent on the ledger.")
@connection_options
@pass_app
@guarded
def withdraw(app: AppContext, study: str, keep_consent: bool) -> None:
    """As the patient: leave STUDY for good and revoke the researcher's consent (every later read
    is refused; a reward already earned stays claimable)."""
    from medledger.flows.studies import withdraw as withdraw_flow

    study_id = _study_id(study)
    sent = withdraw_flow(app.session(), _studies(app), study_id, keep_consent=keep_consent)
    revoked = "" if len(sent) == 1 else " and revoked the researcher's consent"
    app.output({"study": study_id, "tx": sent}, f"withdrew from study {study_id}{revoked} ({', '.join(sent)})")


@command.command("claim-reward")
@click.argument("study")
@click.option("--patient", default=None, help="Pay this participant (anyone may send a claim) [default: you].")
@connection_options
@pass_app
@guarded
def claim_reward(app: AppContext, study: str, patient: str | None) -> None:
    """Pay a participant the reward they earned in STUDY (once the researcher read their data)."""
    from medledger.flows.studies import claim_reward as claim_flow
    from medledger.flows.studies import require_study

    studies = _studies(app)
    found = require_study(studies, _study_id(study))
    session = app.session()
    amount = claim_flow(session, studies, found.study_id, patient)
    token = _token(app, found.token, signed=False)
    whom = patient or session.address
    app.output(
        {"study": found.study_id, "patient": whom, "amount": token.format(amount)},
        f"paid {token.format(amount)} to {whom} for study {found.study_id}",
    )
