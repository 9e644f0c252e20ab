"""Safe Harbor de-identification, resource type by resource type: each of the 18 identifier classes
that a type can carry is removed or generalised, what research needs (codes, values, years, state,
3-digit ZIP) stays, references between copies still resolve, and every copy is valid FHIR."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from medledger.fhir.deidentify import (
    AGE_FLAG_URL,
    RESTRICTED_ZIP3,
    DeidentificationError,
    Deidentifier,
    deidentify,
    zip3_of,
)
from medledger.fhir.validate import validate_resource

AS_OF = datetime(2026, 12, 3, tzinfo=UTC)
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"


def _text(resource: dict) -> str:
    return json.dumps(resource)


def _clean(resource: dict, *secrets: str) -> dict:
    """De-identify; the copy is valid FHIR, tagged, and holds none of `secrets`."""
    result = Deidentifier(as_of=AS_OF).one(resource).resource
    validate_resource(result)
    assert {label["code"] for label in result["meta"]["security"]} == {"PSEUDED", "REDACTED"}
    for secret in secrets:
        assert secret not in _text(result), f"{secret!r} survived de-identification"
    return result


PATIENT = {
    "resourceType": "Patient",
    "id": "mrn-004217",
    "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Ana Rivera, MRN 004217</div>'},
    "identifier": [
        {"system": "http://hospital.example/mrn", "value": "004217"},
        {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "123-45-6789"},
        {"system": "http://payer.example/member", "value": "HP-99812"},
    ],
    "name": [{"family": "Rivera", "given": ["Ana", "Lucia"]}],
    "telecom": [
        {"system": "phone", "value": "617-555-0142"},
        {"system": "fax", "value": "617-555-0199"},
        {"system": "email", "value": "ana.rivera@example.org"},
        {"system": "url", "value": "https://ana.example.org"},
    ],
    "gender": "female",
    "birthDate": "1984-07-19",
    "address": [
        {
            "line": ["9 Elm Street", "Apt 3"],
            "city": "Somerville",
            "district": "Middlesex",
            "state": "MA",
            "postalCode": "02143",
            "country": "US",
        }
    ],
    "photo": [{"contentType": "image/jpeg", "url": "https://hospital.example/photos/004217.jpg"}],
    "contact": [{"name": {"family": "Rivera", "given": ["Jose"]}, "telecom": [{"system": "phone", "value": "555"}]}],
    "generalPractitioner": [{"reference": "Practitioner/dr-lee", "display": "Dr. Lee"}],
    "managingOrganization": {"reference": "Organization/mgh", "display": "Mass General"},
    "extension": [
        {
            "url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
            "valueAddress": {"city": "Worcester", "state": "MA"},
        }
    ],
}


# -- Patient -----------------------------------------------------------------------------------


def test_patient_names_identifiers_contacts_photos_and_narrative_are_removed():
    result = _clean(
        PATIENT,
        "Rivera",
        "Ana",
        "004217",
        "123-45-6789",
        "HP-99812",
        "617-555",
        "ana.rivera@",
        "https://ana.example.org",
        "photos",
        "Jose",
        "Dr. Lee",
        "Mass General",
        "Worcester",
    )
    for element in ("name", "identifier", "telecom", "photo", "contact", "text", "generalPractitioner"):
        assert element not in result
    assert result["gender"] == "female"


def test_patient_address_keeps_the_state_and_three_zip_digits_only():
    result = _clean(PATIENT, "Elm Street", "Somerville", "Middlesex", "02143")
    assert result["address"] == [{"state": "MA", "postalCode": "021", "country": "US"}]


@pytest.mark.parametrize("prefix", sorted(RESTRICTED_ZIP3))
def test_the_seventeen_low_population_zip_prefixes_become_000(prefix):
    assert zip3_of(f"{prefix}12", "US") == "000"


def test_zip_plus_four_and_unknown_or_foreign_postal_codes():
    assert zip3_of("02143-1234", None) == "021"
    assert zip3_of("SW1A 1AA", "GB") is None
    assert zip3_of("2143", "US") is None
    patient = copy.deepcopy(PATIENT)
    patient["address"] = [{"city": "London", "postalCode": "SW1A 1AA", "country": "GB"}]
    assert _clean(patient, "SW1A", "London")["address"] == [{"country": "GB"}]


def test_birth_date_keeps_only_the_year():
    assert _clean(PATIENT)["birthDate"] == "1984"


def test_an_age_over_89_folds_into_one_90_or_older_category():
    patient = {**copy.deepcopy(PATIENT), "birthDate": "1931-04-05"}
    result = _clean(patient, "1931")
    assert "birthDate" not in result
    assert result["extension"] == [{"url": AGE_FLAG_URL, "valueBoolean": True}]
    assert "birthDate" in _clean({**copy.deepcopy(PATIENT), "birthDate": "1937-12-31"})  # 89 in 2026


def test_the_resource_id_becomes_a_random_pseudonym_not_derived_from_it():
    first = Deidentifier(as_of=AS_OF).one(PATIENT).resource["id"]
    second = Deidentifier(as_of=AS_OF).one(PATIENT).resource["id"]
    assert "004217" not in first and first != second


def test_the_original_is_left_untouched():
    original = copy.deepcopy(PATIENT)
    deidentify(PATIENT, as_of=AS_OF)
    assert original == PATIENT


# -- Observation -------------------------------------------------------------------------------


OBSERVATION = {
    "resourceType": "Observation",
    "id": "obs-1",
    "identifier": [{"value": "LAB-2026-5531"}],
    "status": "final",
    "code": {"coding": [{"system": LOINC, "code": "4548-4", "display": "HbA1c"}], "text": "Ana's HbA1c"},
    "subject": {"reference": "Patient/mrn-004217", "display": "Ana Rivera"},
    "effectiveDateTime": "2026-11-20T09:30:00Z",
    "issued": "2026-11-20T10:02:11.204Z",
    "performer": [{"reference": "Practitioner/dr-lee"}, {"reference": "Organization/lab-1"}],
    "valueQuantity": {"value": 6.1, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},
    "note": [{"text": "patient called from 617-555-0142 about results"}],
    "device": {"reference": "Device/analyser-77", "display": "serial SN-0099"},
    "referenceRange": [{"low": {"value": 4.0}, "high": {"value": 5.6}, "text": "see 10.0.0.7/ranges"}],
}


def test_observation_keeps_code_value_and_year_and_drops_the_rest():
    result = _clean(
        OBSERVATION, "LAB-2026", "Ana", "11-20", "09:30", "10:02", "dr-lee", "617-555", "SN-0099", "10.0.0.7"
    )
    assert result["effectiveDateTime"] == "2026"
    assert result["code"] == {"coding": [{"system": LOINC, "code": "4548-4", "display": "HbA1c"}]}
    assert result["valueQuantity"]["value"] == 6.1
    for element in ("issued", "performer", "note", "device", "identifier"):
        assert element not in result
    assert result["referenceRange"] == [{"low": {"value": 4.0}, "high": {"value": 5.6}}]


def test_references_between_copies_resolve_to_the_same_pseudonym():
    deidentifier = Deidentifier(as_of=AS_OF)
    patient, observation = (copy.resource for copy in deidentifier.many([PATIENT, OBSERVATION]))
    assert observation["subject"] == {"reference": f"Patient/{patient['id']}"}


def test_an_age_observation_over_89_is_reported_as_90_or_more():
    age = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "30525-0"}]},
        "valueQuantity": {"value": 93, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"},
    }
    value = _clean(age)["valueQuantity"]
    assert value["value"] == 90 and value["comparator"] == ">="


def test_free_text_values_are_removed():
    note = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "8251-1"}]},
        "valueString": "Ana lives alone at 9 Elm Street",
    }
    assert "valueString" not in _clean(note, "Elm Street")


# -- Condition ---------------------------------------------------------------------------------


def test_condition_dates_become_years_and_ages_over_89_fold():
    condition = {
        "resourceType": "Condition",
        "id": "c-3",
        "identifier": [{"value": "PROB-17"}],
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
        },
        "code": {"coding": [{"system": SNOMED, "code": "44054006", "display": "Type 2 diabetes"}], "text": "T2DM"},
        "subject": {"reference": "Patient/mrn-004217"},
        "onsetAge": {"value": 95, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"},
        "abatementDateTime": "2026-02-14",
        "recordedDate": "2025-03-01T08:00:00Z",
        "recorder": {"reference": "Practitioner/dr-lee"},
        "note": [{"text": "family history: father Jose"}],
    }
    result = _clean(condition, "PROB-17", "02-14", "03-01", "dr-lee", "Jose")
    assert result["abatementDateTime"] == "2026" and result["recordedDate"] == "2025"
    assert result["onsetAge"]["value"] == 90 and result["onsetAge"]["comparator"] == ">="
    assert result["code"]["coding"][0]["code"] == "44054006" and "text" not in result["code"]


# -- MedicationStatement -----------------------------------------------------------------------


def test_medication_statement_keeps_the_drug_and_dose_without_instructions_or_sources():
    statement = {
        "resourceType": "MedicationStatement",
        "id": "ms-1",
        "status": "active",
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "860975"}]
        },
        "subject": {"reference": "Patient/mrn-004217"},
        "effectivePeriod": {"start": "2025-06-01", "end": "2026-06-01"},
        "dateAsserted": "2026-01-10T12:00:00Z",
        "informationSource": {"reference": "RelatedPerson/daughter", "display": "Maria Rivera"},
        "note": [{"text": "takes it at work, ACME Corp"}],
        "dosage": [
            {
                "text": "one tablet with breakfast at Ana's house",
                "patientInstruction": "call Dr. Lee if dizzy",
                "doseAndRate": [{"doseQuantity": {"value": 500, "unit": "mg"}}],
            }
        ],
    }
    result = _clean(statement, "Maria", "ACME", "Ana", "Dr. Lee", "06-01", "01-10")
    assert result["effectivePeriod"] == {"start": "2025", "end": "2026"}
    assert result["dateAsserted"] == "2026"
    assert result["dosage"] == [{"doseAndRate": [{"doseQuantity": {"value": 500, "unit": "mg"}}]}]


# -- DiagnosticReport --------------------------------------------------------------------------


def test_diagnostic_report_drops_conclusion_attachments_and_interpreters():
    report = {
        "resourceType": "DiagnosticReport",
        "id": "dr-5",
        "identifier": [{"value": "ACC-778812"}],
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "24323-8"}]},
        "subject": {"reference": "Patient/mrn-004217"},
        "effectiveDateTime": "2026-11-20",
        "issued": "2026-11-21T08:00:00Z",
        "performer": [{"reference": "Organization/lab-1", "display": "Quest Boston"}],
        "resultsInterpreter": [{"reference": "Practitioner/dr-lee"}],
        "result": [{"reference": "Observation/obs-1"}],
        "conclusion": "Ana Rivera's panel is normal",
        "presentedForm": [{"contentType": "application/pdf", "url": "https://lab.example/r/778812.pdf"}],
        "media": [{"link": {"reference": "Media/photo-1"}}],
    }
    result = _clean(report, "ACC-778812", "Quest", "dr-lee", "Ana", "778812", "photo-1", "11-20")
    assert result["effectiveDateTime"] == "2026"
    assert (
        result["result"][0]["reference"].startswith("Observation/") and "obs-1" not in result["result"][0]["reference"]
    )


# -- Encounter ---------------------------------------------------------------------------------


def test_encounter_keeps_class_type_and_years_without_people_or_places():
    encounter = {
        "resourceType": "Encounter",
        "id": "enc-1",
        "identifier": [{"value": "VISIT-5521"}],
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": "Patient/mrn-004217"},
        "participant": [{"individual": {"reference": "Practitioner/dr-lee", "display": "Dr. Lee"}}],
        "period": {"start": "2026-11-20T09:00:00Z", "end": "2026-11-20T09:40:00Z"},
        "location": [{"location": {"reference": "Location/clinic-4", "display": "Clinic 4, Elm St"}}],
        "serviceProvider": {"reference": "Organization/mgh"},
        "hospitalization": {"preAdmissionIdentifier": {"value": "PRE-1"}, "origin": {"reference": "Location/home"}},
        "reasonCode": [{"coding": [{"system": SNOMED, "code": "185349003"}], "text": "checkup for Ana"}],
    }
    result = _clean(encounter, "VISIT-5521", "Dr. Lee", "Elm St", "mgh", "PRE-1", "09:40", "Ana")
    assert result["period"] == {"start": "2026", "end": "2026"}
    assert result["class"]["code"] == "AMB" and result["reasonCode"][0]["coding"][0]["code"] == "185349003"
    for element in ("participant", "location", "serviceProvider", "hospitalization", "identifier"):
        assert element not in result


# -- AllergyIntolerance, Immunization, Procedure ----------------------------------------------------


def test_allergy_keeps_substance_and_criticality():
    allergy = {
        "resourceType": "AllergyIntolerance",
        "patient": {"reference": "Patient/mrn-004217"},
        "code": {"coding": [{"system": SNOMED, "code": "764146007", "display": "Penicillin"}]},
        "criticality": "high",
        "recordedDate": "2019-05-02",
        "recorder": {"reference": "Practitioner/dr-lee"},
        "reaction": [
            {
                "manifestation": [{"coding": [{"system": SNOMED, "code": "247472004", "display": "Hives"}]}],
                "description": "hives after a dose at St. Mary's",
                "onset": "2019-05-01T22:00:00Z",
            }
        ],
    }
    result = _clean(allergy, "dr-lee", "St. Mary", "05-0")
    assert result["recordedDate"] == "2019"
    assert result["reaction"] == [{"manifestation": allergy["reaction"][0]["manifestation"], "onset": "2019"}]


def test_immunization_drops_lot_numbers_and_performers():
    shot = {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "208"}]},
        "patient": {"reference": "Patient/mrn-004217"},
        "occurrenceDateTime": "2021-04-12T15:20:00Z",
        "lotNumber": "EW0182",
        "performer": [{"actor": {"reference": "Practitioner/nurse-3"}}],
    }
    result = _clean(shot, "EW0182", "nurse-3", "04-12")
    assert result["occurrenceDateTime"] == "2021" and "lotNumber" not in result


def test_procedure_dates_become_years():
    procedure = {
        "resourceType": "Procedure",
        "status": "completed",
        "code": {"coding": [{"system": SNOMED, "code": "80146002"}]},
        "subject": {"reference": "Patient/mrn-004217"},
        "performedPeriod": {"start": "2024-08-03T07:00:00Z", "end": "2024-08-03T09:30:00Z"},
        "note": [{"text": "surgeon: Dr. Okafor"}],
    }
    result = _clean(procedure, "Okafor", "08-03")
    assert result["performedPeriod"] == {"start": "2024", "end": "2024"}


# -- Bundles and refusals ------------------------------------------------------------------------


def test_a_bundle_is_de_identified_entry_by_entry_with_consistent_references():
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": "2026-11-21T08:00:00Z",
        "identifier": {"value": "EXPORT-1"},
        "entry": [
            {"fullUrl": "https://hospital.example/fhir/Patient/mrn-004217", "resource": PATIENT},
            {"fullUrl": "https://hospital.example/fhir/Observation/obs-1", "resource": OBSERVATION},
        ],
    }
    result = Deidentifier(as_of=AS_OF).one(bundle).resource
    validate_resource(result)
    assert "hospital.example" not in _text(result) and "EXPORT-1" not in _text(result)
    patient, observation = (entry["resource"] for entry in result["entry"])
    assert observation["subject"]["reference"] == f"Patient/{patient['id']}"
    assert all(entry["fullUrl"].startswith("urn:uuid:") for entry in result["entry"])


def test_identifiers_typed_into_coded_text_are_scrubbed():
    observation = copy.deepcopy(OBSERVATION)
    observation["code"]["coding"][0]["display"] = "HbA1c for ana.rivera@example.org"
    result = _clean(observation, "ana.rivera")
    assert "display" not in result["code"]["coding"][0]


@pytest.mark.parametrize(
    ("resource", "words"),
    [
        ({"resourceType": "Practitioner", "name": [{"family": "Lee"}]}, "cannot de-identify a 'Practitioner'"),
        ({"resourceType": "Observation", "status": "final"}, "not valid FHIR"),
        (
            {**OBSERVATION, "modifierExtension": [{"url": "http://example.org/x", "valueBoolean": True}]},
            "modifierExtension",
        ),
        ({"no": "resourceType"}, "cannot de-identify"),
    ],
    ids=["unsupported-type", "invalid-original", "modifier-extension", "not-a-resource"],
)
def test_what_cannot_be_de_identified_safely_is_refused(resource, words):
    with pytest.raises(DeidentificationError, match=words):
        Deidentifier(as_of=AS_OF).one(resource)
