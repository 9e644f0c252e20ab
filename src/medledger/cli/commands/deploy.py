"""`medledger deploy`: to the embedded chain, a devnet, or any RPC URL; resumable."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import click

from medledger.cli.context import AppContext, connection_options, guarded, pass_app

_DURATION = re.compile(r"^(\d+)\s*([smhdwy])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def _seconds(text: str, option: str) -> int:
    """`90s`, `15m`, `1h`, `2d`, `1w`, `5y` as seconds (a year is 365 days, as the contract counts);
    parsed in the command, so a bad value is one error line, not a usage block."""
    match = _DURATION.match(text.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise click.BadParameter(
            f"{text!r} is not a positive duration such as 90s, 15m, 1h, 2d, 1w or 5y", param_hint=option
        )
    return int(match.group(1)) * _SECONDS[match.group(2)]


@click.command("deploy")
@click.option("--admin", default=None, help="Address to hold the admin role, e.g. a Safe [default: the deployer].")
@click.option("--registrar", "registrars", multiple=True, help="Also appoint this registrar (repeatable).")
@click.option(
    "--admin-delay",
    default="2d",
    show_default=True,
    help="Wait before an admin transfer or a new key-release service set takes effect (1s..30d).",
)
@click.option("--max-consent", default="5y", show_default=True, help="Longest consent a grant may give.")
@click.option("--max-guardian-term", default="21y", show_default=True, help="Longest guardianship.")
@click.option(
    "--emergency-window",
    default="1d",
    show_default=True,
    help="How long break-glass stays open (<= 7d).",
)
@click.option(
    "--emergency-cooldown",
    default="1h",
    show_default=True,
    help="After a patient or guardian closes break-glass, before the provider may open it again (<= 30d).",
)
@connection_options
@pass_app
@guarded
def command(
    app: AppContext,
    admin: str | None,
    registrars: tuple[str, ...],
    admin_delay: str,
    max_consent: str,
    max_guardian_term: str,
    emergency_window: str,
    emergency_cooldown: str,
) -> None:
    """Deploy MedLedger and record it in deployments/<chainId>.json.

    Re-running after a failure continues from that file instead of deploying twice; re-running
    after an interruption waits for the deployment transaction already sent. The settings are
    fixed for the deployment's life.
    """
    from medledger.chain.deploy import EmergencyPolicy, LedgerSettings, deploy, deployment_path, load_pending
    from medledger.ledger import MedLedger
    from medledger.ledger.base import checked_address

    chain = app.chain()
    signer = app.signer()
    admin_address = checked_address(admin, "admin") if admin else None
    if registrars and admin_address and admin_address != signer.address:
        raise click.BadParameter(
            f"only the admin appoints registrars, and the admin will be {admin_address}, not the deployer; "
            "appoint them from the admin account after deploying",
            param_hint="--registrar",
        )
    settings = LedgerSettings(
        admin_delay_seconds=_seconds(admin_delay, "--admin-delay"),
        emergency=EmergencyPolicy(
            window_seconds=_seconds(emergency_window, "--emergency-window"),
            cooldown_seconds=_seconds(emergency_cooldown, "--emergency-cooldown"),
        ),
        max_consent_seconds=_seconds(max_consent, "--max-consent"),
        max_guardian_term_seconds=_seconds(max_guardian_term, "--max-guardian-term"),
    )
    directory = app.deployments_dir()
    recorded = _recorded_tx(deployment_path(directory, chain.chain_id))
    pending = load_pending(directory, chain.chain_id)
    with _warnings_to_stderr("medledger.chain.deploy"):
        deployment = deploy(
            chain, signer, admin=admin_address, directory=directory, policy=app.policy(), settings=settings
        )
    ledger = MedLedger.from_deployment(chain, deployment, signer=signer, policy=app.policy())
    appointed = []
    for registrar in registrars:
        if not ledger.providers.is_registrar(registrar):
            ledger.providers.add_registrar(registrar)
        appointed.append(checked_address(registrar))
    entry = deployment.contracts["MedLedger"]
    # Reused only if the recorded deployment was kept (not redeployed after a chain reset).
    reused = recorded is not None and entry.tx_hash == recorded and deployment.chain_id == chain.chain_id
    # Resumed: the transaction an interrupted run sent is the one that deployed it.
    resumed = not reused and pending is not None and entry.tx_hash == pending.tx_hash
    payload = {
        "chainId": deployment.chain_id,
        "address": entry.address,
        "txHash": entry.tx_hash,
        "block": entry.block,
        "reused": bool(reused),
        "resumed": resumed,
        "registrars": appointed,
        "file": str(deployment_path(directory, chain.chain_id)),
    }
    verb = "reusing" if reused else "finished the interrupted deployment of" if resumed else "deployed"
    app.output(
        payload,
        f"{verb} MedLedger at {entry.address} on chain {deployment.chain_id} "
        f"(block {entry.block}, tx {entry.tx_hash})\nrecorded in {payload['file']}",
    )


@contextlib.contextmanager
def _warnings_to_stderr(logger_name: str) -> Iterator[None]:
    """Show the library's warnings (e.g. a dropped deployment sent again) as `warning:` lines."""

    class Echo(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            click.echo(f"warning: {record.getMessage()}", err=True)

    logger = logging.getLogger(logger_name)
    handler = Echo(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def _recorded_tx(path: Path) -> str | None:
    """The MedLedger deployment transaction a deployments file records, if any."""
    import json

    try:
        return json.loads(path.read_text())["contracts"]["MedLedger"]["tx_hash"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
