"""A database belongs to one chain, contract and deployment."""

from __future__ import annotations

import pytest

from medledger.chain.connection import Chain
from medledger.indexer import Indexer, IndexerChainMismatchError, open_store


def _state(indexer: Indexer):
    return (indexer.store.query("SELECT key, value FROM meta ORDER BY key"), indexer.event_count())


def test_a_database_of_another_contract_is_refused_and_left_unchanged(world, database, make_indexer):
    indexer = make_indexer()
    indexer.sync()
    before = _state(indexer)
    block = world.deployment.contracts["MedLedger"].block
    with pytest.raises(IndexerChainMismatchError, match="contract"):
        Indexer(world.chain, world.actors.stranger.address, open_store(database), deployment_block=block)
    assert _state(indexer) == before


def test_a_database_of_another_chain_is_refused_and_left_unchanged(world, database, make_indexer):
    indexer = make_indexer()
    indexer.sync()
    before = _state(indexer)
    other_chain = Chain(world.chain.w3, "http://elsewhere", 11155111)  # same node, claims Sepolia's id
    entry = world.deployment.contracts["MedLedger"]
    with pytest.raises(IndexerChainMismatchError, match="chain 31337"):
        Indexer(other_chain, entry.address, open_store(database), deployment_block=entry.block)
    assert _state(indexer) == before


def test_a_database_of_another_deployment_block_is_refused(world, database, make_indexer):
    indexer = make_indexer()
    indexer.sync()
    entry = world.deployment.contracts["MedLedger"]
    with pytest.raises(IndexerChainMismatchError, match="deployment_block differs"):
        Indexer(world.chain, entry.address, open_store(database), deployment_block=entry.block + 1)


def test_a_chain_without_the_deployment_block_is_refused(world, database):
    entry = world.deployment.contracts["MedLedger"]
    with pytest.raises(IndexerChainMismatchError, match="has no block"):
        Indexer(world.chain, entry.address, open_store(database), deployment_block=10**9)
