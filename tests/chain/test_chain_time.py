"""Chain time: `Chain.now()` is the one way medledger reads the time the contracts judge by."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from medledger.chain.connection import Chain, connect
from medledger.devnet.anvil import AnvilNode

TEN_YEARS = 10 * 365 * 86400


@pytest.fixture
def chain(anvil: AnvilNode, anvil_chain: Chain) -> Iterator[Chain]:
    """The session's anvil, restored after the test (these tests mine blocks at chosen times)."""
    snapshot = anvil.snapshot()
    try:
        yield anvil_chain
    finally:
        anvil.revert(snapshot)


def _mine_at(chain: Chain, timestamp: int) -> None:
    chain.w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
    chain.w3.provider.make_request("evm_mine", [])


def test_chain_time_is_the_timestamp_of_the_latest_block(chain: Chain) -> None:
    target = chain.now() + 1_000
    _mine_at(chain, target)

    assert chain.now() == target
    assert chain.now() == chain.w3.eth.get_block("latest")["timestamp"]


def test_chain_time_follows_the_chain_not_this_machines_clock(chain: Chain) -> None:
    future = chain.now() + TEN_YEARS
    _mine_at(chain, future)

    assert chain.now() == future


def test_increase_time_moves_chain_time_forward_on_the_embedded_chain() -> None:
    embedded = connect()
    before = embedded.now()

    embedded.increase_time(3_600)

    assert embedded.now() == before + 3_600


def test_increase_time_moves_chain_time_forward_on_a_node(chain: Chain) -> None:
    before = chain.now()

    chain.increase_time(3_600)

    assert chain.now() >= before + 3_600
