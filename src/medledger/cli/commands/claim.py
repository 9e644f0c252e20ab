"""`medledger claim ...`: insurance claims, and `medledger deploy claims`.

Insurers register coverages, fund their escrow and decide claims; clinics submit claims and pull
their payments; patients and clinics appeal. Amounts are typed and shown in the coverage token's
units (`120.50` -> "120.50 USDC"); claim and coverage ids are the 0x hex the commands print.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from medledger.cli.commands.index import index_options, synced_index
from medledger.cli.context import AppContext, connection_options, guarded, pass_app
from medledger.cli.outfile import out_file_options, write_out
from medledger.cli.units import format_time, limit_seconds, parse_moment

if TYPE_CHECKING:
    from medledger.ledger.claims import Claim, ClaimsClient
    from medledger.ledger.tokens import TokenClient


def _id(text: str, what: str = "claim id") -> bytes:
    value = text.strip().lower().removeprefix("0x")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise click.BadParameter(f"{text!r} is not a {what} (0x and 64 hex digits)", param_hint=what.upper())
    return raw


def _code(text: str, option: str, low: int, high: int) -> int:
    """A whole number in low..high, parsed here so a bad value is one line."""
    try:
        value = int(text.strip())
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise click.BadParameter(f"{text!r} is not a whole number in {low}..{high}", param_hint=option)
    return value


def _record(reference: str, option: str) -> bytes:
    """A record reference: its CID (bafk.., bafy..) or its 0x sha2-256 digest."""
    from medledger.storage import Cid, InvalidCidError

    text = reference.strip()
    if text.lower().startswith("0x"):
        return _id(text, "record digest")
    try:
        return Cid.parse(text).digest
    except InvalidCidError as exc:
        raise click.BadParameter(f"{reference} is neither a CID nor a 0x digest: {exc}", param_hint=option) from None


def _claims(app: AppContext, *, signed: bool = True) -> ClaimsClient:
    from medledger.ledger.claims import ClaimsClient

    return ClaimsClient.from_deployment(
        app.chain(), app.deployment(), signer=app.signer() if signed else None, policy=app.policy()
    )


def _token(claims: ClaimsClient, address: str) -> TokenClient:
    from eth_utils import to_checksum_address

    from medledger.ledger.base import InvalidArgumentError
    from medledger.ledger.tokens import TokenClient

    if not claims.chain.w3.eth.get_code(to_checksum_address(address)):
        raise InvalidArgumentError(f"there is no token contract at {address} on this chain")
    return TokenClient(claims.chain, address, policy=claims.policy)


def _amount(token: TokenClient, text: str, option: str) -> int:
    from medledger.ledger.base import InvalidArgumentError

    try:
        return token.parse(text)
    except InvalidArgumentError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _claim_token(claims: ClaimsClient, claim: Claim) -> TokenClient:
    coverage = claims.coverage(claim.coverage_id)
    assert coverage is not None  # a claim always has its coverage
    return _token(claims, coverage.token)


def _load_claim(claims: ClaimsClient, claim_id: bytes) -> Claim:
    from medledger.ledger.base import InvalidArgumentError

    claim = claims.claim(claim_id)
    if claim is None:
        raise InvalidArgumentError(f"there is no claim 0x{claim_id.hex()} on this deployment")
    return claim


# -- deploy claims ---------------------------------------------------------------------------------


@click.command("claims")
@click.option(
    "--timely-filing", default="90d", show_default=True, help="How long after the service a claim may be filed."
)
@click.option(
    "--adjudication", default="30d", show_default=True, help="How long the insurer has to decide a claim or appeal."
)
@click.option(
    "--appeal", default="60d", show_default=True, help="How long after a decision the patient or clinic may appeal."
)
@connection_options
@pass_app
@guarded
def deploy_claims(app: AppContext, timely_filing: str, adjudication: str, appeal: str) -> None:
    """Deploy the claims module beside this network's MedLedger and record it in the same deployment
    file. Its deadlines are fixed for its life; running it again reuses the recorded module."""
    from medledger.chain.deploy import deploy_module, deployment_path
    from medledger.ledger.base import InvalidArgumentError
    from medledger.ledger.claims import CLAIMS_CONTRACT, ClaimsSettings

    windows = {
        "--timely-filing": limit_seconds(timely_filing, "--timely-filing"),
        "--adjudication": limit_seconds(adjudication, "--adjudication"),
        "--appeal": limit_seconds(appeal, "--appeal"),
    }
    for option, seconds in windows.items():
        if not 0 < seconds < 2**32:
            raise click.BadParameter("must be between 1 second and about 136 years", param_hint=option)
    try:
        settings = ClaimsSettings(*windows.values())
    except InvalidArgumentError as exc:
        raise click.UsageError(str(exc)) from None
    chain = app.chain()
    deployment = app.deployment()
    if chain.is_embedded and app.option("deployments") is None:
        raise click.UsageError("the embedded chain ends with this command: deploy claims on a devnet or an RPC URL")
    before = deployment.contracts.get(CLAIMS_CONTRACT)
    directory = app.deployments_dir()
    updated = deploy_module(
        chain,
        app.signer(),
        directory,
        CLAIMS_CONTRACT,
        settings.constructor_args(deployment.ledger_address),
        policy=app.policy(),
    )
    entry = updated.module(CLAIMS_CONTRACT)
    reused = before is not None and before.tx_hash == entry.tx_hash
    payload = {
        "chainId": updated.chain_id,
        "address": entry.address,
        "txHash": entry.tx_hash,
        "block": entry.block,
        "reused": reused,
        "ledger": updated.ledger_address,
        "timelyFilingSeconds": settings.timely_filing_seconds,
        "adjudicationSeconds": settings.adjudication_seconds,
        "appealSeconds": settings.appeal_seconds,
        "file": str(deployment_path(directory, chain.chain_id)),
    }
    app.output(
        payload,
        f"{'reusing' if reused else 'deployed'} Claims at {entry.address} beside MedLedger {updated.ledger_address} "
        f"(timely filing {timely_filing}, adjudication {adjudication}, appeal {appeal})\n"
        f"recorded in {payload['file']}",
    )


# -- the group -------------------------------------------------------------------------------------


@click.group("claim")
def command() -> None:
    """Insurance claims: coverage, submit, pend, adjudicate, pay, appeal, withdraw; escrow and payments."""


@command.command("cover")
@click.argument("patient")
@click.option("--token", required=True, help="The ERC-20 this coverage pays in (e.g. a stablecoin's address).")
@click.option("--member-id", required=True, help="The patient's member id (goes in the encrypted Coverage only).")
@click.option("--plan", required=True, help="The plan's name (encrypted Coverage only).")
@click.option(
    "--start",
    default=None,
    help="When the coverage started: a UTC date (2026-01-01) or a duration ago (30d) [default: now].",
)
@click.option("--end", "end_", required=True, help="When it ends: a duration from now (1y) or a UTC date.")
@connection_options
@pass_app
@guarded
def cover(app: AppContext, patient: str, token: str, member_id: str, plan: str, start: str | None, end_: str) -> None:
    """As an insurer: publish PATIENT's Coverage (an encrypted billing record: needs the patient's
    WRITE consent for billing, which is the patient's acceptance) and register it on chain."""
    from medledger.flows.claims import register_coverage
    from medledger.ledger.base import checked_address

    patient = checked_address(patient, "patient")
    token = checked_address(token, "token")
    claims = _claims(app)
    now = claims.chain.now()
    begins = parse_moment(start, now, back=True, option="--start") if start else now
    ends = parse_moment(end_, now, option="--end")
    result = register_coverage(
        app.session(), claims, patient=patient, member_id=member_id, plan=plan, token=token, start=begins, end=ends
    )
    coverage_id = "0x" + result.coverage_id.hex()
    app.output(
        {
            "coverageId": coverage_id,
            "patient": patient,
            "token": token,
            "start": begins,
            "end": ends,
            "document": result.document.cid,
            "txHash": result.receipt.tx_hash,
        },
        f"coverage {coverage_id}\n  patient {patient}, from {format_time(begins)} to {format_time(ends)}, "
        f"paid in {_token(claims, token).symbol}\n  document {result.document.cid} (encrypted billing record)",
    )


