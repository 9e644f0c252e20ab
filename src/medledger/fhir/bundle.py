"""FHIR R4 collection Bundles."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.resource import Resource

from medledger.fhir.audit import audit_events
from medledger.fhir.consent import consent_resources
from medledger.fhir.events import HistoryLike, fhir_instant

_NAMESPACE = uuid.UUID("6f1c5d5e-3b0a-5b7e-9a51-6d656464c0de")  # medledger's uuid5 namespace


def full_url(resource: Resource) -> str:
    """A stable `urn:uuid:` for a resource (uuid5 of its type and id)."""
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{resource.get_resource_type()}/{resource.id}')}"


def bundle(resources: Iterable[Resource], *, bundle_id: str | None = None, timestamp: int | None = None) -> Bundle:
    """A validated `collection` Bundle of `resources`."""
    entries = [{"fullUrl": full_url(resource), "resource": resource} for resource in resources]
    data: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": fhir_instant(int(time.time()) if timestamp is None else timestamp),
        "entry": entries,
    }
    if bundle_id:
        data["id"] = bundle_id
    return Bundle.model_validate(data)


def patient_bundle(
    entries: Iterable[HistoryLike | Mapping[str, Any]],
    *,
    chain_id: int,
    patient: str,
    contract: str | None = None,
    now: int | None = None,
) -> Bundle:
    """A patient's consents and audit trail in one collection Bundle."""
    entries = list(entries)
    resources: list[Resource] = [
        *consent_resources(entries, chain_id=chain_id, patient=patient, now=now),
        *audit_events(entries, chain_id=chain_id, patient=patient, contract=contract),
    ]
    return bundle(resources, timestamp=now)
