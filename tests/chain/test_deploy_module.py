"""Modules beside the ledger: `deploy_module` records them in the ledger's deployment record, reuses
them on a repeated run, refuses other settings, and finishes a deployment an interrupted run left
pending instead of sending a second one. SettlementToken stands in for any shipped module."""

from __future__ import annotations

import json

import pytest

from medledger.chain.artifacts import load_artifact
from medledger.chain.deploy import (
    LEDGER_CONTRACT,
    PendingDeployment,
    deploy_module,
    deployment_path,
    load_deployment,
    pending_path,
    save_deployment,
)
from medledger.chain.errors import DeploymentError
from medledger.chain.reverts import RevertDecoder
from medledger.chain.transactions import TransactionSender

TOKEN = "SettlementToken"
SETTINGS = ["Test Dollar", "TUSD", 6]


@pytest.fixture
def directory(world, tmp_path):
    save_deployment(tmp_path, world.deployment)
    return tmp_path


def _nonce(world) -> int:
    return world.chain.w3.eth.get_transaction_count(world.actors.admin.address)


def test_a_module_is_recorded_beside_the_ledger_with_its_settings(world, directory):
    deployment = deploy_module(world.chain, world.actors.admin, directory, TOKEN, SETTINGS)
    entry = deployment.module(TOKEN)
    assert world.chain.w3.eth.get_code(entry.address)
    assert entry.arguments == SETTINGS
    assert entry.artifact_digest == load_artifact(TOKEN).digest
    on_disk = load_deployment(directory, world.chain)
    assert on_disk.module(TOKEN) == entry
    assert on_disk.ledger_address == world.deployment.ledger_address


def test_a_repeated_run_reuses_the_module_and_sends_nothing(world, directory):
    first = deploy_module(world.chain, world.actors.admin, directory, TOKEN, SETTINGS)
    nonce = _nonce(world)
    again = deploy_module(world.chain, world.actors.admin, directory, TOKEN, SETTINGS)
    assert again.module(TOKEN) == first.module(TOKEN)
    assert _nonce(world) == nonce


def test_other_settings_for_a_deployed_module_are_refused_and_the_record_kept(world, directory):
    deploy_module(world.chain, world.actors.admin, directory, TOKEN, SETTINGS)
    before = deployment_path(directory, world.chain.chain_id).read_text()
    with pytest.raises(DeploymentError, match="settings never change"):
        deploy_module(world.chain, world.actors.admin, directory, TOKEN, ["Other", "OTH", 18])
    assert deployment_path(directory, world.chain.chain_id).read_text() == before


def test_a_missing_module_is_named(world):
    with pytest.raises(DeploymentError, match="has no Claims contract"):
        world.deployment.module("Claims")


def test_only_shipped_contracts_deploy_as_modules(world, directory):
    with pytest.raises(DeploymentError, match="no contract named 'Nope'"):
        deploy_module(world.chain, world.actors.admin, directory, "Nope", [])
    with pytest.raises(DeploymentError, match="deployed by `deploy`"):
        deploy_module(world.chain, world.actors.admin, directory, LEDGER_CONTRACT, [])


def test_a_module_deployment_left_pending_is_adopted_not_sent_again(world, directory):
    """A run that signed and broadcast the deployment, then died before recording it: the next
    run finds the pending transaction and records its contract."""
    artifact = load_artifact(TOKEN)
    path = pending_path(directory, world.chain.chain_id, TOKEN)

    def crash_after_signing(sent):
        pending = PendingDeployment(
            sent.chain_id, sent.tx_hash, sent.nonce, sent.sender, sent.sender, artifact.digest, SETTINGS
        )
        path.write_text(json.dumps(pending.to_json()))

    sender = TransactionSender(world.chain, RevertDecoder(artifact.abi), on_signed=crash_after_signing)
    factory = world.chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    orphan = sender.deploy(world.actors.admin, factory.constructor(*SETTINGS))
    nonce = _nonce(world)

    deployment = deploy_module(world.chain, world.actors.admin, directory, TOKEN, SETTINGS)
    assert deployment.module(TOKEN).address == orphan.raw["contractAddress"]
    assert deployment.module(TOKEN).tx_hash == orphan.tx_hash
    assert _nonce(world) == nonce
    assert not path.exists()


def test_a_pending_deployment_with_other_settings_is_refused(world, directory):
    path = pending_path(directory, world.chain.chain_id, TOKEN)
    artifact = load_artifact(TOKEN)
    pending = PendingDeployment(
        world.chain.chain_id,
        "0x" + "11" * 32,
        999,
        world.actors.admin.address,
        world.actors.admin.address,
        artifact.digest,
        ["Other", "OTH", 18],
    )
    path.write_text(json.dumps(pending.to_json()))
    with pytest.raises(DeploymentError, match="is pending"):
        deploy_module(world.chain, world.actors.admin, directory, TOKEN, SETTINGS)
    assert path.exists()