@command.command("submit")
@click.option("--coverage", "coverage_id", required=True, help="The coverage id the insurer gave.")
@click.option("--encounter", required=True, help="Your identifier of the encounter (e.g. Encounter/2026-0412-17).")
@click.option("--service-date", required=True, help="When the service was given: a UTC date, or a duration ago (2d).")
@click.option(
    "--line",
    "lines",
    multiple=True,
    required=True,
    help="A billed service: CODE=AMOUNT or CODE:DESCRIPTION=AMOUNT (CPT codes; repeatable), e.g. '83036:HbA1c=45.00'.",
)
@click.option("--diagnosis", "diagnoses", multiple=True, help="An ICD-10-CM code, optionally CODE:DESCRIPTION.")
@click.option(
    "--supporting", multiple=True, help="A supporting record of the patient: its CID or 0x digest (repeatable)."
)
@connection_options
@pass_app
@guarded
def submit(
    app: AppContext,
    coverage_id: str,
    encounter: str,
    service_date: str,
    lines: tuple[str, ...],
    diagnoses: tuple[str, ...],
    supporting: tuple[str, ...],
) -> None:
    """As a clinic: bill an encounter. The FHIR Claim (codes, lines) is encrypted and published as a
    billing record of the patient; only its digest, the amount and the dates go on chain."""
    from medledger.fhir.claims import ClaimLine
    from medledger.flows.claims import submit_claim

    coverage_key = _id(coverage_id, "coverage id")
    claims = _claims(app)
    coverage = claims.coverage(coverage_key)
    if coverage is None:
        raise click.BadParameter(f"there is no coverage {coverage_id} on this deployment", param_hint="--coverage")
    token = _token(claims, coverage.token)
    parsed = []
    for line in lines:
        code_part, sep, amount_text = line.rpartition("=")
        if not sep or not code_part.strip():
            raise click.BadParameter(f"{line!r} is not CODE=AMOUNT or CODE:DESCRIPTION=AMOUNT", param_hint="--line")
        code, _, display = code_part.partition(":")
        parsed.append(ClaimLine(code.strip(), display.strip() or code.strip(), _amount(token, amount_text, "--line")))
    dx = [(d.partition(":")[0].strip(), d.partition(":")[2].strip() or d.partition(":")[0].strip()) for d in diagnoses]
    now = claims.chain.now()
    service = parse_moment(service_date, now, back=True, option="--service-date")
    result = submit_claim(
        app.session(),
        claims,
        coverage_id=coverage_key,
        encounter=encounter,
        service_date=service,
        lines=parsed,
        diagnoses=dx,
        supporting=[_record(s, "--supporting") for s in supporting],
    )
    claim_id = "0x" + result.claim_id.hex()
    app.output(
        {
            "claimId": claim_id,
            "billed": result.billed,
            "billedText": token.format(result.billed),
            "document": result.document.cid,
            "txHash": result.receipt.tx_hash,
        },
        f"claim {claim_id} submitted: {token.format(result.billed)} for {encounter}\n"
        f"  document {result.document.cid} (encrypted billing record)",
    )


