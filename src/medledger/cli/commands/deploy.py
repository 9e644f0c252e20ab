"""`medledger deploy`: to the embedded chain, a devnet, or any RPC URL; resumable."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import click

from medledger.cli.context import AppContext, connection_options, guarded, pass_app


@click.command("deploy")
@click.option("--admin", default=None, help="Address to hold the admin role [default: the deployer].")
@click.option("--registrar", "registrars", multiple=True, help="Also appoint this registrar (repeatable).")
@connection_options
@pass_app
@guarded
def command(app: AppContext, admin: str | None, registrars: tuple[str, ...]) -> None:
    """Deploy MedLedger and record it in deployments/<chainId>.json.

    Re-running after a failure continues from that file instead of deploying twice; re-running
    after an interruption waits for the deployment transaction already sent.
    """
    from medledger.chain.deploy import deploy, deployment_path, load_pending
    from medledger.ledger import MedLedger
    from medledger.ledger.base import checked_address

    chain = app.chain()
    signer = app.signer()
    admin_address = checked_address(admin, "admin") if admin else None
    directory = app.deployments_dir()
    recorded = _recorded_tx(deployment_path(directory, chain.chain_id))
    pending = load_pending(directory, chain.chain_id)
    with _warnings_to_stderr("medledger.chain.deploy"):
        deployment = deploy(chain, signer, admin=admin_address, directory=directory, policy=app.policy())
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
