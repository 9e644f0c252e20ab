"""The key-release service sets (the ledger's KeyReleaseServices module): indexed beside the ledger."""

from __future__ import annotations

import json
import sqlite3

import pytest
from eth_utils import keccak

from medledger.chain.accounts import Signer
from medledger.indexer import Indexer, IndexerError, open_store
from medledger.scopes import Purpose
from tests.indexer.helpers import add_record, grant


def service(index: int) -> Signer:
    return Signer.from_private_key(keccak(text=f"medledger indexer test service {index}"))


def propose(world, count: int = 3, threshold: int = 2) -> list[Signer]:
    members = [service(i) for i in range(1, count + 1)]
    keys = [keccak(text=f"service key {i}") for i in range(1, count + 1)]
    world.ledger(world.actors.admin).services.propose([m.address for m in members], keys, threshold)
    return members


def test_service_set_proposals_cancellations_and_endpoints_are_indexed(world, anvil, make_indexer):
    members = propose(world)
    admin = world.ledger(world.actors.admin).services
    first = admin.count()
    propose(world, 2, 2)
    admin.cancel(first + 1)
    anvil.rpc("anvil_setBalance", [members[0].address, hex(10**20)])
    world.ledger(members[0]).services.set_endpoint("https://keys.example.org")
    indexer = make_indexer()
    indexer.sync()
    entries = [(e.event, e.details) for e in indexer.service_history() if e.details.get("version", first) >= first]
    assert [name for name, _ in entries] == [
        "ServiceSetProposed",
        "ServiceSetProposed",
        "ServiceSetCancelled",
        "ServiceEndpointSet",
    ]
    proposed = entries[0][1]
    assert proposed["version"] == first and proposed["threshold"] == 2
    assert proposed["members"] == [m.address for m in members]
    assert entries[2][1] == {"version": first + 1, "sender": world.actors.admin.address}
    assert entries[3][1]["service"] == members[0].address and entries[3][1]["url"] == "https://keys.example.org"
    rows = indexer.store.query(
        "SELECT action, version, members, threshold FROM service_changes WHERE version = ?", (first,)
    )
    assert rows == [("proposed", first, json.dumps([m.address for m in members]), 2)]


def test_service_set_events_stay_out_of_a_patients_history(world, make_indexer):
    a = world.actors
    propose(world)
    grant(world, a.provider)
    record = add_record(world, "potassium")
    world.ledger(a.provider).records.log_access(a.patient.address, record, Purpose.TREAT)
    indexer = make_indexer()
    indexer.sync()
    assert [e.event for e in indexer.history(a.patient.address)] == ["ConsentGranted", "RecordAdded", "AccessLogged"]


def test_an_index_of_the_previous_schema_is_refused_with_a_rebuild_hint(world, tmp_path):
    """Schema 1 held envelopes, keyrings and emergency key releases: it is not migrated in place."""
    path = tmp_path / "old.sqlite"
    Indexer.from_deployment(world.chain, world.deployment, open_store(str(path))).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(IndexerError, match="schema version 1 is not 3; rebuild the index in a new database"):
        Indexer.from_deployment(world.chain, world.deployment, open_store(str(path)))
