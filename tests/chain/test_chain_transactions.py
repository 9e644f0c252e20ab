"""Sending transactions: funds, chains, pending and mined-but-failed transactions, confirmations, connections."""

from __future__ import annotations

import dataclasses
import http.server
import threading
import time
from collections.abc import Iterator

import pytest
from eth_account import Account

from medledger.chain.accounts import Signer, anvil_account
from medledger.chain.connection import connect
from medledger.chain.deploy import deploy
from medledger.chain.errors import (
    ConnectionFailedError,
    ContractRevertError,
    InsufficientFundsError,
    TransactionFailedError,
    WrongChainError,
    revert_class,
)
from medledger.chain.transactions import FeeSettingsError, TxPolicy
from medledger.devnet.anvil import AnvilNode
from medledger.devnet.ports import free_loopback_port
from medledger.ledger import MedLedger
from medledger.scopes import Category

from .helpers import CODEC_RAW, random_digest

PUBLIC_KEY = bytes(range(1, 33))


def _fresh_signer() -> Signer:
    return Signer.from_private_key(Account.create().key)


def _pending_nonce(chain, address: str) -> int:
    return chain.w3.eth.get_transaction_count(address, "pending")


# -- funds ----------------------------------------------------------------------------------------


def test_unfunded_account_sending_raises_insufficient_funds_naming_the_account(world):
    pauper = _fresh_signer()
    with pytest.raises(InsufficientFundsError) as caught:
        world.ledger(pauper).keys.publish(PUBLIC_KEY)
    assert pauper.address in str(caught.value)
    assert "fund it" in str(caught.value)


def test_unfunded_account_sends_nothing(world):
    pauper = _fresh_signer()
    block = world.chain.w3.eth.block_number
    with pytest.raises(InsufficientFundsError):
        world.ledger(pauper).keys.publish(PUBLIC_KEY)
    assert _pending_nonce(world.chain, pauper.address) == 0
    assert world.chain.w3.eth.block_number == block


def test_unfunded_account_deploying_raises_insufficient_funds_naming_the_account(world):
    pauper = _fresh_signer()
    with pytest.raises(InsufficientFundsError, match=pauper.address):
        deploy(world.chain, pauper)
    assert _pending_nonce(world.chain, pauper.address) == 0


def test_account_funded_for_less_than_the_fee_cap_is_refused_before_sending(world, anvil):
    poor = _fresh_signer()
    anvil.rpc("anvil_setBalance", [poor.address, hex(1000)])
    with pytest.raises(InsufficientFundsError, match=f"account {poor.address} holds 0.000000000000001 ETH"):
        world.ledger(poor).keys.publish(PUBLIC_KEY)
    assert _pending_nonce(world.chain, poor.address) == 0


# -- chains ---------------------------------------------------------------------------------------


def test_require_chain_id_of_another_chain_raises_wrong_chain(anvil_chain):
    with pytest.raises(WrongChainError, match="serves chain 31337, expected chain 1") as caught:
        anvil_chain.require_chain_id(1)
    assert anvil_chain.endpoint in str(caught.value)


def test_require_chain_id_of_the_served_chain_passes(anvil_chain):
    anvil_chain.require_chain_id(31337)


def test_ledger_from_a_deployment_on_another_chain_raises_wrong_chain(world):
    elsewhere = dataclasses.replace(world.deployment, chain_id=11155111)
    with pytest.raises(WrongChainError, match="expected chain 11155111"):
        MedLedger.from_deployment(world.chain, elsewhere, signer=world.actors.patient)


def test_funding_from_a_faucet_is_refused_on_a_real_node(anvil_chain):
    with pytest.raises(WrongChainError, match="only possible on the embedded chain"):
        anvil_chain.fund(anvil_account(9).address, 1)


# -- connections ----------------------------------------------------------------------------------


def test_connecting_to_a_port_nobody_listens_on_names_the_url():
    url = f"http://127.0.0.1:{free_loopback_port()}"
    with pytest.raises(ConnectionFailedError) as caught:
        connect(url, timeout=2)
    assert url in str(caught.value)


@pytest.mark.parametrize("endpoint", ["ftp://x", "ws://127.0.0.1:8545", "127.0.0.1:8545", ""])
def test_connecting_to_a_non_http_endpoint_raises_connection_failed(endpoint):
    with pytest.raises(ConnectionFailedError, match="is not an http"):
        connect(endpoint)


