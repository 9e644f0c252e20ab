"""A patient's on-chain history as FHIR R4 AuditEvent resources.

* type: DICOM 110110 Patient Record; break-glass opening/closing: DICOM 110113 Security Alert
  with subtype 110127 Emergency Override Started / 110138 Emergency Override Stopped;
* subtype: the medledger event name (medledger event code system) and, for record events, the
  FHIR RESTful interaction (create, read, delete); a read is the `AccessLogged` event the
  key-release services require before they release a record's key, so every decryption by
  anyone but the patient and the record's author has one;
* action: C/R/U/D/E; recorded: block time; outcome 0 (an event on chain is a success);
* purposeOfEvent: v3-ActReason (the access's purpose; ETREAT for emergency access);
* agent: who acted (requestor), as an `eip155:<chainId>:<address>` identifier;
* source: the MedLedger contract as observer (application server);
* entity: the patient (Person / Patient), the record (`ipfs://<CID>`, digest and category as
  details) for record events, the Consent resource for grants, and the chain event itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from fhir.resources.R4B.auditevent import AuditEvent

from medledger.fhir import codes
from medledger.fhir.consent import consent_id
from medledger.fhir.events import ChainEvent, HistoryLike, chain_events, fhir_instant

_PATIENT_RECORD = {"system": codes.DICOM, "code": "110110", "display": "Patient Record"}
_SECURITY_ALERT = {"system": codes.DICOM, "code": "110113", "display": "Security Alert"}

_ACTION = {
    "ConsentGranted": "C",
    "ConsentRevoked": "D",
    "RecordAdded": "C",
    "RecordErased": "D",
    "AccessLogged": "R",
    "GuardianAppointed": "C",
    "GuardianRemoved": "D",
    "EmergencyAccessOpened": "E",
    "EmergencyAccessClosed": "E",
    "EmergencyPreferencesSet": "U",
}
_REST = {"RecordAdded": "create", "AccessLogged": "read", "RecordErased": "delete"}


def audit_event_id(event: ChainEvent) -> str:
    return f"medledger-audit-{event.key}"


def _identifier(value: str) -> dict[str, Any]:
    return {"identifier": {"system": codes.URI_SYSTEM, "value": value}}


def _purpose(code: str) -> dict[str, Any]:
    return {"coding": [{"system": codes.ACT_REASON, "code": code, "display": codes.PURPOSE_DISPLAY.get(code, code)}]}


def _record_cid(details: Mapping[str, Any]) -> str | None:
    if details.get("cid"):
        return str(details["cid"])
    if details.get("digest") and details.get("codec") is not None:
        from medledger.storage.cid import Cid

        try:
            return str(Cid.from_digest(bytes.fromhex(str(details["digest"])[2:]), int(details["codec"])))
        except ValueError:
            return None
    return None


def audit_event_json(event: ChainEvent, *, chain_id: int, patient: str, contract: str | None = None) -> dict[str, Any]:
    d = event.details
    subtype = [{"system": codes.EVENT_TYPE, "code": event.event, "display": event.event}]
    event_type = _PATIENT_RECORD
    if event.event == "EmergencyAccessOpened":
        event_type = _SECURITY_ALERT
        subtype.insert(0, {"system": codes.DICOM, "code": "110127", "display": "Emergency Override Started"})
    elif event.event == "EmergencyAccessClosed":
        event_type = _SECURITY_ALERT
        subtype.insert(0, {"system": codes.DICOM, "code": "110138", "display": "Emergency Override Stopped"})
    if event.event in _REST:
        subtype.insert(0, {"system": codes.RESTFUL_INTERACTION, "code": _REST[event.event]})

    purpose = d.get("purpose")
    if purpose is None and event.event.startswith("EmergencyAccess"):
        purpose = "ETREAT"
    agent: dict[str, Any] = {"who": _identifier(codes.account_uri(chain_id, event.actor)), "requestor": True}
    if purpose:
        agent["purposeOfUse"] = [_purpose(str(purpose))]

    patient_entity: dict[str, Any] = {
        "what": _identifier(codes.account_uri(chain_id, patient)),
        "type": {"system": codes.AUDIT_ENTITY_TYPE, "code": "1", "display": "Person"},
        "role": {"system": codes.OBJECT_ROLE, "code": "1", "display": "Patient"},
    }
    entities = [patient_entity]
    if d.get("digest"):
        cid = _record_cid(d)
        detail = [{"type": "digest", "valueString": str(d["digest"])}]
        if d.get("category"):
            detail.append({"type": "category", "valueString": str(d["category"])})
        record: dict[str, Any] = {
            "what": _identifier(codes.record_uri(str(d["digest"]), cid)),
            "type": {"system": codes.AUDIT_ENTITY_TYPE, "code": "2", "display": "System Object"},
            "role": {"system": codes.OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
            "detail": detail,
        }
        if cid:
            record["name"] = cid
        entities.append(record)
    if event.event == "ConsentGranted":
        entities.append(
            {
                "what": {"reference": f"Consent/{consent_id(event)}"},
                "type": {"system": codes.AUDIT_ENTITY_TYPE, "code": "2", "display": "System Object"},
            }
        )
    for key in ("grantee", "guardian", "provider"):
        if d.get(key):
            entities.append(
                {
                    "what": _identifier(codes.account_uri(chain_id, str(d[key]))),
                    "type": {"system": codes.AUDIT_ENTITY_TYPE, "code": "1", "display": "Person"},
                    "description": key,
                }
            )
    chain_entity: dict[str, Any] = {
        "what": _identifier(codes.event_uri(chain_id, event.tx_hash, event.log_index)),
        "type": {"system": codes.AUDIT_ENTITY_TYPE, "code": "2", "display": "System Object"},
        "name": "ethereum log",
        "detail": [
            {"type": "block", "valueString": str(event.block)},
            {"type": "transaction", "valueString": event.tx_hash},
        ],
    }
    if d.get("reason"):
        chain_entity["detail"].append({"type": "emergency-reason", "valueString": str(d["reason"])})
    entities.append(chain_entity)

    observer: dict[str, Any] = {"display": "MedLedger contract"}
    if contract:
        observer.update(_identifier(codes.account_uri(chain_id, contract)))
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": audit_event_id(event),
        "type": event_type,
        "subtype": subtype,
        "recorded": fhir_instant(event.timestamp),
        "outcome": "0",
        "agent": [agent],
        "source": {
            "observer": observer,
            "type": [{"system": codes.SECURITY_SOURCE_TYPE, "code": "4", "display": "Application Server"}],
        },
        "entity": entities,
    }
    if event.event in _ACTION:
        resource["action"] = _ACTION[event.event]
    if purpose:
        resource["purposeOfEvent"] = [_purpose(str(purpose))]
    return resource


def audit_events(
    entries: Iterable[HistoryLike | Mapping[str, Any]], *, chain_id: int, patient: str, contract: str | None = None
) -> list[AuditEvent]:
    """One validated AuditEvent per history entry of `patient`, in chain order."""
    events = chain_events(entries)
    # an access names only the digest: take codec and category from the record's RecordAdded, if present
    added = {
        str(e.details["digest"]): e.details for e in events if e.event == "RecordAdded" and e.details.get("digest")
    }
    resources = []
    for event in events:
        record = added.get(str(event.details.get("digest")))
        if record is not None and event.event != "RecordAdded":
            extra = {key: record[key] for key in ("codec", "category", "cid") if record.get(key) is not None}
            event = replace(event, details={**extra, **{k: v for k, v in event.details.items() if v is not None}})
        resources.append(
            AuditEvent.model_validate(audit_event_json(event, chain_id=chain_id, patient=patient, contract=contract))
        )
    return resources
