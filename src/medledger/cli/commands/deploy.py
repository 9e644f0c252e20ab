"""`medledger deploy`: to the embedded chain, a devnet, or any RPC URL; resumable."""

from __future__ import annotations

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

    Re-running after a failure continues from that file instead of deploying twice.
    """
    from medledger.chain.deploy import deploy, deployment_path
    from medledger.ledger import MedLedger
    from medledger.ledger.base import checked_address

    chain = app.chain()
    signer = app.signer()
    admin_address = checked_address(admin, "admin") if admin else None
    directory = app.deployments_dir()
    recorded = _recorded_tx(deployment_path(directory, chain.chain_id))
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
    payload = {"chainId": deployment.chain_id, "address": entry.address, "txHash": entry.tx_hash,
               "block": entry.block, "reused": bool(reused), "registrars": appointed,
               "file": str(deployment_path(directory, chain.chain_id))}
    verb = "reusing" if reused else "deployed"
    app.output(payload, f"{verb} MedLedger at {entry.address} on chain {deployment.chain_id} "
                        f"(block {entry.block}, tx {entry.tx_hash})\nrecorded in {payload['file']}")


def _recorded_tx(path) -> str | None:
    """The MedLedger deployment transaction a deployments file records, if any."""
    import json

    try:
        return json.loads(path.read_text())["contracts"]["MedLedger"]["tx_hash"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
