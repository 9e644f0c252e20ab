"""validate_resource: FHIR JSON checked before it is encrypted and published."""

from __future__ import annotations

import copy

import pytest

from medledger.demo import hba1c_observation
from medledger.fhir import FhirValidationError, validate_resource


def test_a_valid_observation_is_accepted_as_a_model():
    observation = validate_resource(hba1c_observation("Patient/example"), resource_type="Observation")
    assert observation.status == "final"
    assert str(observation.valueQuantity.value) == "6.1"  # FHIR decimals keep their precision


def test_json_text_is_accepted():
    import json

    assert validate_resource(json.dumps(hba1c_observation("Patient/x"))).get_resource_type() == "Observation"


def test_a_missing_required_element_is_rejected_with_its_path():
    bad = hba1c_observation("Patient/example")
    del bad["status"]
    with pytest.raises(FhirValidationError, match=r"invalid FHIR R4 Observation: status: .*required") as info:
        validate_resource(bad)
    assert info.value.resource_type == "Observation"
    assert info.value.errors == ["status: Value for the field 'status' is required."]


def test_a_code_outside_a_required_binding_is_rejected():
    bad = hba1c_observation("Patient/example")
    bad["status"] = "done"
    with pytest.raises(FhirValidationError, match=r"status: 'done' is not one of .*final"):
        validate_resource(bad)


def test_malformed_values_and_unknown_elements_are_all_reported():
    bad = copy.deepcopy(hba1c_observation("Patient/example"))
    bad["valueQuantity"]["value"] = "six"
    bad["effectiveDateTime"] = "yesterday"
    bad["secret"] = "PHI must not hide in unknown elements"
    with pytest.raises(FhirValidationError) as info:
        validate_resource(bad)
    paths = [error.split(":")[0] for error in info.value.errors]
    assert {"valueQuantity.value", "effectiveDateTime", "secret"} <= set(paths)


def test_the_wrong_resource_type_or_no_resource_is_rejected():
    with pytest.raises(FhirValidationError, match="is 'Observation', expected 'Patient'"):
        validate_resource(hba1c_observation("Patient/x"), resource_type="Patient")
    with pytest.raises(FhirValidationError, match="resourceType: missing"):
        validate_resource({"status": "final"})
    with pytest.raises(FhirValidationError, match="not an R4 resource type"):
        validate_resource({"resourceType": "Spreadsheet"})
    with pytest.raises(FhirValidationError, match="not JSON"):
        validate_resource("{not json")