def _claim_payload(claims: ClaimsClient, claim: Claim, token: TokenClient) -> dict[str, Any]:
    return {
        "claimId": "0x" + claim.claim_id.hex(),
        "coverageId": "0x" + claim.coverage_id.hex(),
        "provider": claim.provider,
        "status": claim.status.label,
        "round": claim.round,
        "serviceDate": claim.service_date,
        "due": claim.due,
        "billed": claim.billed,
        "approved": claim.approved,
        "patientShare": claim.patient_share,
        "paid": claim.paid,
        "reason": claim.reason,
        "token": token.address,
        "symbol": token.symbol,
        "decimals": token.decimals,
        "final": claims.is_final(claim.claim_id),
    }


@command.command("show")
@click.argument("claim_id")
@connection_options
@pass_app
@guarded
def show(app: AppContext, claim_id: str) -> None:
    """A claim's state on chain and its history, step by step."""
    from medledger.fhir.claims import carc_text

    claims = _claims(app, signed=False)
    claim = _load_claim(claims, _id(claim_id))
    token = _claim_token(claims, claim)
    payload = _claim_payload(claims, claim, token)
    steps = claims.history(claim.claim_id, from_block=app.deployment().module("Claims").block)
    payload["history"] = [{"event": s.name, "time": s.timestamp, "txHash": s.tx_hash, "by": _by(s.args)} for s in steps]
    lines = [
        f"claim {payload['claimId']}: {claim.status.label}" + (" (final)" if payload["final"] else ""),
        f"  provider {claim.provider}, service {format_time(claim.service_date)}",
        f"  billed {token.format(claim.billed)}, approved {token.format(claim.approved)}, "
        f"paid {token.format(claim.paid)}, patient owes {token.format(claim.patient_share)}",
    ]
    if claim.reason:
        lines.append(f"  reason {claim.reason}: {carc_text(claim.reason)}")
    if claim.due:
        lines.append(f"  next deadline {format_time(claim.due)}")
    lines += [f"  {format_time(s.timestamp)}  {s.name.removeprefix('Claim')}  {_by(s.args) or ''}" for s in steps]
    app.output(payload, "\n".join(lines))


