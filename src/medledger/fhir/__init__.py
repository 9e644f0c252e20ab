"""FHIR R4 export of medledger's chain data, and validation of FHIR JSON.

    consents = consent_resources(indexer.history(patient), chain_id=31337, patient=patient)
    trail = audit_events(patient_history(ledger, patient), chain_id=31337, patient=patient)
    bundle(consents + trail).model_dump_json()
    validate_resource(observation_json, resource_type="Observation")

Models: `fhir.resources.R4B` (see `medledger.fhir.validate` for why R4B validates R4 here).
Input: any history entries with the fields of `ChainEvent` (flows.audit's AuditEntry, the
indexer's HistoryEntry, or mappings).
"""

from medledger.fhir.audit import audit_event_json, audit_events
from medledger.fhir.bundle import bundle, patient_bundle
from medledger.fhir.codes import account_uri
from medledger.fhir.consent import consent_json, consent_resources
from medledger.fhir.events import ChainEvent, HistoryLike, chain_event, chain_events
from medledger.fhir.validate import FHIR_VERSION, FhirValidationError, to_json, validate_resource

__all__ = [
    "FHIR_VERSION",
    "ChainEvent",
    "FhirValidationError",
    "HistoryLike",
    "account_uri",
    "audit_event_json",
    "audit_events",
    "bundle",
    "chain_event",
    "chain_events",
    "consent_json",
    "consent_resources",
    "patient_bundle",
    "to_json",
    "validate_resource",
]
