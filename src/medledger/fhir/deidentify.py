"""De-identification of FHIR R4 resources by the HIPAA Safe Harbor method (45 CFR 164.514(b)(2)).

A patient's client publishes, for a study, de-identified copies of the resources it shares; the
study reads those copies, never the originals. Safe Harbor removes 18 classes of identifiers of the
individual and of their relatives, employers and household members. Here is what each becomes:

    (A) names                        HumanName elements (`name`, `contact`), Reference.display: removed
    (B) geography below the state    Address: line, city, district, text removed; state and
                                     country kept; a US ZIP code cut to its first 3 digits, "000"
                                     for the 17 prefixes of 20,000 people or fewer; other postal
                                     codes removed
    (C) dates except the year        every date / dateTime reduced to its year; instants (`issued`,
                                     `meta.lastUpdated`, `effectiveInstant`) removed; an age of 90 or
                                     more (birth year 90+ years before `as_of`, Age values over 89)
                                     folded into one category: birthDate removed and the
                                     `age-90-or-older` flag set, Age values become ">= 90 a"
    (D-F) telephone, fax, email      ContactPoint (`telecom`) removed
    (G-K) SSN, MRN, health plan,     every `identifier` element removed; resource ids replaced by
          account, licence numbers   random pseudonyms (consistent across the resources of one
                                     Deidentifier, never derived from the originals), references
                                     rewritten to them
    (L-M) vehicle and device ids     `identifier`, Device references, `udiCarrier`, serial numbers removed
    (N-O) URLs and IP addresses      Attachment URLs removed, any kept string that holds a URL,
                                     e-mail address, IP address, phone or SSN pattern removed
    (P-Q) biometrics, photographs    `photo`, attachments, `presentedForm`, `media` removed
    (R) any other unique code or     the narrative (`text`), notes, comments, free-text values and
        characteristic; free text    descriptions removed; `meta` and extensions removed (they may
                                     carry anything); references to practitioners, organisations,
                                     locations and relatives removed

Types handled: Patient, Observation, Condition, MedicationStatement, DiagnosticReport, Encounter,
AllergyIntolerance, Immunization, Procedure, and Bundles of them. Any other type is refused (its
identifiers are not listed here), and so is a resource with a `modifierExtension` (dropping one
could invert the resource's meaning). The result is validated with fhir.resources; the copy is
tagged with the v3 security labels PSEUDED and REDACTED.

What this does not protect against, said plainly: re-identification by linkage with other data
sets (a rare diagnosis, a year of birth, a 3-digit ZIP and a sex together can single a person
out), small cohorts, identifiers typed into coded fields, genomic data (identifying by nature),
and what the chain itself shows (which address enrolled in which study). Safe Harbor also requires
that the publisher have no actual knowledge that the rest could identify the person: that
judgement stays with people.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from medledger.errors import MedLedgerError
from medledger.fhir.validate import FhirValidationError, to_json, validate_resource

SUPPORTED_TYPES = frozenset(
    {
        "Patient",
        "Observation",
        "Condition",
        "MedicationStatement",
        "DiagnosticReport",
        "Encounter",
        "AllergyIntolerance",
        "Immunization",
        "Procedure",
        "Bundle",
    }
)
# The 3-digit ZIP prefixes whose areas held 20,000 people or fewer (2000 census, per HHS's
# Safe Harbor guidance): they become "000".
RESTRICTED_ZIP3 = frozenset(
    {
        "036",
        "059",
        "063",
        "102",
        "203",
        "556",
        "692",
        "790",
        "821",
        "823",
        "830",
        "831",
        "878",
        "879",
        "884",
        "890",
        "893",
    }
)
AGE_FLAG_URL = "https://medledger.dev/fhir/StructureDefinition/age-90-or-older"
SECURITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
SECURITY_LABELS = (
    {"system": SECURITY_SYSTEM, "code": "PSEUDED", "display": "pseudonymized"},
    {"system": SECURITY_SYSTEM, "code": "REDACTED", "display": "redacted"},
)

# Elements removed wherever they appear (names, contacts, identifiers, free text, media).
_REMOVED_KEYS = frozenset(
    {
        "identifier",
        "name",
        "telecom",
        "photo",
        "contact",
        "link",
        "meta",
        "extension",
        "implicitRules",
        "note",
        "comment",
        "description",
        "conclusion",
        "patientInstruction",
        "presentedForm",
        "media",
        "valueString",
        "valueAttachment",
        "onsetString",
        "abatementString",
        "udiCarrier",
        "serialNumber",
        "lotNumber",
        "preAdmissionIdentifier",
        "request",
        "response",
        "search",
        "signature",
    }
)
# Instants carry a time of day that cannot be cut to a year and stay valid: removed.
_INSTANT_KEYS = frozenset({"issued", "lastUpdated", "effectiveInstant", "valueInstant", "timestamp"})
# References to these types name people other than the patient, or places: removed.
_REMOVED_REFERENCE_TYPES = frozenset(
    {
        "Practitioner",
        "PractitionerRole",
        "Organization",
        "Location",
        "RelatedPerson",
        "Person",
        "Device",
        "Group",
        "HealthcareService",
        "Endpoint",
    }
)
# Keys whose value is a terminology or unit namespace, not data about the person.
_URI_KEYS = frozenset({"system"})

_DATE = re.compile(r"^(\d{4})(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$")
_SCRUB = (
    re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE),  # URLs
    re.compile(r"\bwww\.\S+", re.IGNORECASE),
    re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.IGNORECASE),  # e-mail
    re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b"),  # IPv4
    re.compile(r"\b[0-9a-f]{1,4}(:[0-9a-f]{0,4}){2,7}\b", re.IGNORECASE),  # IPv6
    re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),  # SSN
    re.compile(r"(\+\d{1,3}[\s.-]?)?\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b"),  # phone / fax
)
_RELATIVE_REFERENCE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(/_history/.*)?$")


class DeidentificationError(MedLedgerError, ValueError):
    """A resource that cannot be de-identified here (unsupported type, modifier extension, or a
    copy that would not be valid FHIR)."""


@dataclass
class Deidentified:
    """A de-identified copy and the elements removed or generalised (JSON paths), for review."""

    resource: dict[str, Any]
    removed: list[str] = field(default_factory=list)
    generalised: list[str] = field(default_factory=list)


class Deidentifier:
    """De-identifies resources by Safe Harbor; resources of one instance share pseudonyms, so
    references between the copies (Observation.subject -> Patient) still resolve.

    >>> copies = Deidentifier().many([patient, observation])
    """

    def __init__(self, *, as_of: datetime | None = None):
        self.as_of_year = (as_of or datetime.now(tz=UTC)).year
        self._pseudonyms: dict[str, str] = {}

    def pseudonym(self, resource_type: str, original_id: str) -> str:
        key = f"{resource_type}/{original_id}"
        if key not in self._pseudonyms:
            self._pseudonyms[key] = str(uuid.uuid4())
        return self._pseudonyms[key]

    def many(self, resources: Iterable[Mapping[str, Any]]) -> list[Deidentified]:
        return [self.one(resource) for resource in resources]

    def one(self, resource: Mapping[str, Any]) -> Deidentified:
        """The de-identified, validated copy of `resource` (the original is not changed)."""
        if not isinstance(resource, Mapping):
            raise DeidentificationError("a FHIR resource is a JSON object")
        kind = resource.get("resourceType")
        if kind not in SUPPORTED_TYPES:
            supported = ", ".join(sorted(SUPPORTED_TYPES))
            raise DeidentificationError(f"cannot de-identify a {kind!r} resource; supported types: {supported}")
        try:
            validate_resource(resource)
        except FhirValidationError as exc:
            raise DeidentificationError(f"the original is not valid FHIR: {exc}") from None
        result = Deidentified({})
        result.resource = self._resource(copy.deepcopy(dict(resource)), kind, result, kind)
        try:
            validated = validate_resource(result.resource)
        except FhirValidationError as exc:
            raise DeidentificationError(f"the de-identified {kind} is not valid FHIR: {exc}") from None
        result.resource = to_json(validated)
        return result

    # -- walking ----------------------------------------------------------------------------

    def _resource(self, data: dict[str, Any], kind: str, result: Deidentified, path: str) -> dict[str, Any]:
        if "modifierExtension" in data or _has_modifier_extension(data):
            raise DeidentificationError(
                f"{path} has a modifierExtension, which may change its meaning: it is not de-identified"
            )
        out = self._object(data, result, path, resource_type=kind)
        original_id = data.get("id")
        if isinstance(original_id, str):
            out["id"] = self.pseudonym(kind, original_id)
        if kind == "Patient":
            self._patient(data, out, result, path)
        if kind != "Bundle":
            out["meta"] = {"security": [dict(label) for label in SECURITY_LABELS]}
        return {"resourceType": kind, **{k: v for k, v in out.items() if k != "resourceType"}}

    def _object(
        self, data: Mapping[str, Any], result: Deidentified, path: str, *, resource_type: str | None = None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in data.items():
            where = f"{path}.{key}"
            if key == "resourceType" or (key == "id" and resource_type is not None):
                continue
            if key == "id":  # element ids: arbitrary strings
                result.removed.append(where)
                continue
            if key == "text" and (resource_type is not None or isinstance(value, str)):
                result.removed.append(where)  # the narrative, CodeableConcept.text: free text
                continue
            if key in _REMOVED_KEYS or key in _INSTANT_KEYS:
                result.removed.append(where)
                continue
            if key == "birthDate" and resource_type == "Patient":
                continue  # handled in _patient (year, or the 90-or-older category)
            if key in ("address", "valueAddress"):
                kept = self._addresses(value, result, where)
                if kept is not None:
                    out[key] = kept
                continue
            if key == "fullUrl" and isinstance(value, str):
                out[key] = "urn:uuid:" + self.pseudonym("fullUrl", value)
                result.generalised.append(where)
                continue
            if key == "resource" and isinstance(value, Mapping) and "resourceType" in value:
                inner = str(value["resourceType"])
                if inner not in SUPPORTED_TYPES or inner == "Bundle":
                    raise DeidentificationError(f"cannot de-identify a {inner!r} resource inside a Bundle")
                out[key] = self._resource(dict(value), inner, result, where)
                continue
            if _is_age(key, value):
                out[key] = self._age(value, result, where)
                continue
            kept_value = self._value(key, value, result, where)
            if kept_value is not _DROP:
                out[key] = kept_value
        return out

    def _value(self, key: str, value: Any, result: Deidentified, where: str) -> Any:
        if isinstance(value, Mapping):
            if "reference" in value or ("display" in value and _looks_like_reference(value)):
                return self._reference(value, result, where)
            if "url" in value and ("contentType" in value or "data" in value):  # an Attachment
                result.removed.append(where)
                return _DROP
            inner = self._object(value, result, where)
            return inner if inner else _DROP
        if isinstance(value, list):
            items = [self._value(key, item, result, f"{where}[{n}]") for n, item in enumerate(value)]
            kept = [item for item in items if item is not _DROP]
            return kept if kept else _DROP
        if isinstance(value, str):
            return self._string(key, value, result, where)
        return value

    def _string(self, key: str, value: str, result: Deidentified, where: str) -> Any:
        if key == "url":
            result.removed.append(where)
            return _DROP
        match = _DATE.match(value)
        if match and key not in ("code", "value", "unit", "version"):
            if match.group(2):
                result.generalised.append(where)
            return match.group(1)
        if key in _URI_KEYS:
            return value
        if any(pattern.search(value) for pattern in _SCRUB):
            result.removed.append(where)
            return _DROP
        return value

    def _reference(self, value: Mapping[str, Any], result: Deidentified, where: str) -> Any:
        reference = value.get("reference")
        if "display" in value:
            result.removed.append(f"{where}.display")
        if not isinstance(reference, str):
            result.removed.append(where)
            return _DROP
        relative = _RELATIVE_REFERENCE.match(reference)
        if relative:
            kind, original = relative.group(1), relative.group(2)
            if kind in _REMOVED_REFERENCE_TYPES:
                result.removed.append(where)
                return _DROP
            result.generalised.append(f"{where}.reference")
            return {"reference": f"{kind}/{self.pseudonym(kind, original)}"}
        if reference.startswith("urn:uuid:"):
            result.generalised.append(f"{where}.reference")
            return {"reference": "urn:uuid:" + self.pseudonym("fullUrl", reference)}
        if reference.startswith("#"):  # a contained resource: contained resources are not kept
            result.removed.append(where)
            return _DROP
        result.removed.append(where)  # an absolute URL names a server (N)
        return _DROP

    def _addresses(self, value: Any, result: Deidentified, where: str) -> Any:
        if isinstance(value, list):
            kept = [self._address(item, result, f"{where}[{n}]") for n, item in enumerate(value)]
            kept = [item for item in kept if item]
            return kept or None
        if isinstance(value, Mapping):
            return self._address(value, result, where) or None
        result.removed.append(where)
        return None

    def _address(self, value: Mapping[str, Any], result: Deidentified, where: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        country = value.get("country")
        for key, item in value.items():
            if key in ("use", "type", "state", "country") and isinstance(item, str):
                out[key] = item
            elif key == "postalCode" and isinstance(item, str):
                zip3 = zip3_of(item, country if isinstance(country, str) else None)
                if zip3 is None:
                    result.removed.append(f"{where}.postalCode")
                else:
                    out[key] = zip3
                    result.generalised.append(f"{where}.postalCode")
            elif key == "period" and isinstance(item, Mapping):
                period = self._object(item, result, f"{where}.period")
                if period:
                    out[key] = period
            else:
                result.removed.append(f"{where}.{key}")
        return out

    def _age(self, value: Mapping[str, Any], result: Deidentified, where: str) -> dict[str, Any]:
        out = self._object(value, result, where)
        number = value.get("value")
        if isinstance(number, int | float) and _age_years(value, number) > 89:
            out["value"] = 90
            out["comparator"] = ">="
            out.update({"unit": "a", "system": "http://unitsofmeasure.org", "code": "a"})
            result.generalised.append(f"{where}.value")
        return out

    def _patient(self, data: Mapping[str, Any], out: dict[str, Any], result: Deidentified, path: str) -> None:
        birth = data.get("birthDate")
        if not isinstance(birth, str):
            return
        year = int(birth[:4])
        if self.as_of_year - year >= 90:
            # Ages over 89 and the dates that show them fold into one category (90 or older).
            result.removed.append(f"{path}.birthDate")
            out["extension"] = [{"url": AGE_FLAG_URL, "valueBoolean": True}]
        else:
            out["birthDate"] = f"{year:04d}"
            if len(birth) > 4:
                result.generalised.append(f"{path}.birthDate")


_DROP = object()


def zip3_of(postal_code: str, country: str | None) -> str | None:
    """The Safe Harbor form of a postal code: a US ZIP's first 3 digits ("000" for the restricted
    prefixes); None (remove it) for anything else."""
    digits = postal_code.strip()
    us = country is None or country.strip().upper() in ("US", "USA", "UNITED STATES")
    if not us or not re.fullmatch(r"\d{5}(-\d{4})?", digits):
        return None
    prefix = digits[:3]
    return "000" if prefix in RESTRICTED_ZIP3 else prefix


def _is_age(key: str, value: Any) -> bool:
    if not isinstance(value, Mapping) or "value" not in value:
        return False
    if key.endswith("Age"):
        return True
    return key == "valueQuantity" and value.get("code") in ("a", "ann") and "unitsofmeasure" in str(value.get("system"))


def _age_years(value: Mapping[str, Any], number: float) -> float:
    unit = str(value.get("code") or value.get("unit") or "a")
    per_year = {"a": 1, "ann": 1, "mo": 12, "wk": 52.1775, "d": 365.25, "h": 8766.0, "min": 525960.0}
    return float(number) / per_year.get(unit, 1)


def _looks_like_reference(value: Mapping[str, Any]) -> bool:
    return set(value) <= {"reference", "display", "type", "identifier"}


def _has_modifier_extension(value: Any) -> bool:
    if isinstance(value, Mapping):
        return "modifierExtension" in value or any(_has_modifier_extension(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_modifier_extension(v) for v in value)
    return False


def deidentify(resource: Mapping[str, Any], *, as_of: datetime | None = None) -> dict[str, Any]:
    """The Safe Harbor de-identified copy of one resource (see the module docstring)."""
    return Deidentifier(as_of=as_of).one(resource).resource
