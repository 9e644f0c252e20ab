"""A patient's on-chain consents as FHIR R4 Consent resources.

Every ConsentGranted becomes one Consent. It is `active` while it is the grantee's latest grant,
not revoked and not expired at `now`; otherwise `inactive` (a later grant replaces it, a
ConsentRevoked ends it). Mapping:

* scope: consentscope `patient-privacy`; category: LOINC 59284-0 (Patient Consent);
  policyRule: v3-ActCode OPTIN;
* patient and performer: the patient's account, identifier `urn:ietf:rfc:3986` /
  `eip155:<chainId>:<address>` (CAIP-10); identifier: the chain event;
* dateTime: the grant's block time; provision.period: grant time .. expiry;
* provision.actor: the grantee, role v3-ParticipationType IRCP (information recipient);
* provision.action: consentaction `access` (read) and/or `correct` (write);
* provision.purpose: v3-ActReason codes (TREAT, ETREAT, HPAYMT, HOPERAT, HRESCH, PUBHLTH, PATRQT);
* provision.code: the record categories, in medledger's record-category code system.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from fhir.resources.R4B.consent import Consent

from medledger.fhir import codes
from medledger.fhir.events import ChainEvent, HistoryLike, chain_events, fhir_instant


def consent_id(event: ChainEvent) -> str:
    return f"medledger-consent-{event.key}"


def _account(chain_id: int, address: str) -> dict[str, Any]:
    return {"identifier": {"system": codes.URI_SYSTEM, "value": codes.account_uri(chain_id, address)}}


def consent_json(event: ChainEvent, *, chain_id: int, patient: str, status: str) -> dict[str, Any]:
    """The FHIR JSON of one ConsentGranted event."""
    d = event.details
    actions = []
    if d.get("read"):
        actions.append({"coding": [{"system": codes.CONSENT_ACTION, "code": "access", "display": "Access"}]})
    if d.get("write"):
        actions.append(
            {"coding": [{"system": codes.CONSENT_ACTION, "code": "correct", "display": "Access and Correct"}]}
        )
    provision: dict[str, Any] = {
        "type": "permit",
        "period": {"start": fhir_instant(event.timestamp), "end": fhir_instant(int(d["expiry"]))},
        "actor": [
            {
                "role": {
                    "coding": [{"system": codes.PARTICIPATION_TYPE, "code": "IRCP", "display": "information recipient"}]
                },
                "reference": _account(chain_id, str(d["grantee"])),
            }
        ],
        "purpose": [
            {"system": codes.ACT_REASON, "code": code, "display": codes.PURPOSE_DISPLAY.get(code, code)}
            for code in d.get("purposes", [])
        ],
        "code": [
            {"coding": [{"system": codes.RECORD_CATEGORY, "code": str(name)}]} for name in d.get("categories", [])
        ],
    }
    if actions:
        provision["action"] = actions
    return {
        "resourceType": "Consent",
        "id": consent_id(event),
        "identifier": [
            {"system": codes.URI_SYSTEM, "value": codes.event_uri(chain_id, event.tx_hash, event.log_index)}
        ],
        "status": status,
        "scope": {"coding": [{"system": codes.CONSENT_SCOPE, "code": "patient-privacy", "display": "Privacy Consent"}]},
        "category": [{"coding": [{"system": codes.LOINC, "code": "59284-0", "display": "Patient Consent"}]}],
        "patient": _account(chain_id, patient),
        "dateTime": fhir_instant(event.timestamp),
        "performer": [_account(chain_id, patient)],
        "policyRule": {"coding": [{"system": codes.ACT_CODE, "code": "OPTIN", "display": "opt-in"}]},
        "provision": provision,
    }


def consent_resources(
    entries: Iterable[HistoryLike | Mapping[str, Any]], *, chain_id: int, patient: str, now: int | None = None
) -> list[Consent]:
    """One validated Consent per grant in `entries` (history entries of `patient`), in chain order."""
    now = int(time.time()) if now is None else int(now)
    events = chain_events(entries)
    grants: list[ChainEvent] = []
    latest: dict[str, ChainEvent] = {}  # grantee -> its current grant
    ended: set[str] = set()  # keys of grants replaced or revoked
    for event in events:
        grantee = str(event.details.get("grantee", "")).lower()
        if event.event == "ConsentGranted":
            if grantee in latest:
                ended.add(latest[grantee].key)
            latest[grantee] = event
            grants.append(event)
        elif event.event == "ConsentRevoked" and grantee in latest:
            ended.add(latest.pop(grantee).key)
    resources = []
    for grant in grants:
        active = grant.key not in ended and int(grant.details["expiry"]) > now
        data = consent_json(grant, chain_id=chain_id, patient=patient, status="active" if active else "inactive")
        resources.append(Consent.model_validate(data))
    return resources