def _by(args: dict[str, Any]) -> str | None:
    for key in ("provider", "insurer", "appellant"):
        if key in args:
            return str(args[key])
    return None


@command.command("list")
@click.option("--patient", default=None, help="Only this patient's claims.")
@click.option("--provider", default=None, help="Only claims by this provider.")
@click.option("--insurer", default=None, help="Only claims under this insurer's coverages.")
@click.option(
    "--status",
    type=click.Choice(["submitted", "pended", "approved", "denied", "paid", "appealed", "withdrawn"]),
    default=None,
    help="Only claims in this state.",
)
@index_options
@connection_options
@pass_app
@guarded
def list_claims(
    app: AppContext,
    patient: str | None,
    provider: str | None,
    insurer: str | None,
    status: str | None,
    db: str | None,
    no_index: bool,
) -> None:
    """Claims from the index (synced first), newest first. Amounts in the token's smallest unit in
    --json; in the token's units here."""
    from medledger.indexer import claims as claim_queries
    from medledger.ledger.base import checked_address

    if no_index:
        raise click.UsageError("claim list reads the index; drop --no-index (use `claim show` for one claim)")
    patient = checked_address(patient, "patient") if patient else None
    provider = checked_address(provider, "provider") if provider else None
    insurer = checked_address(insurer, "insurer") if insurer else None
    with synced_index(app, db) as indexer:
        found = claim_queries.claims(indexer.store, patient=patient, provider=provider, insurer=insurer, status=status)
    claims = _claims(app, signed=False)
    tokens: dict[str, TokenClient] = {}
    rows = []
    for summary in found:
        coverage = claims.coverage(bytes.fromhex(summary.coverage_id.removeprefix("0x")))
        token = tokens.setdefault(coverage.token, _token(claims, coverage.token)) if coverage else None
        money = token.format if token else str
        rows.append(
            (
                summary,
                f"{summary.claim_id[:12]}..  {summary.status:<9}  {format_time(summary.submitted_at)}  "
                f"billed {money(summary.billed)}  paid {money(summary.paid)}  patient {summary.patient}",
            )
        )
    payload = [
        {
            "claimId": s.claim_id,
            "patient": s.patient,
            "provider": s.provider,
            "coverageId": s.coverage_id,
            "status": s.status,
            "submittedAt": s.submitted_at,
            "billed": s.billed,
            "approved": s.approved,
            "patientShare": s.patient_share,
            "paid": s.paid,
            "reason": s.reason,
            "round": s.round,
        }
        for s, _ in rows
    ]
    app.output(payload, "\n".join(line for _, line in rows) or "no claims")


