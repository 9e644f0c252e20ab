"""Reorgs, made with anvil snapshots: sync, revert, build a different (longer) branch, sync."""

from __future__ import annotations

import pytest

from medledger.indexer import ReorgTooDeepError
from tests.indexer.helpers import add_record, chain_logs, grant, indexed_logs


def test_a_reorg_removes_the_orphaned_events_and_indexes_the_new_branch(world, anvil, make_indexer):
    a = world.actors
    indexer = make_indexer()
    indexer.sync()
    fork_point = world.chain.w3.eth.block_number + 1
    snapshot = anvil.snapshot()
    grant(world, a.provider)  # the branch that will be orphaned
    add_record(world, "orphan")
    indexer.sync()
    orphaned = indexer.history(a.patient.address)
    assert [e.event for e in orphaned] == ["ConsentGranted", "RecordAdded"]

    anvil.revert(snapshot)
    grant(world, a.researcher, purposes="research")  # the winning branch: different and longer
    add_record(world, "survivor")
    add_record(world, "survivor-2")
    report = indexer.sync()

    assert report.rolled_back_from == fork_point
    assert report.orphaned_events == 2
    assert indexed_logs(indexer) == chain_logs(world)
    history = indexer.history(a.patient.address)
    assert [e.details.get("grantee") for e in history if e.event == "ConsentGranted"] == [a.researcher.address]
    assert {e.tx_hash for e in orphaned}.isdisjoint({e.tx_hash for e in history})
    assert indexer.store.query("SELECT grantee FROM consent_changes") == [(a.researcher.address,)]
    assert indexer.stored_blocks()[0][1] == "0x" + bytes(world.chain.w3.eth.get_block("latest")["hash"]).hex()


def test_a_reorg_to_a_shorter_branch_is_rolled_back_too(world, anvil, make_indexer):
    a = world.actors
    indexer = make_indexer()
    indexer.sync()
    snapshot = anvil.snapshot()
    grant(world, a.provider)
    add_record(world, "one")
    add_record(world, "two")
    indexer.sync()
    anvil.revert(snapshot)
    add_record(world, "other")  # one block where there were three
    indexer.sync()
    assert indexed_logs(indexer) == chain_logs(world)
    assert [e.event for e in indexer.history(a.patient.address)] == ["RecordAdded"]


def test_a_reorg_deeper_than_the_limit_raises_and_changes_nothing(world, anvil, make_indexer):
    a = world.actors
    indexer = make_indexer(max_reorg_depth=2)
    indexer.sync()
    snapshot = anvil.snapshot()
    for label in ("a", "b", "c", "d"):
        add_record(world, label)
    indexer.sync()
    before = (indexer.cursor, indexed_logs(indexer), indexer.stored_blocks())
    anvil.revert(snapshot)
    for label in ("e", "f", "g", "h", "i"):
        add_record(world, label)
    with pytest.raises(ReorgTooDeepError, match="deeper than max_reorg_depth=2"):
        indexer.sync()
    assert (indexer.cursor, indexed_logs(indexer), indexer.stored_blocks()) == before
    assert a.patient.address  # the patient's orphaned records are still there for an operator to inspect


def test_a_reorg_within_the_limit_is_handled_at_exactly_the_limit(world, anvil, make_indexer):
    indexer = make_indexer(max_reorg_depth=3)
    indexer.sync()
    snapshot = anvil.snapshot()
    for label in ("a", "b", "c"):  # three blocks orphaned: exactly the limit
        add_record(world, label)
    indexer.sync()
    anvil.revert(snapshot)
    for label in ("x", "y", "z", "w"):
        add_record(world, label)
    report = indexer.sync()
    assert report.orphaned_events == 3
    assert indexed_logs(indexer) == chain_logs(world)
