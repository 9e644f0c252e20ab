"""`medledger deploy` records its deployment and, run again, reuses it without sending anything."""

from __future__ import annotations

import json

from .conftest import ADMIN, REGISTRAR, Cli, address


def test_deploy_writes_the_deployment_file_for_the_chain(cli: Cli) -> None:
    deployed = cli.json("deploy", "--registrar", address(REGISTRAR), account=ADMIN)
    assert deployed["reused"] is False
    assert deployed["chainId"] == 31337
    record = json.loads((cli.deployments / "31337.json").read_text())
    assert record["contracts"]["MedLedger"]["address"] == deployed["address"]


def test_deploy_twice_reuses_the_recorded_deployment_and_sends_nothing(cli: Cli) -> None:
    first = cli.json("deploy", "--registrar", address(REGISTRAR), account=ADMIN)
    nonces = cli.nonces()
    again = cli.ok("deploy", "--registrar", address(REGISTRAR), account=ADMIN)
    assert again.stdout.startswith("reusing MedLedger at " + first["address"])
    second = cli.json("deploy", "--registrar", address(REGISTRAR), account=ADMIN)
    assert second["reused"] is True
    assert (second["address"], second["txHash"]) == (first["address"], first["txHash"])
    assert cli.nonces() == nonces


def test_deploy_after_the_chain_was_reset_deploys_afresh_instead_of_claiming_reuse(cli: Cli) -> None:
    before_deploy = cli.anvil.snapshot()
    first = cli.json("deploy", account=ADMIN)
    cli.anvil.revert(before_deploy)  # the chain forgets the contract; the deployments file remembers it
    cli.anvil.rpc("evm_mine")  # a different block, so a fresh deployment has another transaction
    second = cli.json("deploy", account=ADMIN)
    assert second["reused"] is False
    assert second["txHash"] != first["txHash"]
    record = json.loads((cli.deployments / "31337.json").read_text())
    assert record["contracts"]["MedLedger"]["tx_hash"] == second["txHash"]
