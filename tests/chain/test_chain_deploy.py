"""Deployment records in deployments/<chainId>.json: written, reused, refused when they do not fit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medledger.chain.accounts import anvil_account
from medledger.chain.artifacts import load_artifact
from medledger.chain.connection import connect
from medledger.chain.deploy import LEDGER_CONTRACT, deploy, deployment_path, load_deployment, pending_path
from medledger.chain.errors import DeploymentError, TransactionFailedError
from medledger.chain.reverts import RevertDecoder
from medledger.chain.transactions import TransactionSender, TxPolicy
from medledger.devnet.anvil import AnvilNode
from medledger.ledger import MedLedger

OTHER_CHAIN_ID = 1337


@pytest.fixture(scope="module")
def other_anvil():
    """A second anvil serving another chain id."""
    node = AnvilNode(chain_id=OTHER_CHAIN_ID).start()
    try:
        yield node
    finally:
        node.stop()


def _nonce(chain, address: str) -> int:
    return chain.w3.eth.get_transaction_count(address, "pending")


def _record(directory: Path, chain_id: int) -> dict:
    return json.loads(deployment_path(directory, chain_id).read_text())


def _rewrite(directory: Path, chain_id: int, change) -> None:
    path = deployment_path(directory, chain_id)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.fixture
def recorded(world, tmp_path):
    """A fresh deployment recorded in tmp_path/deployments (inside the per-test snapshot)."""
    directory = tmp_path / "deployments"
    deployment = deploy(world.chain, world.actors.admin, directory=directory)
    return directory, deployment


def test_deploy_writes_a_record_named_for_the_chain_id(world, recorded):
    directory, _ = recorded
    assert deployment_path(directory, world.chain.chain_id) == directory / "31337.json"
    assert (directory / "31337.json").is_file()


def test_deploy_record_holds_address_tx_hash_block_and_artifact_digest(world, recorded):
    directory, deployment = recorded
    data = _record(directory, world.chain.chain_id)
    entry = data["contracts"][LEDGER_CONTRACT]
    receipt = world.chain.w3.eth.get_transaction_receipt(entry["tx_hash"])
    assert data["chainId"] == 31337
    assert data["deployer"] == data["admin"] == world.actors.admin.address
    assert entry["address"] == receipt["contractAddress"] == deployment.ledger_address
    assert entry["block"] == receipt["blockNumber"]
    assert entry["gas_used"] == receipt["gasUsed"]
    assert entry["artifact_digest"] == load_artifact(LEDGER_CONTRACT).digest
    assert entry["compiler"] == load_artifact(LEDGER_CONTRACT).compiler


def test_deploy_with_admin_records_and_empowers_that_admin(world, tmp_path):
    a = world.actors
    deployment = deploy(world.chain, a.admin, admin=a.patient.address, directory=tmp_path)
    assert _record(tmp_path, world.chain.chain_id)["admin"] == a.patient.address
    assert MedLedger.from_deployment(world.chain, deployment).providers.is_admin(a.patient.address)


def test_deploying_again_into_the_same_directory_reuses_the_record_without_a_transaction(world, recorded):
    directory, first = recorded
    nonce = _nonce(world.chain, world.actors.admin.address)
    block = world.chain.w3.eth.block_number
    again = deploy(world.chain, world.actors.admin, directory=directory)
    assert again == first
    assert _nonce(world.chain, world.actors.admin.address) == nonce
    assert world.chain.w3.eth.block_number == block


def test_deploy_without_a_directory_always_deploys_anew(world, recorded):
    _, first = recorded
    second = deploy(world.chain, world.actors.admin)
    assert second.ledger_address != first.ledger_address


def test_load_deployment_returns_the_recorded_deployment(world, recorded):
    directory, deployment = recorded
    assert load_deployment(directory, world.chain) == deployment


def test_record_naming_another_chain_id_is_refused_by_deploy(world, recorded):
    directory, _ = recorded
    _rewrite(directory, 31337, lambda data: data.update(chainId=1))
    nonce = _nonce(world.chain, world.actors.admin.address)
    with pytest.raises(DeploymentError, match="records chain 1, but the endpoint serves chain 31337"):
        deploy(world.chain, world.actors.admin, directory=directory)
    assert _nonce(world.chain, world.actors.admin.address) == nonce


def test_record_naming_another_chain_id_is_refused_by_load_deployment(world, recorded):
    directory, _ = recorded
    _rewrite(directory, 31337, lambda data: data.update(chainId=OTHER_CHAIN_ID))
    with pytest.raises(DeploymentError, match=f"records chain {OTHER_CHAIN_ID}"):
        load_deployment(directory, world.chain)


def test_load_deployment_on_a_chain_without_a_record_is_refused(recorded, other_anvil):
    directory, _ = recorded
    other = connect(other_anvil.rpc_url)
    with pytest.raises(DeploymentError, match=f"no deployment for chain {OTHER_CHAIN_ID}"):
        load_deployment(directory, other)


def test_record_copied_to_another_chains_name_is_refused_there(recorded, other_anvil):
    directory, _ = recorded
    deployment_path(directory, OTHER_CHAIN_ID).write_text(deployment_path(directory, 31337).read_text())
    other = connect(other_anvil.rpc_url)
    with pytest.raises(DeploymentError, match=f"records chain 31337, but the endpoint serves chain {OTHER_CHAIN_ID}"):
        load_deployment(directory, other)


def test_record_whose_address_has_no_code_is_redeployed(world, recorded):
    directory, _ = recorded
    empty = "0x000000000000000000000000000000000000dEaD"
    _rewrite(directory, 31337, lambda data: data["contracts"][LEDGER_CONTRACT].update(address=empty))
    nonce = _nonce(world.chain, world.actors.admin.address)
    redeployed = deploy(world.chain, world.actors.admin, directory=directory)
    assert _nonce(world.chain, world.actors.admin.address) == nonce + 1
    assert redeployed.ledger_address != empty
    assert world.chain.w3.eth.get_code(redeployed.ledger_address)
    assert _record(directory, 31337)["contracts"][LEDGER_CONTRACT]["address"] == redeployed.ledger_address


def test_record_from_before_a_chain_reset_is_redeployed(world, anvil, tmp_path):
    directory = tmp_path / "deployments"
    before = anvil.snapshot()
    first = deploy(world.chain, world.actors.admin, directory=directory)
    anvil.revert(before)  # the chain forgets the deployment; the record remains
    assert not world.chain.w3.eth.get_code(first.ledger_address)
    nonce = _nonce(world.chain, world.actors.admin.address)
    redeployed = deploy(world.chain, world.actors.admin, directory=directory)
    assert _nonce(world.chain, world.actors.admin.address) == nonce + 1
    assert world.chain.w3.eth.get_code(redeployed.ledger_address)
    assert load_deployment(directory, world.chain) == redeployed


def test_load_deployment_of_a_record_without_code_is_refused(world, anvil, tmp_path):
    before = anvil.snapshot()
    deploy(world.chain, world.actors.admin, directory=tmp_path)
    anvil.revert(before)
    with pytest.raises(DeploymentError, match=r"no contract code .* deploy again"):
        load_deployment(tmp_path, world.chain)


def test_record_of_another_artifact_build_is_refused_and_told_to_move_the_file_aside(world, recorded):
    directory, _ = recorded
    _rewrite(directory, 31337, lambda data: data["contracts"][LEDGER_CONTRACT].update(artifact_digest="00" * 32))
    nonce = _nonce(world.chain, world.actors.admin.address)
    with pytest.raises(DeploymentError, match="another build") as caught:
        deploy(world.chain, world.actors.admin, directory=directory)
    assert f"move {deployment_path(directory, 31337)} aside" in str(caught.value)
    assert _nonce(world.chain, world.actors.admin.address) == nonce


def test_record_whose_address_holds_other_code_is_refused(world, recorded):
    directory, _ = recorded
    # Another contract lives at the recorded address (a reset chain reused by other deployments).
    other_contract = "0x000000000000000000000000000000000000bEEF"
    world.chain.w3.provider.make_request("anvil_setCode", [other_contract, "0x6000"])
    _rewrite(directory, 31337, lambda data: data["contracts"][LEDGER_CONTRACT].update(address=other_contract))
    with pytest.raises(DeploymentError, match=r"is not the MedLedger recorded .* move that file aside"):
        deploy(world.chain, world.actors.admin, directory=directory)


@pytest.mark.parametrize(
    "content",
    [b"", b"{not json", b'{"chainId": 31337', b"\xff\xfe\x00"],
    ids=["empty", "not-json", "truncated", "binary"],
)
def test_malformed_json_record_is_refused(world, tmp_path, content):
    deployment_path(tmp_path, 31337).write_bytes(content)
    with pytest.raises(DeploymentError, match="is not valid JSON"):
        deploy(world.chain, world.actors.admin, directory=tmp_path)


@pytest.mark.parametrize(
    "change",
    [
        lambda data: data.pop("chainId"),
        lambda data: data.update(chainId="mainnet"),
        lambda data: data.update(contracts={}),
        lambda data: data.update(contracts=[]),
        lambda data: data["contracts"][LEDGER_CONTRACT].pop("address"),
        lambda data: data["contracts"][LEDGER_CONTRACT].update(address="0xnot-an-address"),
        lambda data: data["contracts"][LEDGER_CONTRACT].update(colour="blue"),
    ],
    ids=[
        "no-chain-id",
        "chain-id-not-a-number",
        "no-ledger",
        "contracts-a-list",
        "no-address",
        "bad-address",
        "unknown-field",
    ],
)
def test_malformed_record_is_refused(world, recorded, change):
    directory, _ = recorded
    _rewrite(directory, 31337, change)
    with pytest.raises(DeploymentError, match="malformed deployment record"):
        load_deployment(directory, world.chain)


def test_record_that_is_not_an_object_is_refused(world, tmp_path):
    deployment_path(tmp_path, 31337).write_text("[1, 2, 3]")
    with pytest.raises(DeploymentError, match="malformed deployment record"):
        load_deployment(tmp_path, world.chain)


def test_saved_record_leaves_no_temporary_files(recorded):
    directory, _ = recorded
    assert [p.name for p in directory.iterdir()] == ["31337.json"]


def test_reusing_a_record_with_another_admin_is_refused(world, recorded):
    directory, _ = recorded
    with pytest.raises(DeploymentError, match="administered by"):
        deploy(world.chain, world.actors.admin, admin=world.actors.registrar.address, directory=directory)


def test_the_deployment_record_is_readable_by_everyone(world, recorded):
    directory, _ = recorded
    assert deployment_path(directory, world.chain.chain_id).stat().st_mode & 0o777 == 0o644


# -- a deployment interrupted while it waits for its receipt --------------------------------------


@pytest.fixture(scope="module")
def unmined_anvil():
    """An anvil that mines only when told to (`evm_mine`)."""
    node = AnvilNode(automine=False).start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def stalled(unmined_anvil):
    """The non-mining anvil, its pool emptied and its state restored after the test."""
    snapshot = unmined_anvil.snapshot()
    try:
        yield unmined_anvil, connect(unmined_anvil.rpc_url)
    finally:
        unmined_anvil.rpc("anvil_dropAllTransactions")
        unmined_anvil.revert(snapshot)


IMPATIENT = TxPolicy(receipt_timeout=0.3, poll_interval=0.05)


def _interrupted_deploy(chain, directory: Path) -> dict:
    """Run deploy until it gives up waiting for the receipt; return the pending record it left."""
    with pytest.raises(TransactionFailedError, match="still pending"):
        deploy(chain, anvil_account(0), directory=directory, policy=IMPATIENT)
    return json.loads(pending_path(directory, chain.chain_id).read_text())


def _mined_nonce(chain, address: str) -> int:
    return chain.w3.eth.get_transaction_count(address, "latest")


def test_deploy_records_the_signed_transaction_before_waiting_for_its_receipt(stalled, tmp_path):
    _, chain = stalled
    deployer = anvil_account(0)

    pending = _interrupted_deploy(chain, tmp_path)

    sent = chain.w3.eth.get_transaction(pending["txHash"])
    assert (sent["from"], sent["nonce"]) == (deployer.address, pending["nonce"])
    assert pending["chainId"] == chain.chain_id
    assert pending["deployer"] == pending["admin"] == deployer.address
    assert pending["artifactDigest"] == load_artifact(LEDGER_CONTRACT).digest
    assert not deployment_path(tmp_path, chain.chain_id).exists()


def test_rerun_while_the_deployment_is_still_pending_waits_for_it_and_sends_nothing(stalled, tmp_path):
    _, chain = stalled
    pending = _interrupted_deploy(chain, tmp_path)

    with pytest.raises(TransactionFailedError, match=f"transaction {pending['txHash']} is still pending"):
        deploy(chain, anvil_account(0), directory=tmp_path, policy=IMPATIENT)

    assert _nonce(chain, anvil_account(0).address) == pending["nonce"] + 1  # still one transaction in the pool
    assert json.loads(pending_path(tmp_path, chain.chain_id).read_text()) == pending


def test_rerun_once_the_pending_deployment_is_mined_records_it_and_deploys_exactly_one_contract(stalled, tmp_path):
    node, chain = stalled
    deployer = anvil_account(0)
    pending = _interrupted_deploy(chain, tmp_path)
    node.rpc("evm_mine")

    deployment = deploy(chain, deployer, directory=tmp_path, policy=IMPATIENT)

    assert deployment.contracts[LEDGER_CONTRACT].tx_hash == pending["txHash"]
    assert _mined_nonce(chain, deployer.address) == pending["nonce"] + 1
    assert chain.w3.eth.get_code(deployment.ledger_address)
    assert load_deployment(tmp_path, chain) == deployment
    assert [p.name for p in tmp_path.iterdir()] == [f"{chain.chain_id}.json"]  # the pending record is gone


def test_rerun_after_the_node_dropped_the_deployment_says_so_and_sends_it_again(stalled, tmp_path, caplog):
    node, chain = stalled
    deployer = anvil_account(0)
    pending = _interrupted_deploy(chain, tmp_path)
    node.rpc("anvil_dropTransaction", [pending["txHash"]])
    node.set_automine(True)
    try:
        deployment = deploy(chain, deployer, directory=tmp_path, policy=IMPATIENT)
    finally:
        node.set_automine(False)

    assert f"deployment transaction {pending['txHash']} was dropped by the node; sending a new one" in caplog.text
    assert chain.w3.eth.get_transaction_receipt(deployment.contracts[LEDGER_CONTRACT].tx_hash)["status"] == 1
    assert _mined_nonce(chain, deployer.address) == pending["nonce"] + 1  # one deployment, at the same nonce
    assert not pending_path(tmp_path, chain.chain_id).exists()


def test_rerun_when_the_pending_deployments_nonce_went_to_another_transaction_is_refused(stalled, tmp_path):
    node, chain = stalled
    deployer = anvil_account(0)
    pending = _interrupted_deploy(chain, tmp_path)
    node.rpc("anvil_dropTransaction", [pending["txHash"]])
    sender = TransactionSender(chain, RevertDecoder([]), IMPATIENT)
    with pytest.raises(TransactionFailedError, match="still pending"):
        sender.cancel(deployer, pending["nonce"])  # another transaction takes the nonce...
    node.rpc("evm_mine")  # ...and is mined

    with pytest.raises(DeploymentError, match=f"nonce {pending['nonce']} of {deployer.address} was used by another"):
        deploy(chain, deployer, directory=tmp_path, policy=IMPATIENT)

    assert _nonce(chain, deployer.address) == pending["nonce"] + 1  # nothing sent
    assert not deployment_path(tmp_path, chain.chain_id).exists()


def test_rerun_for_another_admin_while_a_deployment_is_pending_is_refused(stalled, tmp_path):
    _, chain = stalled
    pending = _interrupted_deploy(chain, tmp_path)

    with pytest.raises(DeploymentError, match=f"transaction {pending['txHash']} .* is pending"):
        deploy(chain, anvil_account(0), admin=anvil_account(1).address, directory=tmp_path, policy=IMPATIENT)

    assert _nonce(chain, anvil_account(0).address) == pending["nonce"] + 1