@command.command("pend")
@click.argument("claim_id")
@click.option("--reason", default="16", show_default=True, help="X12 claim adjustment reason code (CARC), 1..65535.")
@click.option("--note", default=None, help="What is needed (goes in the encrypted ClaimResponse).")
@connection_options
@pass_app
@guarded
def pend(app: AppContext, claim_id: str, reason: str, note: str | None) -> None:
    """As the insurer: ask the clinic for more information (once per claim)."""
    from medledger.flows.claims import pend_claim

    code = _code(reason, "--reason", 1, 65535)
    result = pend_claim(app.session(), _claims(app), _id(claim_id), code, note=note)
    app.output({"claimId": claim_id, "status": "pended", "txHash": result.receipt.tx_hash}, f"claim {claim_id} pended")


@command.command("supplement")
@click.argument("claim_id")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@connection_options
@pass_app
@guarded
def supplement(app: AppContext, claim_id: str, file: Path) -> None:
    """As the clinic: answer a pended claim with FILE (published as an encrypted billing record)."""
    from medledger.flows.claims import supplement_claim

    result = supplement_claim(app.session(), _claims(app), _id(claim_id), file)
    app.output(
        {"claimId": claim_id, "status": "submitted", "txHash": result.receipt.tx_hash},
        f"claim {claim_id} supplemented; the insurer has a new adjudication window",
    )


@command.command("read")
@click.argument("claim_id")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Where to write it.")
@click.option("--record", default=None, help="A supporting record: its CID or 0x digest [default: the claim itself].")
@out_file_options()
@connection_options
@pass_app
@guarded
def read(app: AppContext, claim_id: str, out: Path, record: str | None) -> None:
    """As the insurer: read the claim (or a supporting record) for payment (HPAYMT), logged on chain."""
    from medledger.flows.claims import read_for_payment

    result = read_for_payment(
        app.session(), _claims(app), _id(claim_id), out, digest=_record(record, "--record") if record else None
    )
    app.output({"path": str(result.path), "size": result.size, "accessTx": result.access_tx}, f"wrote {result.path}")


@command.command("adjudicate")
@click.argument("claim_id")
@click.option("--approve", "approve", default=None, help="The amount the insurer pays, e.g. 100.00.")
@click.option("--deny", is_flag=True, help="Deny the claim (needs --reason).")
@click.option("--patient-share", default="0", show_default=True, help="What the patient owes, e.g. 20.50.")
@click.option(
    "--reason",
    "reason_text",
    default="0",
    help="X12 claim adjustment reason code (CARC): 50 not medically necessary, 1 deductible.",
)
@click.option("--note", default=None, help="A note for the encrypted ClaimResponse.")
@connection_options
@pass_app
@guarded
def adjudicate(
    app: AppContext,
    claim_id: str,
    approve: str | None,
    deny: bool,
    patient_share: str,
    reason_text: str,
    note: str | None,
) -> None:
    """As the insurer: approve an amount (and the patient's share), or deny with a reason."""
    from medledger.flows.claims import adjudicate_claim

    reason = _code(reason_text, "--reason", 0, 65535)
    if deny == (approve is not None):
        raise click.UsageError("give exactly one of --approve AMOUNT or --deny")
    if deny and not reason:
        raise click.BadParameter("a denial needs a reason code, e.g. --reason 50", param_hint="--reason")
    claims = _claims(app)
    claim = _load_claim(claims, _id(claim_id))
    token = _claim_token(claims, claim)
    approved = 0 if deny else _amount(token, approve or "0", "--approve")
    if not deny and approved == 0:
        raise click.BadParameter("an approval pays more than zero (use --deny)", param_hint="--approve")
    share = _amount(token, patient_share, "--patient-share")
    result = adjudicate_claim(
        app.session(), claims, claim.claim_id, approved=approved, patient_share=share, reason=reason, note=note
    )
    decided = _load_claim(claims, claim.claim_id)
    app.output(
        {
            "claimId": claim_id,
            "status": decided.status.label,
            "approved": approved,
            "patientShare": share,
            "reason": reason,
            "appealDue": decided.due,
            "txHash": result.receipt.tx_hash,
        },
        f"claim {claim_id} {decided.status.label}: insurer pays {token.format(approved)}, "
        f"patient owes {token.format(share)}",
    )


