"""History and the accounting of disclosures."""

from __future__ import annotations

from medledger.ledger.emergency import EmergencyReason
from medledger.scopes import Purpose
from medledger.storage.cid import Cid
from tests.indexer.helpers import add_record, grant


def _disclosure_story(world):
    a = world.actors
    grant(world, a.provider, purposes="treatment,research")
    first = add_record(world, "first-lab")
    world.ledger(a.provider).records.log_access(a.patient.address, first, Purpose.TREAT)
    world.chain.increase_time(3600)
    world.ledger(a.provider).records.log_access(a.patient.address, first, Purpose.HRESCH)
    world.ledger(a.provider).emergency.break_glass(a.patient.address, EmergencyReason.UNCONSCIOUS)
    return first


def test_disclosures_account_for_reads_and_break_glass(world, make_indexer):
    a = world.actors
    record = _disclosure_story(world)
    indexer = make_indexer()
    indexer.sync()
    disclosures = indexer.disclosures(a.patient.address)
    assert [(d.kind, d.recipient, d.purpose) for d in disclosures] == [
        ("record-access", a.provider.address, "TREAT"),
        ("record-access", a.provider.address, "HRESCH"),
        ("emergency-access", a.provider.address, "ETREAT"),
    ]
    read = disclosures[0]
    assert read.digest == "0x" + record.hex()
    assert read.category == "labs" and read.author == a.patient.address
    assert read.cid == str(Cid.from_digest(record, 0x55))
    assert disclosures[2].details["reason"] == "unconscious"
    assert disclosures[2].details["sender"] == a.provider.address
    assert all(d.timestamp and d.tx_hash.startswith("0x") for d in disclosures)


def test_disclosures_cover_only_the_requested_period(world, make_indexer):
    a = world.actors
    _disclosure_story(world)
    indexer = make_indexer()
    indexer.sync()
    everything = indexer.disclosures(a.patient.address)
    later = everything[1].timestamp
    assert indexer.disclosures(a.patient.address, since=later) == everything[1:]
    assert indexer.disclosures(a.patient.address, until=later - 1) == everything[:1]
    assert indexer.disclosures(world.actors.other_patient.address) == []


def test_history_names_the_actor_of_each_event(world, make_indexer):
    a = world.actors
    _disclosure_story(world)
    indexer = make_indexer()
    indexer.sync()
    actors = [(e.event, e.actor) for e in indexer.history(a.patient.address)]
    assert actors == [
        ("ConsentGranted", a.patient.address),
        ("RecordAdded", a.patient.address),
        ("AccessLogged", a.provider.address),
        ("AccessLogged", a.provider.address),
        ("EmergencyAccessOpened", a.provider.address),
    ]
    blocks = [(e.block, e.log_index) for e in indexer.history(a.patient.address)]
    assert blocks == sorted(blocks)


def test_no_event_of_a_patients_history_carries_key_material(world, make_indexer):
    _disclosure_story(world)
    indexer = make_indexer()
    indexer.sync()
    for entry in indexer.history(world.actors.patient.address):
        assert not {"envelope", "envelope_bytes", "epoch"} & set(entry.details), entry
