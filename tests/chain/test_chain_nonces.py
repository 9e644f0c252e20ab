"""Several transactions in flight: `submit` signs each with the next nonce from the chain's
NonceTracker without waiting for the one before; `settle` waits. A nonce the node refuses is
asked again (never a gap), a nonce that may have been broadcast is never handed out again, and
once nothing is in flight the next run asks the node (another program may have sent since)."""

from __future__ import annotations

from typing import Any

import pytest

from medledger.chain.accounts import Signer
from medledger.chain.transactions import NonceTracker, SentTransaction

PUBLIC_KEY = bytes(range(1, 33))


def _key_call(ledger: Any) -> bytes:
    return ledger.keys.codec("setEncryptionKey").encode(PUBLIC_KEY)


def _pending_nonce(world: Any, address: str) -> int:
    return int(world.chain.w3.eth.get_transaction_count(address, "pending"))


def _send_elsewhere(world: Any, signer: Signer, nonce: int) -> None:
    """Another program sends from the same account, with `nonce`."""
    ledger = world.ledger(signer)
    tx = {
        "from": signer.address,
        "to": ledger.address,
        "data": "0x" + _key_call(ledger).hex(),
        "gas": 100_000,
        "nonce": nonce,
        "chainId": world.chain.chain_id,
        **ledger.sender._fees(),
    }
    world.chain.w3.eth.send_raw_transaction(signer.sign_transaction(tx))


def test_submitted_transactions_are_in_flight_together_with_consecutive_nonces(world, anvil) -> None:  # type: ignore[no-untyped-def]
    signer = world.actors.patient
    ledger = world.ledger(signer)
    first = _pending_nonce(world, signer.address)
    anvil.set_automine(False)
    try:
        pending = [ledger.sender.submit(signer, ledger.address, _key_call(ledger), gas_limit=100_000) for _ in range(3)]
        assert [p.sent.nonce for p in pending] == [first, first + 1, first + 2]
        assert int(str(anvil.rpc("txpool_status")["pending"]), 16) == 3  # type: ignore[index]
        anvil.rpc("evm_mine")
    finally:
        anvil.set_automine(True)

    receipts = [ledger.sender.settle(p) for p in pending]

    assert len({receipt.block_number for receipt in receipts}) == 1
    assert ledger.sender.nonces.in_flight(signer.address) == 0


def test_a_nonce_the_node_refuses_is_asked_again_and_signed_once_more(world) -> None:  # type: ignore[no-untyped-def]
    signer = world.actors.patient
    ledger = world.ledger(signer)
    held = ledger.sender.submit(signer, ledger.address, _key_call(ledger), gas_limit=100_000)  # one in flight
    _send_elsewhere(world, signer, held.sent.nonce + 1)  # takes the nonce the tracker would hand out next
    signed: list[SentTransaction] = []

    pending = ledger.sender.submit(
        signer, ledger.address, _key_call(ledger), gas_limit=100_000, on_signed=signed.append
    )

    assert [s.nonce for s in signed] == [held.sent.nonce + 1, held.sent.nonce + 2]
    assert pending.sent == signed[-1]
    ledger.sender.settle(held)
    assert ledger.sender.settle(pending).tx_hash == signed[-1].tx_hash
    assert world.chain.w3.eth.get_transaction_count(signer.address, "latest") == held.sent.nonce + 3


def test_once_nothing_is_in_flight_the_next_transaction_asks_the_node(world) -> None:  # type: ignore[no-untyped-def]
    signer = world.actors.patient
    ledger = world.ledger(signer)
    ledger.sender.settle(ledger.sender.submit(signer, ledger.address, _key_call(ledger), gas_limit=100_000))
    elsewhere = _pending_nonce(world, signer.address)
    _send_elsewhere(world, signer, elsewhere)
    signed: list[SentTransaction] = []

    ledger.sender.settle(
        ledger.sender.submit(signer, ledger.address, _key_call(ledger), gas_limit=100_000, on_signed=signed.append)
    )

    assert [s.nonce for s in signed] == [elsewhere + 1]  # no refused first attempt


def test_a_refusal_before_signing_takes_no_nonce(world) -> None:  # type: ignore[no-untyped-def]
    stranger = world.actors.stranger
    ledger = world.ledger(stranger)
    nonce = _pending_nonce(world, stranger.address)
    add = ledger.records.codec("addRecord").encode(world.actors.patient.address, b"\x01" * 32, 0x55, 1, b"\x00" * 32)

    with pytest.raises(Exception, match="NotAuthorized"):
        ledger.sender.submit(stranger, ledger.address, add, gas_limit=200_000)

    assert ledger.sender.nonces.in_flight(stranger.address) == 0
    assert _pending_nonce(world, stranger.address) == nonce


class _Node:
    """Just enough of a chain for the tracker: a pending count the test sets."""

    def __init__(self, count: int):
        self.count = count
        self.w3 = self
        self.eth = self

    def get_transaction_count(self, address: str, block: str) -> int:
        return self.count


ADDRESS = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


def test_a_nonce_whose_broadcast_went_unanswered_is_never_handed_out_again() -> None:
    node = _Node(5)
    tracker = NonceTracker(node)  # type: ignore[arg-type]
    assert tracker.take(ADDRESS) == 5

    tracker.uncertain(ADDRESS, 5)  # no answer: the node may hold it, though it counts 5 still
    tracker.done(ADDRESS)

    assert tracker.take(ADDRESS) == 6


def test_while_transactions_are_in_flight_nonces_count_up_locally() -> None:
    node = _Node(7)
    tracker = NonceTracker(node)  # type: ignore[arg-type]
    assert [tracker.take(ADDRESS) for _ in range(3)] == [7, 8, 9]  # the node still says 7
    for _ in range(3):
        tracker.done(ADDRESS)
    node.count = 12  # meanwhile another program sent

    assert tracker.take(ADDRESS) == 12


def test_a_refused_nonce_is_asked_of_the_node_again_even_with_others_in_flight() -> None:
    node = _Node(3)
    tracker = NonceTracker(node)  # type: ignore[arg-type]
    assert [tracker.take(ADDRESS), tracker.take(ADDRESS)] == [3, 4]
    node.count = 4  # the node holds 3 only: 4 was refused

    tracker.refused(ADDRESS)
    tracker.done(ADDRESS)

    assert tracker.take(ADDRESS) == 4