@command.command("pay")
@click.argument("claim_id")
@connection_options
@pass_app
@guarded
def pay(app: AppContext, claim_id: str) -> None:
    """As the insurer or the clinic: move the approved amount from escrow to the clinic's balance."""
    claims = _claims(app)
    claim = _load_claim(claims, _id(claim_id))
    token = _claim_token(claims, claim)
    owed = claim.approved - claim.paid
    receipt = claims.pay(claim.claim_id)
    app.output(
        {"claimId": claim_id, "amount": owed, "token": token.address, "txHash": receipt.tx_hash},
        f"claim {claim_id} paid: {token.format(owed)} to {claim.provider} (withdraw with `claim withdraw-funds`)",
    )


@command.command("appeal")
@click.argument("claim_id")
@click.option("--letter", default=None, help="Why (published as an encrypted billing record).")
@connection_options
@pass_app
@guarded
def appeal(app: AppContext, claim_id: str, letter: str | None) -> None:
    """As the patient or the clinic: appeal a decision (once, within the appeal window)."""
    from medledger.flows.claims import appeal_claim

    claims = _claims(app)
    result = appeal_claim(app.session(), claims, _id(claim_id), letter)
    due = _load_claim(claims, _id(claim_id)).due
    app.output(
        {"claimId": claim_id, "status": "appealed", "decisionDue": due, "txHash": result.receipt.tx_hash},
        f"claim {claim_id} appealed; the insurer must decide by {format_time(due)}",
    )


@command.command("withdraw")
@click.argument("claim_id")
@connection_options
@pass_app
@guarded
def withdraw(app: AppContext, claim_id: str) -> None:
    """As the clinic: withdraw a claim not yet decided (for good)."""
    receipt = _claims(app).withdraw_claim(_id(claim_id))
    app.output({"claimId": claim_id, "status": "withdrawn", "txHash": receipt.tx_hash}, f"claim {claim_id} withdrawn")


@command.command("export")
@click.argument("claim_id")
@click.option(
    "--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write here [default: stdout]."
)
@out_file_options()
@connection_options
@pass_app
@guarded
def export(app: AppContext, claim_id: str, out: Path | None) -> None:
    """The claim's history as a FHIR R4 Bundle (Claim, ClaimResponse per step, ExplanationOfBenefit per payment)."""
    from medledger.flows.claims import history_bundle

    claims = _claims(app, signed=False)
    steps = claims.history(_id(claim_id), from_block=app.deployment().module("Claims").block)
    text = history_bundle(claims, _id(claim_id), steps).model_dump_json(exclude_none=True, indent=1)
    if out is None:
        click.echo(text)
        return
    write_out(out, text + "\n")
    click.echo(f"wrote {out} ({len(steps)} steps)")


# -- money -------------------------------------------------------------------------------------------