class _WebPage(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = b"<html><body>Welcome to our clinic</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def not_an_rpc_server() -> Iterator[str]:
    """An HTTP server on loopback that answers every request with a web page, not JSON-RPC."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _WebPage)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_connecting_to_a_server_that_is_not_an_rpc_node_names_the_url(not_an_rpc_server):
    with pytest.raises(ConnectionFailedError, match=not_an_rpc_server):
        connect(not_an_rpc_server, timeout=2)


# -- pending, confirmed and failed transactions --------------------------------------------------


@pytest.fixture(scope="module")
def manual_anvil() -> Iterator[tuple[AnvilNode, MedLedger]]:
    """An anvil that mines only on demand, with MedLedger deployed on it."""
    node = AnvilNode(automine=False).start()
    try:
        node.set_automine(True)
        chain = connect(node.rpc_url)
        deployment = deploy(chain, anvil_account(0))
        node.set_automine(False)
        yield node, MedLedger.from_deployment(chain, deployment, policy=TxPolicy(receipt_timeout=1, poll_interval=0.05))
    finally:
        node.stop()


def test_unmined_transaction_raises_transaction_failed_saying_it_is_still_pending(manual_anvil):
    _, ledger = manual_anvil
    signer = anvil_account(1)
    with pytest.raises(TransactionFailedError, match=r"transaction 0x[0-9a-f]{64} is still pending after 1 s"):
        ledger.as_signer(signer).keys.publish(PUBLIC_KEY)


def test_still_pending_transaction_stays_in_the_pool(manual_anvil):
    node, ledger = manual_anvil
    signer = anvil_account(2)
    nonce = _pending_nonce(ledger.chain, signer.address)
    with pytest.raises(TransactionFailedError, match="still pending") as caught:
        ledger.as_signer(signer).keys.publish(PUBLIC_KEY)
    tx_hash = str(caught.value).split()[1]
    assert ledger.chain.w3.eth.get_transaction(tx_hash)["nonce"] == nonce
    node.rpc("evm_mine")
    assert ledger.chain.w3.eth.get_transaction_receipt(tx_hash)["status"] == 1


@pytest.fixture(scope="module")
def interval_anvil() -> Iterator[MedLedger]:
    """An anvil that mines a block every half second, with MedLedger deployed on it."""
    node = AnvilNode(block_time=0.5).start()
    try:
        chain = connect(node.rpc_url)
        deployment = deploy(chain, anvil_account(0), policy=TxPolicy(poll_interval=0.05))
        yield MedLedger.from_deployment(chain, deployment)
    finally:
        node.stop()


def test_send_waits_for_the_requested_confirmations(interval_anvil):
    ledger = MedLedger(
        interval_anvil.chain,
        interval_anvil.address,
        signer=anvil_account(3),
        policy=TxPolicy(confirmations=3, poll_interval=0.05, receipt_timeout=10),
    )
    receipt = ledger.keys.publish(PUBLIC_KEY)
    assert ledger.chain.w3.eth.block_number - receipt.block_number + 1 >= 3
    assert ledger.keys.encryption_key_of(anvil_account(3).address) == PUBLIC_KEY


def test_receipt_names_the_transaction_hash_with_0x(world):
    receipt = world.ledger(world.actors.patient).keys.publish(PUBLIC_KEY)
    assert receipt.tx_hash.startswith("0x") and len(receipt.tx_hash) == 66
    assert world.chain.w3.eth.get_transaction(receipt.tx_hash)["from"] == world.actors.patient.address


def _send_without_estimation(ledger: MedLedger, signer: Signer, function, gas: int = 300_000):
    """Sign and send `function` with an explicit gas limit, so the node mines it even if it reverts."""
    chain = ledger.chain
    built = function.build_transaction(
        {
            "from": signer.address,
            "gas": gas,
            "chainId": chain.chain_id,
            "nonce": _pending_nonce(chain, signer.address),
            **ledger.sender._fees(),
        }
    )
    return chain.w3.eth.send_raw_transaction(signer.sign_transaction(built)), built


def test_mined_but_reverted_transaction_is_decoded_to_its_custom_error(world):
    a = world.actors
    ledger = world.ledger(a.stranger)
    function = ledger.contract.functions.addRecord(
        a.patient.address, random_digest(), CODEC_RAW, Category.LABS, b"\x00" * 32
    )
    tx_hash, built = _send_without_estimation(ledger, a.stranger, function)
    # mined, failed (waited for: on a loaded machine the node may answer the send before the receipt exists)
    assert world.chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)["status"] == 0
    with pytest.raises(revert_class("NotAuthorized")) as caught:
        ledger.sender._wait(tx_hash, built)
    assert caught.value.error == "NotAuthorized"
    assert caught.value.arguments == {"account": a.stranger.address}


def test_refusal_found_by_estimation_is_decoded_and_nothing_is_sent(world):
    a = world.actors
    nonce = _pending_nonce(world.chain, a.stranger.address)
    with pytest.raises(ContractRevertError) as caught:
        world.ledger(a.stranger).records.add(a.patient.address, random_digest(), CODEC_RAW, Category.LABS)
    assert caught.value.error == "NotAuthorized"
    assert _pending_nonce(world.chain, a.stranger.address) == nonce


def test_node_refusing_a_stale_nonce_is_reported_as_a_nonce_problem(world):
    a = world.actors
    ledger = world.ledger(a.patient)
    ledger.keys.publish(PUBLIC_KEY)  # nonce 0 is now used
    function = ledger.contract.functions.setEncryptionKey(PUBLIC_KEY)
    built = function.build_transaction(
        {"from": a.patient.address, "gas": 100_000, "chainId": 31337, "nonce": 0, **ledger.sender._fees()}
    )
    with pytest.raises(Exception) as raw:
        world.chain.w3.eth.send_raw_transaction(a.patient.sign_transaction(built))
    refusal = ledger.sender._refusal(raw.value, a.patient.address)
    assert isinstance(refusal, TransactionFailedError)
    assert f"nonce problem for {a.patient.address}" in str(refusal)


def test_waiting_for_confirmations_on_a_stalled_chain_gives_up(manual_anvil):
    _, ledger = manual_anvil
    sender = MedLedger(
        ledger.chain, ledger.address, policy=TxPolicy(confirmations=2, receipt_timeout=0.5, poll_interval=0.05)
    ).sender
    started = time.monotonic()
    with pytest.raises(TransactionFailedError, match="did not reach 2 confirmations"):
        sender._await_confirmations(ledger.chain.w3.eth.block_number)
    assert time.monotonic() - started < 5


# -- fees -----------------------------------------------------------------------------------------


def test_policy_refuses_a_priority_fee_above_the_max_fee():
    with pytest.raises(FeeSettingsError, match=r"priority fee \(2 gwei per gas\) is above the max fee"):
        TxPolicy(max_fee_per_gas=10**9, max_priority_fee_per_gas=2 * 10**9)


def test_policy_refuses_a_priority_fee_on_a_legacy_transaction():
    with pytest.raises(FeeSettingsError, match="legacy transaction has no priority fee"):
        TxPolicy(legacy=True, max_priority_fee_per_gas=10**9)


def test_send_with_fixed_fees_sends_an_eip1559_transaction_with_exactly_those_fees(world):
    policy = TxPolicy(max_fee_per_gas=7 * 10**9, max_priority_fee_per_gas=15 * 10**8)
    ledger = MedLedger.from_deployment(world.chain, world.deployment, signer=world.actors.patient, policy=policy)
    tx = world.chain.w3.eth.get_transaction(ledger.keys.publish(PUBLIC_KEY).tx_hash)
    assert (tx["type"], tx["maxFeePerGas"], tx["maxPriorityFeePerGas"]) == (2, 7 * 10**9, 15 * 10**8)


def test_send_with_only_a_max_fee_keeps_the_priority_fee_within_it(world):
    policy = TxPolicy(max_fee_per_gas=world.chain.w3.eth.get_block("latest")["baseFeePerGas"] + 1)
    ledger = MedLedger.from_deployment(world.chain, world.deployment, signer=world.actors.patient, policy=policy)
    tx = world.chain.w3.eth.get_transaction(ledger.keys.publish(PUBLIC_KEY).tx_hash)
    assert tx["maxFeePerGas"] == policy.max_fee_per_gas
    assert tx["maxPriorityFeePerGas"] <= tx["maxFeePerGas"]


def test_legacy_policy_sends_a_type0_transaction_at_the_given_gas_price(world):
    policy = TxPolicy(legacy=True, max_fee_per_gas=9 * 10**9)
    ledger = MedLedger.from_deployment(world.chain, world.deployment, signer=world.actors.patient, policy=policy)
    tx = world.chain.w3.eth.get_transaction(ledger.keys.publish(PUBLIC_KEY).tx_hash)
    assert (tx["type"], tx["gasPrice"]) == (0, 9 * 10**9)
    assert "maxFeePerGas" not in tx


def test_legacy_policy_without_a_price_pays_the_nodes_gas_price(world):
    expected = world.chain.w3.eth.gas_price
    ledger = MedLedger.from_deployment(
        world.chain, world.deployment, signer=world.actors.patient, policy=TxPolicy(legacy=True)
    )
    tx = world.chain.w3.eth.get_transaction(ledger.keys.publish(PUBLIC_KEY).tx_hash)
    assert (tx["type"], tx["gasPrice"]) == (0, expected)
