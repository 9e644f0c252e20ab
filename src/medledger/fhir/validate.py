"""Validation of FHIR R4 JSON with the `fhir.resources` models.

`fhir.resources` 8 ships FHIR R5 by default and R4B (4.3.0) in `fhir.resources.R4B`; it has no
R4 (4.0.1) package any more (the last R4 releases, 6.x, need pydantic 1, which web3 7 excludes).
The resources medledger uses (Consent, AuditEvent, Observation, Bundle) did not change between
R4 and R4B, so the R4B models validate R4 JSON of these types. The models check structure,
cardinality, primitive formats and unknown elements; they do not check value-set bindings, so
the required bindings of those resources' status/type codes are checked here as well.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from medledger.errors import MedLedgerError

FHIR_VERSION = "4.0.1"  # what the exports claim; validated with the R4B (4.3.0) models, see above

# Required bindings of the resources medledger exchanges: resource -> element -> allowed codes.
_REQUIRED_CODES: dict[str, dict[str, frozenset[str]]] = {
    "Observation": {
        "status": frozenset(
            {"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"}
        )
    },
    "Consent": {"status": frozenset({"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"})},
    "AuditEvent": {"action": frozenset({"C", "R", "U", "D", "E"}), "outcome": frozenset({"0", "4", "8", "12"})},
    "Bundle": {
        "type": frozenset(
            {
                "document",
                "message",
                "transaction",
                "transaction-response",
                "batch",
                "batch-response",
                "history",
                "searchset",
                "collection",
            }
        )
    },
}


class FhirValidationError(MedLedgerError, ValueError):
    """The JSON is not a valid FHIR R4 resource; `errors` lists each problem as `path: message`."""

    def __init__(self, resource_type: str, errors: list[str]):
        self.resource_type = resource_type
        self.errors = errors
        super().__init__(f"invalid FHIR R4 {resource_type}: " + "; ".join(errors))


def _errors(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error.get("loc", ())) or "(resource)"
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{location}: {message}")
    return problems


def validate_resource(data: Mapping[str, Any] | str | bytes, *, resource_type: str | None = None) -> Resource:
    """Parse and validate one FHIR R4 resource (a dict or JSON text); return the model instance.

    `resource_type`, if given, is the type the resource must have (e.g. "Observation").
    Raises `FhirValidationError` naming every problem.
    """
    if isinstance(data, (str, bytes, bytearray)):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise FhirValidationError(resource_type or "resource", [f"not JSON: {exc}"]) from None
    if not isinstance(data, Mapping):
        raise FhirValidationError(resource_type or "resource", ["a resource is a JSON object"])
    declared = data.get("resourceType")
    if not isinstance(declared, str) or not declared:
        raise FhirValidationError(resource_type or "resource", ["resourceType: missing"])
    if resource_type is not None and declared != resource_type:
        raise FhirValidationError(resource_type, [f"resourceType: is {declared!r}, expected {resource_type!r}"])
    try:
        model = get_fhir_model_class(declared)
    except (KeyError, ValueError):
        raise FhirValidationError(declared, [f"resourceType: {declared!r} is not an R4 resource type"]) from None
    problems = [
        f"{element}: {data[element]!r} is not one of {', '.join(sorted(codes))}"
        for element, codes in _REQUIRED_CODES.get(declared, {}).items()
        if element in data and data[element] not in codes
    ]
    try:
        resource = model.model_validate(dict(data))
    except ValidationError as exc:
        raise FhirValidationError(declared, problems + _errors(exc)) from None
    if problems:
        raise FhirValidationError(declared, problems)
    if not isinstance(resource, Resource):  # every model get_fhir_model_class returns for a resourceType is one
        raise FhirValidationError(declared, [f"resourceType: {declared!r} is not a FHIR resource"])
    return resource


def to_json(resource: Resource) -> dict[str, Any]:
    """A validated model back to FHIR JSON (no empty elements)."""
    return json.loads(resource.model_dump_json(exclude_none=True))
