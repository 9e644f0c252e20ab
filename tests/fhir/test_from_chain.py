"""The export reads real chain history: from flows.audit's event scan and from the indexer."""

from __future__ import annotations

from medledger.fhir import audit_events, consent_resources, patient_bundle, validate_resource
from medledger.flows.audit import patient_history
from medledger.indexer import Indexer
from tests.indexer.helpers import story


def test_history_from_the_event_scan_and_from_the_indexer_export_the_same_consents(world, tmp_path):
    story(world)
    patient = world.actors.patient.address
    scanned = patient_history(world.ledger(), patient)
    with Indexer.from_deployment(world.chain, world.deployment, tmp_path / "i.sqlite") as indexer:
        indexer.sync()
        indexed = indexer.history(patient)
    now = max(entry.timestamp for entry in scanned)
    from_scan = consent_resources(scanned, chain_id=world.chain.chain_id, patient=patient, now=now)
    from_index = consent_resources(indexed, chain_id=world.chain.chain_id, patient=patient, now=now)
    assert [c.model_dump_json() for c in from_scan] == [c.model_dump_json() for c in from_index]
    assert [c.status for c in from_index] == ["inactive"]  # granted, then revoked

    trail = audit_events(
        indexed, chain_id=world.chain.chain_id, patient=patient, contract=world.deployment.ledger_address
    )
    assert [e.action for e in trail] == ["C", "C", "R", "D"]
    result = patient_bundle(indexed, chain_id=world.chain.chain_id, patient=patient, now=now)
    assert validate_resource(result.model_dump_json(exclude_none=True)).get_resource_type() == "Bundle"
