"""`medledger consent grant|revoke|list|show`, in human units."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from medledger.cli.commands.index import index_options, synced_index
from medledger.cli.context import AppContext, connection_options, guarded, pass_app
from medledger.cli.outfile import out_file_options, write_out
from medledger.cli.units import (
    DURATION_HELP,
    categories_option,
    format_time,
    parse_expiry,
    permissions_option,
    purposes_option,
)
from medledger.cli.usage import address_value, expiry_value
from medledger.scopes import categories_in, purposes_in
from medledger.wording import consent_sentence, grant_confirmation, revocation_confirmation, revocation_sentence

if TYPE_CHECKING:
    from medledger.addressbook import AddressBook
    from medledger.ledger.values import ConsentTerms


@click.group("consent")
def command() -> None:
    """Grant, revoke and review consent (as the patient)."""


def _address_book(app: AppContext) -> AddressBook:
    """The user's names for accounts (<home>/names.toml, which the portal writes too); an
    unreadable book only costs the names, never the command."""
    from medledger.addressbook import AddressBook, AddressBookError

    try:
        return AddressBook.load(app.settings.home / "names.toml")
    except AddressBookError:
        return AddressBook()


def _confirm(yes: bool, summary: str) -> None:
    if not yes and not sys.stdin.isatty():  # nobody to ask: refuse in one line, before the summary
        raise click.UsageError("not confirmed: pass --yes to confirm without a prompt")
    click.echo(summary, err=True)
    if yes:
        return
    if not click.confirm("Send this transaction? (--yes skips this question)", default=False, err=True):
        raise click.Abort()


@command.command("grant")
@click.argument("grantee", callback=address_value("grantee"))
@click.option("--categories", required=True, help="Record categories, e.g. labs,imaging.")
@click.option(
    "--purpose",
    "purposes",
    required=True,
    help="Purposes of use: treatment, emergency, payment, operations, research, public-health, "
    "patient-request (or HL7 codes TREAT, ETREAT, ...).",
)
@click.option("--access", default="read", show_default=True, help="read, write or read,write.")
@click.option(
    "--expires", required=True, callback=expiry_value("--expires"), help="When the grant ends: " + DURATION_HELP + "."
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--for", "ward", default=None, callback=address_value("patient"), help="Act as guardian for this patient."
)
@connection_options
@pass_app
@guarded
def grant(
    app: AppContext,
    grantee: str,
    categories: str,
    purposes: str,
    access: str,
    expires: str,
    yes: bool,
    ward: str | None,
) -> None:
    """Let GRANTEE (an active provider) access your records within a scope, until a time."""
    category_bits = categories_option(categories)  # bad input is refused before web3 is imported
    purpose_bits = purposes_option(purposes)
    permission_bits = permissions_option(access)
    from medledger.flows.consent import grant as grant_flow
    from medledger.ledger.base import checked_address

    grantee = checked_address(grantee, "grantee")
    ward = checked_address(ward, "patient") if ward else None
    session = app.session()
    now = session.ledger.chain.now()
    expiry = parse_expiry(expires, now)
    if expiry <= now:
        raise click.BadParameter(f"{expires} is in the past", param_hint="--expires")
    # Ask the contract first (a read-only call sends nothing), so a refusal such as UnknownProvider,
    # ProviderNotActive or NotGuardian is reported before keys are looked up or confirmation is asked for.
    session.ledger.sender.call(
        session.ledger.consent.grant_call(
            grantee,
            categories=category_bits,
            purposes=purpose_bits,
            permissions=permission_bits,
            expiry=expiry,
            patient=ward,
        ),
        sender=session.address,
    )
    provider = session.ledger.providers.get(grantee)
    # The same words as the portal's confirmation (medledger.wording), with the name the user gave
    # the grantee in the address book when there is one.
    names = _address_book(app)
    whose = "your" if not ward else f"{names.label(ward)}'s"
    sentence = consent_sentence(
        names.name_of(grantee) or grantee,
        categories=category_bits,
        purposes=purpose_bits,
        permissions=permission_bits,
        expiry=expiry,
        whose=whose,
    )
    lines = grant_confirmation(
        f"As guardian of {ward}, you" if ward else f"You ({session.address})",
        grantee,
        f"{provider.kind.name.lower()}, {provider.status.name.lower()}",
        categories=category_bits,
        purposes=purpose_bits,
        permissions=permission_bits,
        expiry=expiry,
        sentence=sentence,
    )
    _confirm(yes, "\n".join(lines))
    receipt = grant_flow(
        session,
        grantee,
        categories=category_bits,
        purposes=purpose_bits,
        permissions=permission_bits,
        expiry=expiry,
        on_behalf_of=ward,
    )
    payload = {
        "patient": ward or session.address,
        "grantee": grantee,
        "categories": categories_in(category_bits),
        "purposes": purposes_in(purpose_bits),
        "read": bool(permission_bits & 1),
        "write": bool(permission_bits & 2),
        "expiry": expiry,
        "txHash": receipt.tx_hash,
        "gasUsed": receipt.gas_used,
    }
    app.output(payload, f"granted; tx {receipt.tx_hash}")


@command.command("revoke")
@click.argument("grantee", callback=address_value("grantee"))
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--for", "ward", default=None, callback=address_value("patient"), help="Act as guardian for this patient."
)
@connection_options
@pass_app
@guarded
def revoke(app: AppContext, grantee: str, yes: bool, ward: str | None) -> None:
    """End GRANTEE's access: from the next block no key-release service releases it a key, for
    any record, old or new. What it already decrypted it keeps."""
    from medledger.flows.consent import revoke as revoke_flow
    from medledger.ledger.base import checked_address

    grantee = checked_address(grantee, "grantee")
    session = app.session()
    patient = checked_address(ward, "patient") if ward else session.address
    terms = session.ledger.consent.get(patient, grantee)
    if not terms.exists:
        raise click.UsageError(f"you have no consent for {grantee} to revoke")
    names = _address_book(app)
    sentence = revocation_sentence(
        names.name_of(grantee) or grantee,
        categories=terms.categories,
        whose="your" if not ward else f"{names.label(patient)}'s",
    )
    _confirm(yes, "\n".join(revocation_confirmation(grantee, categories=terms.categories, sentence=sentence)))
    receipt = revoke_flow(session, grantee, on_behalf_of=patient if ward else None)
    app.output(
        {"patient": patient, "grantee": grantee, "txHash": receipt.tx_hash, "gasUsed": receipt.gas_used},
        f"revoked; tx {receipt.tx_hash}",
    )


@command.command("cancel-signatures")
@click.argument("counterparty")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@connection_options
@pass_app
@guarded
def cancel_signatures(app: AppContext, counterparty: str, yes: bool) -> None:
    """Void every grant, revocation or guardian appointment you signed for COUNTERPARTY that nobody
    has relayed yet (cancelNonces). What is already on chain stays; revoke that separately."""
    from medledger.ledger.base import checked_address

    counterparty = checked_address(counterparty, "counterparty")
    _confirm(yes, f"Void every unrelayed message you signed for {counterparty}")
    receipt = app.ledger().signed.cancel_nonces(counterparty)
    app.output(
        {"patient": app.signer().address, "counterparty": counterparty, "txHash": receipt.tx_hash},
        f"every unrelayed message you signed for {counterparty} is void; tx {receipt.tx_hash}",
    )


def _terms_payload(terms: ConsentTerms, now: int) -> dict[str, Any]:
    return {"grantee": terms.grantee, **terms.describe(), "active": terms.exists and terms.expiry > now}


@command.command("list")
@click.option(
    "--patient", default=None, callback=address_value("patient"), help="Whose consents [default: this account]."
)
@index_options
@connection_options
@pass_app
@guarded
def list_(app: AppContext, patient: str | None, db: str | None, no_index: bool) -> None:
    """List every grantee ever granted and what they hold now (grantees from the index, terms
    from the contract)."""
    from medledger.ledger.base import checked_address

    ledger = app.ledger(signed=patient is None)
    patient = checked_address(patient, "patient") if patient else app.signer().address
    now = ledger.chain.now()
    if no_index:
        events = ledger.events(
            "ConsentGranted", from_block=app.deployment().contracts["MedLedger"].block, patient=patient
        )
        grantees = list(dict.fromkeys(event.args.grantee for event in events))
    else:
        with synced_index(app, db) as index:
            grantees = index.grantees(patient)
    rows = [_terms_payload(ledger.consent.get(patient, grantee), now) for grantee in grantees]

    def human() -> None:
        if not rows:
            click.echo("no consents")
        for row in rows:
            state = "active" if row["active"] else "inactive"
            access = "+".join(v for v in ("read", "write") if row[v])
            click.echo(
                f"{row['grantee']}  {state:8}  {access or '-':10}  {','.join(row['categories']) or '-'}  "
                f"{','.join(row['purposes']) or '-'}  until {format_time(row['expiry']) if row['expiry'] else '-'}"
            )

    app.output(rows, human)


@command.command("show")
@click.argument("grantee", callback=address_value("grantee"))
@click.option(
    "--patient", default=None, callback=address_value("patient"), help="Whose consent [default: this account]."
)
@connection_options
@pass_app
@guarded
def show(app: AppContext, grantee: str, patient: str | None) -> None:
    """Show what GRANTEE holds now."""
    from medledger.ledger.base import checked_address

    ledger = app.ledger(signed=patient is None)
    patient = checked_address(patient, "patient") if patient else app.signer().address
    terms = ledger.consent.get(patient, checked_address(grantee, "grantee"))
    now = ledger.chain.now()
    row = _terms_payload(terms, now)
    human = (
        f"{terms.grantee}: no consent"
        if not terms.exists
        else f"{terms.grantee}: {'active' if row['active'] else 'expired'}; "
        f"{'+'.join(v for v in ('read', 'write') if row[v])} {', '.join(row['categories'])} "
        f"for {', '.join(row['purposes'])} until {format_time(terms.expiry)}"
    )
    app.output(row, human)


@command.command("sign")
@click.argument("grantee", callback=address_value("grantee"))
@click.option("--revoke", "revoking", is_flag=True, help="Sign a revocation instead of a grant.")
@click.option("--categories", default=None, help="Record categories, e.g. labs,imaging (grants).")
@click.option("--purpose", "purposes", default=None, help="Purposes of use (grants).")
@click.option("--access", default="read", show_default=True, help="read, write or read,write.")
@click.option(
    "--expires",
    default=None,
    callback=expiry_value("--expires"),
    help="When the grant ends (grants): " + DURATION_HELP + ".",
)
@click.option(
    "--valid-for",
    default="1d",
    show_default=True,
    help="How long a relayer may submit it: a duration (1d, 12h; at most 30d).",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write the signed message to (JSON), whole or not at all; see --force, --parents.",
)
@out_file_options(inputs=("keystore",))
@connection_options
@pass_app
@guarded
def sign(
    app: AppContext,
    grantee: str,
    revoking: bool,
    categories: str | None,
    purposes: str | None,
    access: str,
    expires: str | None,
    valid_for: str,
    out: Path,
) -> None:
    """Sign a Grant (or --revoke) to a file, paying no gas; anyone can `medledger relay` it.

    Reads the chain (the nonce) but sends nothing. The grant carries no key material.
    """
    from medledger.ledger.base import checked_address
    from medledger.ledger.signatures import sign as sign_message

    grantee = checked_address(grantee, "grantee")
    session = app.session()
    now = session.ledger.chain.now()
    lifetime = parse_expiry(valid_for, now) - now
    signed_client = session.ledger.signed
    if revoking:
        data = signed_client.revoke_data(session.address, grantee, valid_for=lifetime)
    else:
        if not (categories and purposes and expires):
            raise click.UsageError("a grant needs --categories, --purpose and --expires")
        category_bits, purpose_bits = categories_option(categories), purposes_option(purposes)
        permission_bits = permissions_option(access)
        data = signed_client.grant_data(
            session.address,
            grantee,
            categories=category_bits,
            purposes=purpose_bits,
            permissions=permission_bits,
            expiry=parse_expiry(expires, now),
            valid_for=lifetime,
        )
    signed = sign_message(session.signer, data)
    write_out(out, signed.to_json())
    app.output(
        {"kind": signed.kind, "file": str(out), "deadline": data["message"]["deadline"]},
        f"signed {signed.kind} written to {out}; valid until {format_time(data['message']['deadline'])}",
    )
