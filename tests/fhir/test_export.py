"""FHIR R4 export: every resource validates and the chain's facts land in the right elements."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.consent import Consent

from medledger.fhir import (
    ChainEvent,
    audit_events,
    bundle,
    chain_event,
    codes,
    consent_resources,
    patient_bundle,
    to_json,
    validate_resource,
)

CHAIN = 31337
PATIENT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
CLINIC = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
LAB = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
DIGEST = "0x" + "ab" * 32
T0 = 1_800_000_000


def _entry(block, event, actor, **details):
    return {
        "block": block,
        "timestamp": T0 + block * 12,
        "tx_hash": "0x" + f"{block:064x}",
        "log_index": 0,
        "event": event,
        "actor": actor,
        "details": details,
    }


def _grant(block, grantee, *, expiry=T0 + 10**6, read=True, write=False, purposes=("TREAT",), categories=("labs",)):
    return _entry(
        block,
        "ConsentGranted",
        PATIENT,
        grantee=grantee,
        categories=list(categories),
        purposes=list(purposes),
        read=read,
        write=write,
        expiry=expiry,
    )


HISTORY = [
    _grant(10, CLINIC, purposes=("TREAT", "ETREAT"), categories=("labs", "imaging")),
    _entry(11, "RecordAdded", LAB, digest=DIGEST, codec=0x55, category="labs", supersedes=None),
    _entry(12, "AccessLogged", CLINIC, digest=DIGEST, accessor=CLINIC, purpose="TREAT", category="labs"),
    _entry(13, "ConsentRevoked", PATIENT, grantee=CLINIC),
    _grant(14, LAB, read=True, write=True, purposes=("HRESCH",)),
    _entry(15, "GuardianAppointed", PATIENT, guardian=LAB, until=T0 + 10**5, can_appoint=False),
    _entry(16, "EmergencyAccessOpened", CLINIC, provider=CLINIC, reason="unconscious", until=T0 + 10**5),
    _entry(17, "RecordErased", PATIENT, digest=DIGEST),
]


def _consents(now=T0):
    return consent_resources(HISTORY, chain_id=CHAIN, patient=PATIENT, now=now)


def test_every_consent_and_audit_event_validates_as_fhir_r4():
    resources = [*_consents(), *audit_events(HISTORY, chain_id=CHAIN, patient=PATIENT, contract=CONTRACT)]
    assert len(resources) == 2 + len(HISTORY)
    for resource in resources:
        again = validate_resource(resource.model_dump_json(exclude_none=True))
        assert again.get_resource_type() == resource.get_resource_type()


def test_a_grant_maps_to_a_privacy_consent_with_its_provision():
    consent = to_json(_consents()[0])
    assert consent["status"] == "inactive"  # revoked at block 13
    assert consent["scope"]["coding"][0] == {
        "system": codes.CONSENT_SCOPE,
        "code": "patient-privacy",
        "display": "Privacy Consent",
    }
    assert consent["patient"]["identifier"] == {"system": "urn:ietf:rfc:3986", "value": f"eip155:31337:{PATIENT}"}
    assert consent["dateTime"] == "2027-01-15T08:02:00Z"
    provision = consent["provision"]
    assert provision["type"] == "permit"
    assert provision["period"] == {"start": "2027-01-15T08:02:00Z", "end": "2027-01-26T21:46:40Z"}
    assert provision["actor"][0]["reference"]["identifier"]["value"] == f"eip155:31337:{CLINIC}"
    assert provision["actor"][0]["role"]["coding"][0]["code"] == "IRCP"
    assert [a["coding"][0]["code"] for a in provision["action"]] == ["access"]
    assert [(p["system"], p["code"]) for p in provision["purpose"]] == [
        (codes.ACT_REASON, "TREAT"),
        (codes.ACT_REASON, "ETREAT"),
    ]
    assert [c["coding"][0] for c in provision["code"]] == [
        {"system": codes.RECORD_CATEGORY, "code": "labs"},
        {"system": codes.RECORD_CATEGORY, "code": "imaging"},
    ]


def test_consent_status_follows_revocation_replacement_and_expiry():
    statuses = [c.status for c in _consents(now=T0)]
    assert statuses == ["inactive", "active"]
    assert [c.status for c in _consents(now=T0 + 2 * 10**6)] == ["inactive", "inactive"]  # expired
    replaced = consent_resources(
        [_grant(1, CLINIC), _grant(2, CLINIC, purposes=("HPAYMT",))], chain_id=CHAIN, patient=PATIENT, now=T0
    )
    assert [c.status for c in replaced] == ["inactive", "active"]


def test_write_permission_maps_to_the_correct_action():
    consent = to_json(_consents()[1])
    assert [a["coding"][0]["code"] for a in consent["provision"]["action"]] == ["access", "correct"]


def test_an_access_log_maps_to_a_read_audit_event_with_purpose_agent_and_record():
    events = audit_events(HISTORY, chain_id=CHAIN, patient=PATIENT, contract=CONTRACT)
    access = to_json(events[2])
    assert access["type"] == {"system": codes.DICOM, "code": "110110", "display": "Patient Record"}
    assert {"system": codes.RESTFUL_INTERACTION, "code": "read"} in access["subtype"]
    assert {"system": codes.EVENT_TYPE, "code": "AccessLogged", "display": "AccessLogged"} in access["subtype"]
    assert access["action"] == "R"
    assert access["recorded"] == "2027-01-15T08:02:24Z"
    assert access["purposeOfEvent"][0]["coding"][0] == {
        "system": codes.ACT_REASON,
        "code": "TREAT",
        "display": "treatment",
    }
    assert access["agent"][0]["who"]["identifier"]["value"] == f"eip155:31337:{CLINIC}"
    assert access["agent"][0]["requestor"] is True
    assert access["source"]["observer"]["identifier"]["value"] == f"eip155:31337:{CONTRACT}"
    record = access["entity"][1]
    assert record["what"]["identifier"]["value"].startswith("ipfs://bafkrei")  # raw CIDv1 of the digest
    assert {"type": "digest", "valueString": DIGEST} in record["detail"]
    assert access["entity"][0]["role"]["code"] == "1"  # the patient


def test_break_glass_is_a_security_alert_for_emergency_treatment():
    opened = to_json(audit_events(HISTORY, chain_id=CHAIN, patient=PATIENT)[6])
    assert opened["type"]["code"] == "110113"
    assert opened["subtype"][0]["code"] == "110127"
    assert opened["purposeOfEvent"][0]["coding"][0]["code"] == "ETREAT"
    assert opened["action"] == "E"
    chain_entity = opened["entity"][-1]
    assert {"type": "emergency-reason", "valueString": "unconscious"} in chain_entity["detail"]


def test_a_grant_audit_event_points_at_its_consent_resource():
    grant_event = to_json(audit_events(HISTORY, chain_id=CHAIN, patient=PATIENT)[0])
    consent = _consents()[0]
    assert {"reference": f"Consent/{consent.id}"} in [e["what"] for e in grant_event["entity"]]


def test_bundle_is_a_collection_of_every_resource_with_unique_full_urls():
    result = patient_bundle(HISTORY, chain_id=CHAIN, patient=PATIENT, contract=CONTRACT, now=T0)
    data = json.loads(result.model_dump_json(exclude_none=True))
    assert data["type"] == "collection"
    assert len(data["entry"]) == 2 + len(HISTORY)
    assert len({entry["fullUrl"] for entry in data["entry"]}) == len(data["entry"])
    assert all(entry["fullUrl"].startswith("urn:uuid:") for entry in data["entry"])
    assert validate_resource(data).get_resource_type() == "Bundle"
    assert bundle([]).type == "collection"


def test_entries_may_be_dataclasses_or_mappings():
    as_events = [chain_event(entry) for entry in HISTORY]
    assert all(isinstance(event, ChainEvent) for event in as_events)
    assert [c.id for c in consent_resources(as_events, chain_id=CHAIN, patient=PATIENT, now=T0)] == [
        c.id for c in _consents()
    ]
    with pytest.raises(ValueError, match="missing"):
        chain_event({"block": 1})
    with pytest.raises(TypeError, match="not a history entry"):
        chain_event(object())


def test_exported_models_are_the_r4_resource_classes():
    assert isinstance(_consents()[0], Consent)
    assert isinstance(audit_events(HISTORY[:1], chain_id=CHAIN, patient=PATIENT)[0], AuditEvent)
