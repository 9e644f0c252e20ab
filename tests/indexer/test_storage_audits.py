"""The storage audits' read model, on SQLite and PostgreSQL: registered records in chain order
with their erased flag, the last audit per record, the run checkpoint, and the migration of a
schema 2 database."""

from __future__ import annotations

from medledger.indexer import open_store
from medledger.indexer.storage_audits import StorageAuditRow

from .helpers import add_record


def _row(patient: str, digest: bytes, status: str, at: int) -> StorageAuditRow:
    return StorageAuditRow(
        patient=patient,
        digest="0x" + digest.hex(),
        cid="bafk",
        audited_at=at,
        status=status,
        copies=1,
        required=2,
        stores=({"store": "a", "state": "complete", "detail": ""},),
    )


def test_registered_records_come_in_chain_order_with_their_erased_flag(world, make_indexer):
    first, second = add_record(world, "first"), add_record(world, "second")
    world.ledger(world.actors.patient).records.erase(first)
    indexer = make_indexer()
    indexer.sync()

    records = indexer.registered_records()

    assert [(r.digest, r.erased) for r in records] == [("0x" + first.hex(), True), ("0x" + second.hex(), False)]
    assert indexer.registered_records(after=records[0].position) == records[1:]
    assert indexer.record_count() == 2


def test_the_last_audit_of_a_record_replaces_the_previous_one(world, make_indexer):
    record = add_record(world, "audited")
    patient = world.actors.patient.address
    indexer = make_indexer()

    indexer.save_storage_audit(_row(patient, record, "under-replicated", 100))
    indexer.save_storage_audit(_row(patient, record, "healthy", 200))

    [kept] = indexer.storage_audits()
    assert kept.status == "healthy" and kept.audited_at == 200
    assert kept.stores == ({"store": "a", "state": "complete", "detail": ""},)
    assert indexer.storage_audits(since=201) == []


def test_a_run_checkpoint_is_kept_with_each_audit_and_cleared_at_the_end(world, make_indexer):
    record = add_record(world, "checkpointed")
    indexer = make_indexer()
    indexer.set_storage_checkpoint("audit", (-1, -1), started=50)

    indexer.save_storage_audit(_row(world.actors.patient.address, record, "healthy", 60), checkpoint=("audit", (7, 3)))

    reopened = make_indexer()  # as after a crash
    assert reopened.storage_checkpoint("audit") == (7, 3) and reopened.storage_run_started("audit") == 50
    assert reopened.storage_checkpoint("repair") is None
    reopened.set_storage_checkpoint("audit", None)
    assert reopened.storage_checkpoint("audit") is None and reopened.storage_run_started("audit") is None


def test_a_schema_2_database_is_migrated_in_place_keeping_its_events(world, make_indexer, database):
    add_record(world, "before the migration")
    indexer = make_indexer()
    indexer.sync()
    events = indexer.event_count()
    store = open_store(database)
    store.execute("DROP TABLE storage_audits")
    store.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    store.close()

    migrated = make_indexer()

    assert migrated.event_count() == events
    assert dict(migrated.store.query("SELECT key, value FROM meta"))["schema_version"] == "3"
    assert migrated.storage_audits() == []  # the table is there again, empty