@command.command("fund")
@click.argument("amount")
@click.option("--token", required=True, help="The ERC-20 to deposit.")
@connection_options
@pass_app
@guarded
def fund(app: AppContext, amount: str, token: str) -> None:
    """As an insurer: deposit AMOUNT, such as 1000.00, into your escrow (approving Claims first if needed)."""
    from medledger.flows.claims import fund_escrow
    from medledger.ledger.base import checked_address

    claims = _claims(app)
    erc20 = _token(claims, checked_address(token, "token"))
    raw = _amount(erc20, amount, "AMOUNT")
    if raw == 0:
        raise click.BadParameter("fund more than zero", param_hint="AMOUNT")
    receipt = fund_escrow(claims, erc20.address, raw)
    escrow = claims.escrow_of(app.signer().address, erc20.address)
    app.output(
        {"funded": raw, "escrow": escrow, "token": erc20.address, "txHash": receipt.tx_hash},
        f"funded {erc20.format(raw)}; escrow now {erc20.format(escrow)}",
    )


@command.command("defund")
@click.argument("amount")
@click.option("--token", required=True, help="The ERC-20 to take back.")
@connection_options
@pass_app
@guarded
def defund(app: AppContext, amount: str, token: str) -> None:
    """As an insurer: take AMOUNT of your escrow back."""
    from medledger.ledger.base import checked_address

    claims = _claims(app)
    erc20 = _token(claims, checked_address(token, "token"))
    raw = _amount(erc20, amount, "AMOUNT")
    receipt = claims.withdraw_escrow(erc20.address, raw)
    app.output({"withdrawn": raw, "token": erc20.address, "txHash": receipt.tx_hash}, f"took {erc20.format(raw)} back")


@command.command("withdraw-funds")
@click.option("--token", required=True, help="The ERC-20 you were paid in.")
@connection_options
@pass_app
@guarded
def withdraw_funds(app: AppContext, token: str) -> None:
    """As a clinic: withdraw everything you were paid in TOKEN to your account."""
    from medledger.ledger.base import checked_address

    claims = _claims(app)
    erc20 = _token(claims, checked_address(token, "token"))
    receipt, amount = claims.withdraw(erc20.address)
    app.output(
        {"withdrawn": amount, "token": erc20.address, "txHash": receipt.tx_hash}, f"withdrew {erc20.format(amount)}"
    )


@command.command("balance")
@click.option("--token", required=True, help="The ERC-20.")
@click.option("--of", "whose", default=None, help="Whose balances (an address) [default: yours].")
@connection_options
@pass_app
@guarded
def balance(app: AppContext, token: str, whose: str | None) -> None:
    """Escrow (an insurer's), withdrawable payments (a clinic's) and the token balance of an account."""
    from medledger.ledger.base import checked_address

    claims = _claims(app, signed=False)
    erc20 = _token(claims, checked_address(token, "token"))
    who = checked_address(whose, "account") if whose else app.signer().address
    escrow, payable, held = (
        claims.escrow_of(who, erc20.address),
        claims.withdrawable(who, erc20.address),
        erc20.balance_of(who),
    )
    app.output(
        {
            "account": who,
            "token": erc20.address,
            "symbol": erc20.symbol,
            "decimals": erc20.decimals,
            "escrow": escrow,
            "withdrawable": payable,
            "wallet": held,
        },
        f"{who}\n  escrow        {erc20.format(escrow)}\n  withdrawable  {erc20.format(payable)}\n"
        f"  wallet        {erc20.format(held)}",
    )


