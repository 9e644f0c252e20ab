"""A transaction sent earlier (its hash and nonce journaled) is found again: mined, reverted,
pending, dropped (unknown, nonce unused: it may be sent again) or replaced (unknown, nonce used:
it can never be mined). `on_signed` names it before it is broadcast."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from medledger.chain.accounts import anvil_account
from medledger.chain.connection import Chain, connect
from medledger.chain.errors import TransactionFailedError
from medledger.chain.reverts import RevertDecoder
from medledger.chain.transactions import SentTransaction, TransactionSender, TxPolicy, TxStatus
from medledger.devnet.anvil import AnvilNode

IMPATIENT = TxPolicy(receipt_timeout=0.3, poll_interval=0.05)
ALICE = anvil_account(5)


@pytest.fixture(scope="module")
def unmined_anvil() -> Iterator[AnvilNode]:
    node = AnvilNode(automine=False).start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def node(unmined_anvil: AnvilNode) -> Iterator[AnvilNode]:
    snapshot = unmined_anvil.snapshot()
    try:
        yield unmined_anvil
    finally:
        unmined_anvil.rpc("anvil_dropAllTransactions")
        unmined_anvil.revert(snapshot)


@pytest.fixture
def chain(node: AnvilNode) -> Chain:
    return connect(node.rpc_url)


@pytest.fixture
def sender(chain: Chain) -> TransactionSender:
    return TransactionSender(chain, RevertDecoder([]), IMPATIENT)


EMPTY_CONTRACT = "0x6000"  # init code PUSH1 0: deploys a contract without code


def _left_pending(sender: TransactionSender) -> SentTransaction:
    """Send a transaction that is not mined; return what `on_signed` was told."""
    told: list[SentTransaction] = []
    constructor = sender.chain.w3.eth.contract(abi=[], bytecode=EMPTY_CONTRACT).constructor()
    with pytest.raises(TransactionFailedError, match="still pending"):
        sender.deploy(ALICE, constructor, on_signed=told.append)
    [sent] = told
    return sent


def test_on_signed_names_the_transaction_that_is_then_broadcast(sender: TransactionSender, chain: Chain) -> None:
    sent = _left_pending(sender)

    tx = chain.w3.eth.get_transaction(sent.tx_hash)
    assert (tx["from"], tx["nonce"]) == (sent.sender, sent.nonce) == (ALICE.address, 0)
    assert sent.chain_id == chain.chain_id


def test_a_transaction_in_the_pool_is_pending(sender: TransactionSender) -> None:
    assert sender.status(_left_pending(sender)) is TxStatus.PENDING


def test_a_transaction_in_a_block_is_mined_and_wait_for_returns_its_receipt(
    sender: TransactionSender, node: AnvilNode
) -> None:
    sent = _left_pending(sender)
    node.rpc("evm_mine")

    assert sender.status(sent) is TxStatus.MINED
    assert sender.wait_for(sent.tx_hash).tx_hash == sent.tx_hash


def test_a_transaction_the_node_forgot_whose_nonce_is_unused_is_dropped(
    sender: TransactionSender, node: AnvilNode
) -> None:
    sent = _left_pending(sender)
    node.rpc("anvil_dropTransaction", [sent.tx_hash])

    assert sender.status(sent) is TxStatus.DROPPED


def test_a_transaction_whose_nonce_another_transaction_used_is_replaced(
    sender: TransactionSender, node: AnvilNode
) -> None:
    sent = _left_pending(sender)
    node.rpc("anvil_dropTransaction", [sent.tx_hash])
    with pytest.raises(TransactionFailedError, match="still pending"):
        sender.cancel(ALICE, sent.nonce)
    node.rpc("evm_mine")

    assert sender.status(sent) is TxStatus.REPLACED


def test_cancel_replaces_a_pending_transaction_with_the_same_nonce(
    sender: TransactionSender, node: AnvilNode, chain: Chain
) -> None:
    sent = _left_pending(sender)
    with pytest.raises(TransactionFailedError, match="still pending"):
        sender.cancel(ALICE, sent.nonce)
    node.rpc("evm_mine")

    assert sender.status(sent) is TxStatus.REPLACED
    assert chain.w3.eth.get_transaction_count(ALICE.address, "latest") == sent.nonce + 1


def test_waiting_for_a_transaction_the_node_does_not_know_is_refused(sender: TransactionSender) -> None:
    with pytest.raises(TransactionFailedError, match="is not known to the node"):
        sender.wait_for("0x" + "ab" * 32)


def test_a_transaction_mined_but_failed_is_reverted(sender: TransactionSender, node: AnvilNode, chain: Chain) -> None:
    reverting = {
        "from": ALICE.address,
        "data": "0x60006000fd",
        "gas": 100_000,
        "nonce": 0,  # init code: REVERT
        "chainId": chain.chain_id,
        **sender._fees(),
    }
    tx_hash = chain.w3.eth.send_raw_transaction(ALICE.sign_transaction(reverting))
    node.rpc("evm_mine")

    status = sender.status(
        SentTransaction(tx_hash="0x" + bytes(tx_hash).hex(), sender=ALICE.address, nonce=0, chain_id=chain.chain_id)
    )

    assert status is TxStatus.REVERTED


def test_the_receipt_wait_starts_with_a_short_pause_and_doubles_it_up_to_the_poll_interval(
    chain: Chain, node: AnvilNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = TxPolicy(receipt_timeout=30, poll_interval=0.05, first_poll=0.002)
    sender = TransactionSender(chain, RevertDecoder([]), policy)
    pauses: list[float] = []

    def pause_then_mine_after_six(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 6:
            node.rpc("evm_mine")

    monkeypatch.setattr("medledger.chain.transactions.time.sleep", pause_then_mine_after_six)
    constructor = chain.w3.eth.contract(abi=[], bytecode=EMPTY_CONTRACT).constructor()
    receipt = sender.deploy(ALICE, constructor)

    assert receipt.block_number == 1
    assert pauses == pytest.approx([0.002, 0.004, 0.008, 0.016, 0.032, 0.05])
