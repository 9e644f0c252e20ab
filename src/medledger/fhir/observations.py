"""Validation of device Observations at stream rates.

A bedside monitor sends the same Observation every second with only its value and time changed.
Validating each with the `fhir.resources` models costs about a millisecond; here each distinct
*shape* (the Observation with its value and times replaced by fixed valid ones) is validated once
with `validate_resource`, and the varying primitives are checked by hand against FHIR's own
definitions (a decimal is a finite JSON number; dateTime and instant follow FHIR's regular
expressions). An Observation is accepted exactly when the models accept its shape and its
primitives are well-formed, which is what the models would decide for the whole resource.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from .validate import FhirValidationError, validate_resource

__all__ = ["ObservationValidator"]

# FHIR R4 primitive types (http://hl7.org/fhir/R4/datatypes.html)
_DATE_TIME = re.compile(
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
    r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])"
    r"(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?"
)
_INSTANT = re.compile(
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
)
_FIXED_TIME = "2000-01-01T00:00:00Z"
_VARYING_TIMES = {"effectiveDateTime": _DATE_TIME, "issued": _INSTANT, "effectiveInstant": _INSTANT}


class ObservationValidator:
    """Validates Observations, remembering the shapes the models accepted (at most `capacity`)."""

    def __init__(self, capacity: int = 4096):
        self._capacity = capacity
        self._accepted: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def validate(self, observation: Mapping[str, Any]) -> None:
        """Raise FhirValidationError naming the problem unless `observation` is a valid Observation."""
        if not isinstance(observation, Mapping) or observation.get("resourceType") != "Observation":
            raise FhirValidationError("Observation", ["resourceType: expected 'Observation'"])
        shape = dict(observation)
        for element, pattern in _VARYING_TIMES.items():
            if element in shape:
                value = shape[element]
                if not isinstance(value, str) or pattern.fullmatch(value) is None:
                    raise FhirValidationError("Observation", [f"{element}: {value!r} is not a valid FHIR {element}"])
                shape[element] = _FIXED_TIME
        quantity = shape.get("valueQuantity")
        if isinstance(quantity, Mapping) and "value" in quantity:
            value = quantity["value"]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise FhirValidationError("Observation", [f"valueQuantity.value: {value!r} is not a decimal"])
            shape["valueQuantity"] = {**quantity, "value": 0}
        try:
            key = json.dumps(shape, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):
            raise FhirValidationError("Observation", ["the resource is not plain JSON"]) from None
        with self._lock:
            if key in self._accepted:
                self._accepted.move_to_end(key)
                return
        validate_resource(shape, resource_type="Observation")
        with self._lock:
            self._accepted[key] = None
            if len(self._accepted) > self._capacity:
                self._accepted.popitem(last=False)