@command.command("token")
@click.option("--name", default="Test USD", show_default=True, help="The token's name.")
@click.option("--symbol", default="USDC", show_default=True, help="The token's symbol.")
@click.option("--decimals", "decimals_text", default="6", show_default=True, help="Decimal places (0..36).")
@click.option("--mint", "mint", default=None, help="Also mint this amount (e.g. 10000) to --to.")
@click.option("--to", "to", default=None, help="Who receives the minted amount [default: you].")
@connection_options
@pass_app
@guarded
def token(app: AppContext, name: str, symbol: str, decimals_text: str, mint: str | None, to: str | None) -> None:
    """Deploy a SettlementToken (an OpenZeppelin ERC-20 you may mint) for a devnet or a testnet; on a
    real network, insurers name a real stablecoin instead."""
    from medledger.ledger.base import checked_address
    from medledger.ledger.tokens import deploy_token, parse_amount

    decimals = _code(decimals_text, "--decimals", 0, 36)
    chain = app.chain()
    if chain.is_embedded:
        raise click.UsageError("the embedded chain ends with this command: deploy a token on a devnet or an RPC URL")
    raw = None
    if mint is not None:
        from medledger.ledger.base import InvalidArgumentError

        try:
            raw = parse_amount(mint, decimals)
        except InvalidArgumentError as exc:
            raise click.BadParameter(str(exc), param_hint="--mint") from None
    recipient = checked_address(to, "recipient") if to else app.signer().address
    erc20 = deploy_token(chain, app.signer(), name, symbol, decimals, policy=app.policy())
    if raw:
        erc20.mint(recipient, raw)
    app.output(
        {"token": erc20.address, "symbol": symbol, "decimals": decimals, "minted": raw or 0, "to": recipient},
        f"token {erc20.address} ({symbol}, {decimals} decimals)"
        + (f"; minted {erc20.format(raw)} to {recipient}" if raw else ""),
    )


@command.command("coverage")
@click.argument("coverage_id")
@connection_options
@pass_app
@guarded
def coverage(app: AppContext, coverage_id: str) -> None:
    """A coverage as registered on chain: patient, insurer, token and period."""
    from medledger.ledger.base import InvalidArgumentError

    claims = _claims(app, signed=False)
    found = claims.coverage(_id(coverage_id, "coverage id"))
    if found is None:
        raise InvalidArgumentError(f"there is no coverage {coverage_id} on this deployment")
    erc20 = _token(claims, found.token)
    app.output(
        {
            "coverageId": "0x" + found.coverage_id.hex(),
            "patient": found.patient,
            "insurer": found.insurer,
            "token": found.token,
            "symbol": erc20.symbol,
            "start": found.start,
            "end": found.end,
        },
        f"coverage 0x{found.coverage_id.hex()}\n  patient {found.patient}\n  insurer {found.insurer}\n"
        f"  paid in {erc20.symbol} ({found.token})\n  services from {format_time(found.start)} "
        f"to {format_time(found.end)}",
    )


@command.command("end-coverage")
@click.argument("coverage_id")
@click.option("--at", "at", default=None, help="When it ends: a UTC date, or a duration from now (30d) [default: now].")
@connection_options
@pass_app
@guarded
def end_coverage(app: AppContext, coverage_id: str, at: str | None) -> None:
    """As the coverage's insurer: end it (claims for earlier services may still be filed in time)."""
    claims = _claims(app)
    now = claims.chain.now()
    end = parse_moment(at, now, option="--at") if at else now + 1
    receipt = claims.end_coverage(_id(coverage_id, "coverage id"), end)
    app.output(
        {"coverageId": coverage_id, "end": end, "txHash": receipt.tx_hash},
        f"coverage {coverage_id} ends {format_time(end)}",
    )


@command.command("records")
@click.argument("patient")
@index_options
@connection_options
@pass_app
@guarded
def records(app: AppContext, patient: str, db: str | None, no_index: bool) -> None:
    """Which claims touched which of PATIENT's records: each claim's documents (claim, responses,
    supplements, appeals) and the records its insurer read for payment while it was open."""
    from medledger.indexer import claims as claim_queries
    from medledger.ledger.base import checked_address

    if no_index:
        raise click.UsageError("claim records reads the index; drop --no-index")
    patient = checked_address(patient, "patient")
    with synced_index(app, db) as indexer:
        uses = claim_queries.records_touched(indexer.store, patient)
    payload = [{"claimId": use.claim_id, "record": use.digest, "how": use.how, "time": use.timestamp} for use in uses]
    lines = [
        f"{format_time(use.timestamp)}  claim {use.claim_id[:12]}..  {use.how:<17}  record {use.digest}" for use in uses
    ]
    app.output(payload, "\n".join(lines) or f"no claim touched a record of {patient}")
