"""`medledger guardian appoint|remove|list`."""

from __future__ import annotations

from typing import Any

import click

from medledger.cli.commands.index import index_options, synced_index
from medledger.cli.context import AppContext, connection_options, guarded, pass_app
from medledger.cli.units import DURATION_HELP, format_time, parse_expiry
from medledger.cli.usage import address_value


@click.group("guardian")
def command() -> None:
    """Appoint and remove guardians who manage consent and read on a patient's behalf."""


@command.command("appoint")
@click.argument("guardian", callback=address_value("guardian"))
@click.option(
    "--until",
    "until_text",
    required=True,
    help="End of the guardianship (every guardianship ends): " + DURATION_HELP + ".",
)
@click.option("--can-appoint", is_flag=True, help="Let this guardian appoint further (plain) guardians.")
@click.option(
    "--patient",
    default=None,
    callback=address_value("patient"),
    help="Appoint for this ward (you must be a guardian allowed to appoint).",
)
@connection_options
@pass_app
@guarded
def appoint(app: AppContext, guardian: str, until_text: str, can_appoint: bool, patient: str | None) -> None:
    """Appoint GUARDIAN: until the end date it may grant and revoke for you, and read your records
    (through the key-release services, which check the guardianship at every read)."""
    from medledger.flows.guardians import appoint_guardian
    from medledger.ledger.base import checked_address

    session = app.session()
    guardian = checked_address(guardian, "guardian")
    ward = checked_address(patient, "patient") if patient else session.address
    now = session.ledger.chain.now()
    until = parse_expiry(until_text, now)
    receipt = appoint_guardian(
        session, guardian, until=until, can_appoint=can_appoint, patient=None if ward == session.address else ward
    )
    app.output(
        {"patient": ward, "guardian": guardian, "until": until, "canAppoint": can_appoint, "txHash": receipt.tx_hash},
        f"{guardian} is now a guardian of {ward}" + (f" until {format_time(until)}" if until else ""),
    )


@command.command("remove")
@click.argument("guardian", callback=address_value("guardian"))
@click.option("--patient", default=None, callback=address_value("patient"), help="The ward [default: you].")
@connection_options
@pass_app
@guarded
def remove(app: AppContext, guardian: str, patient: str | None) -> None:
    """End a guardianship: from the next block no key-release service releases it a key."""
    from medledger.flows.guardians import remove_guardian
    from medledger.ledger.base import checked_address

    session = app.session()
    ward = checked_address(patient, "patient") if patient else session.address
    receipt = remove_guardian(
        session, checked_address(guardian, "guardian"), patient=None if ward == session.address else ward
    )
    app.output({"patient": ward, "guardian": guardian, "txHash": receipt.tx_hash}, f"removed guardian {guardian}")


@command.command("list")
@click.option("--patient", default=None, callback=address_value("patient"), help="Whose guardians [default: you].")
@index_options
@connection_options
@pass_app
@guarded
def list_(app: AppContext, patient: str | None, db: str | None, no_index: bool) -> None:
    """List everyone ever appointed and whether they are guardians now (appointments from the
    index, status from the contract)."""
    from medledger.ledger.base import checked_address

    ledger = app.ledger(signed=patient is None)
    ward = checked_address(patient, "patient") if patient else app.signer().address
    if no_index:
        events = ledger.events(
            "GuardianAppointed", from_block=app.deployment().contracts["MedLedger"].block, patient=ward
        )
        seen = list(dict.fromkeys(event.args.guardian for event in events))
    else:
        with synced_index(app, db) as index:
            seen = index.guardians(ward)
    rows: list[dict[str, Any]] = []
    for guardian in seen:
        info = ledger.guardians.get(ward, guardian)
        rows.append(
            {
                "guardian": guardian,
                "active": ledger.guardians.is_guardian(ward, guardian),
                "canAppoint": info.can_appoint,
                "until": info.until,
            }
        )
    app.output(
        rows,
        "\n".join(
            f"{r['guardian']}  {'active' if r['active'] else 'inactive'}"
            f"{'  can appoint' if r['canAppoint'] else ''}"
            f"{'  until ' + format_time(r['until']) if r['until'] else ''}"
            for r in rows
        )
        or "no guardians",
    )
