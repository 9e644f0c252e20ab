"""Code systems and identifiers used by medledger's FHIR R4 export."""

from __future__ import annotations

from eth_utils import to_checksum_address

# HL7 terminology
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"  # PurposeOfUse codes: TREAT, ETREAT, ...
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_CATEGORY = "http://terminology.hl7.org/CodeSystem/consentcategorycodes"
CONSENT_ACTION = "http://terminology.hl7.org/CodeSystem/consentaction"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
LOINC = "http://loinc.org"
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
AUDIT_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SECURITY_SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
URI_SYSTEM = "urn:ietf:rfc:3986"  # the identifier value is itself a URI

# medledger's own code systems (URNs: they name, they do not resolve)
RECORD_CATEGORY = "urn:medledger:fhir:CodeSystem:record-category"
EVENT_TYPE = "urn:medledger:fhir:CodeSystem:event"
EMERGENCY_REASON = "urn:medledger:fhir:CodeSystem:emergency-reason"
EVENT_IDENTIFIER = "urn:medledger:fhir:NamingSystem:chain-event"

PURPOSE_DISPLAY = {
    "TREAT": "treatment",
    "ETREAT": "emergency treatment",
    "HPAYMT": "healthcare payment",
    "HOPERAT": "healthcare operations",
    "HRESCH": "healthcare research",
    "PUBHLTH": "public health",
    "PATRQT": "patient requested",
}


def account_uri(chain_id: int, address: str) -> str:
    """An Ethereum account as a URI: CAIP-10 `eip155:<chainId>:<address>` (EIP-55 checksummed)."""
    return f"eip155:{int(chain_id)}:{to_checksum_address(address)}"


def event_uri(chain_id: int, tx_hash: str, log_index: int) -> str:
    """One on-chain event: `eip155:<chainId>:tx:<hash>:log:<index>`."""
    return f"eip155:{int(chain_id)}:tx:{tx_hash.lower()}:log:{int(log_index)}"


def record_uri(digest: str, cid: str | None = None) -> str:
    """A record: `ipfs://<CIDv1>` when the CID is known, else its sha2-256 digest as a URN."""
    return f"ipfs://{cid}" if cid else f"urn:sha256:{digest.lower().removeprefix('0x')}"
