"""Syncing: every event, typed rows, ranges as transactions, resuming from the cursor."""

from __future__ import annotations

import json

import pytest

from medledger.flows.audit import patient_history
from medledger.indexer import Indexer, open_store
from tests.indexer.helpers import chain_logs, indexed_logs, story


def test_sync_indexes_every_event_of_the_contract(world, make_indexer):
    story(world)
    indexer = make_indexer()
    report = indexer.sync()
    assert indexed_logs(indexer) == chain_logs(world)
    assert report.events == len(chain_logs(world))
    assert indexer.cursor == world.chain.w3.eth.block_number
    names = {name for _b, _i, name, _a in indexer.iter_events()}
    assert {
        "RoleGranted",
        "ProviderRegistered",
        "ProviderSuspended",
        "ConsentGranted",
        "RecordAdded",
        "AccessLogged",
        "ConsentRevoked",
    } <= names


def test_sync_decodes_events_into_typed_rows_and_keeps_raw_args(world, make_indexer):
    record = story(world)
    a = world.actors
    indexer = make_indexer()
    indexer.sync()
    q = indexer.store.query
    grants = q(
        "SELECT action, patient, grantee, categories, purposes, permissions FROM consent_changes ORDER BY block_number"
    )
    assert grants == [
        ("granted", a.patient.address, a.provider.address, "2", 1, 1),
        ("revoked", a.patient.address, a.provider.address, None, None, None),
    ]
    assert q("SELECT action, digest, author, codec, category FROM record_changes") == [
        ("added", "0x" + record.hex(), a.patient.address, 0x55, 1)
    ]
    assert q("SELECT digest, accessor, purpose FROM access_logs") == [("0x" + record.hex(), a.provider.address, 0)]
    providers = q("SELECT action, account FROM provider_changes WHERE action IN ('registered', 'suspended')")
    assert ("suspended", a.suspended.address) in providers and len(providers) == 4
    (args,) = q("SELECT args FROM events WHERE event = 'ConsentGranted'")[0]
    assert json.loads(args)["grantee"] == a.provider.address


def test_history_matches_the_event_scan_of_flows_audit(world, make_indexer):
    story(world)
    indexer = make_indexer()
    indexer.sync()
    patient = world.actors.patient.address
    expected = patient_history(world.ledger(), patient)
    shared = [entry for entry in indexer.history(patient) if entry.event in {e.event for e in expected}]
    assert [(e.block, e.timestamp, e.tx_hash, e.log_index, e.event, e.actor) for e in shared] == [
        (e.block, e.timestamp, e.tx_hash, e.log_index, e.event, e.actor) for e in expected
    ]
    for mine, theirs in zip(shared, expected, strict=True):
        assert {k: mine.details[k] for k in theirs.details} == theirs.details
    assert [e.event for e in indexer.history(patient)][-2:] == ["AccessLogged", "ConsentRevoked"]


def test_sync_stops_confirmations_blocks_below_the_head(world, make_indexer):
    story(world)
    indexer = make_indexer(confirmations=2)
    indexer.sync()
    assert indexer.cursor == world.chain.w3.eth.block_number - 2


def test_sync_keeps_only_the_hashes_needed_for_reorg_detection(world, make_indexer):
    story(world)
    indexer = make_indexer(batch_size=2, max_reorg_depth=3)
    indexer.sync()
    head = world.chain.w3.eth.block_number
    assert [number for number, _hash in indexer.stored_blocks()] == [head, head - 1, head - 2, head - 3]
    assert indexer.stored_blocks()[0][1] == "0x" + bytes(world.chain.w3.eth.get_block(head)["hash"]).hex()


def test_a_failure_mid_range_commits_nothing_of_that_range_and_a_rerun_completes(world, make_indexer, monkeypatch):
    story(world)
    deployment_block = world.deployment.contracts["MedLedger"].block
    logs = chain_logs(world)
    indexer = make_indexer(batch_size=3)
    first_range_end = deployment_block + 2
    in_second = [log for log in logs if first_range_end < log[0] <= first_range_end + 3]
    assert len(in_second) >= 2, "the second range must hold several events to fail in its middle"
    ranges_written = 0
    original = indexer.store.executemany

    def failing_executemany(sql, rows):
        nonlocal ranges_written
        if sql.startswith("INSERT INTO events"):
            ranges_written += 1
            if ranges_written == 2:  # the second range: write its first event, then fail
                rows = list(rows)
                original(sql, rows[:1])
                raise ConnectionError("injected: the database went away mid-range")
        return original(sql, rows)

    monkeypatch.setattr(indexer.store, "executemany", failing_executemany)
    with pytest.raises(ConnectionError, match="injected"):
        indexer.sync()
    assert indexer.cursor == first_range_end
    assert indexed_logs(indexer) == [log for log in logs if log[0] <= first_range_end]
    assert indexer.store.query("SELECT MAX(number) FROM blocks")[0][0] == first_range_end

    monkeypatch.undo()
    rerun = make_indexer(batch_size=3)
    rerun.sync()
    assert indexed_logs(rerun) == logs
    assert rerun.cursor == world.chain.w3.eth.block_number


def test_a_restarted_indexer_resumes_from_its_cursor_without_duplicates(world, make_indexer):
    a = world.actors
    first = make_indexer()
    first.sync()
    cursor = first.cursor
    first.close()
    story(world)
    second = make_indexer()
    assert second.cursor == cursor
    report = second.sync()
    assert report.from_block == cursor + 1
    assert indexed_logs(second) == chain_logs(world)
    assert second.store.query("SELECT COUNT(*) FROM consent_changes WHERE grantee = ?", (a.provider.address,)) == [(2,)]
    assert second.sync().events == 0  # nothing new: nothing written twice
    assert indexed_logs(second) == chain_logs(world)


def test_open_store_picks_the_engine_from_the_database_string(tmp_path):
    from medledger.indexer import SQLiteStore, StoreError

    store = open_store(tmp_path / "x.sqlite")
    assert isinstance(store, SQLiteStore)
    store.close()
    with pytest.raises(StoreError, match="unsupported database URL"):
        open_store("mysql://localhost/x")


def test_batch_size_must_be_positive(world, tmp_path):
    with pytest.raises(ValueError, match="batch_size"):
        Indexer.from_deployment(world.chain, world.deployment, tmp_path / "i.sqlite", batch_size=0)
