"""Who may post readings to the gateway: every refusal has its code and HTTP status, and a
refused request leaves nothing buffered (a request is accepted or refused whole)."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import START, device_signer


def _refusal(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_a_registered_device_posts_readings_for_consenting_patients(ward):
    device = ward.devices[0]
    response = ward.post(
        device.reading(ward.patient.address, 71, START + 1), device.reading(ward.other_patient.address, 64, START + 1)
    )
    assert (response.status_code, response.json()) == (202, {"accepted": 2})
    assert ward.gateway.health()["buffered"] == 2


def test_an_unsigned_reading_is_refused(ward):
    reading = ward.devices[0].reading(ward.patient.address, 71, START + 1)
    del reading["signature"]
    assert _refusal(ward.post(reading)) == (401, "bad-signature")


def test_a_reading_signed_by_another_device_is_refused(ward):
    first, second = ward.devices[:2]
    reading = second.reading(ward.patient.address, 71, START + 1, device=first.address)
    assert _refusal(ward.post(reading)) == (401, "bad-signature")


def test_a_reading_changed_after_signing_is_refused(ward):
    reading = ward.devices[0].reading(ward.patient.address, 71, START + 1)
    reading["observation"]["valueQuantity"]["value"] = 140
    assert _refusal(ward.post(reading)) == (401, "bad-signature")


def test_an_unregistered_device_is_refused(ward):
    assert _refusal(ward.post(ward.devices[2].reading(ward.patient.address, 71, START + 1))) == (403, "unknown-device")


def test_a_retired_device_is_refused(ward):
    device = ward.devices[0]
    ward.world.ledger(ward.world.actors.provider).streams.retire_device(device.address)
    assert _refusal(ward.post(device.reading(ward.patient.address, 71, START + 1))) == (403, "unknown-device")


def test_another_providers_device_is_refused(ward):
    stranger_device = device_signer(7)
    ward.world.ledger(ward.world.actors.researcher).streams.register_device(stranger_device.address)
    device = ward.devices[2]
    device.signer = stranger_device
    assert _refusal(ward.post(device.reading(ward.patient.address, 71, START + 1))) == (403, "unknown-device")


def test_a_suspended_providers_devices_are_refused(ward):
    ward.world.ledger(ward.world.actors.registrar).providers.suspend(ward.world.actors.provider.address)
    assert _refusal(ward.post(ward.devices[0].reading(ward.patient.address, 71, START + 1))) == (
        403,
        "unknown-device",
    )


def test_a_replayed_request_is_refused(ward):
    reading = ward.devices[0].reading(ward.patient.address, 71, START + 1)
    assert ward.post(reading).status_code == 202
    assert _refusal(ward.post(reading)) == (409, "replayed")


def test_a_device_whose_time_goes_backwards_is_refused(ward):
    device = ward.devices[0]
    assert ward.post(device.reading(ward.patient.address, 71, START + 5)).status_code == 202
    assert _refusal(ward.post(device.reading(ward.patient.address, 72, START + 4))) == (409, "replayed")


def test_a_reading_for_a_patient_without_consent_is_refused(ward):
    ward.world.ledger(ward.world.actors.other_patient).consent.revoke(ward.world.actors.provider.address)
    device = ward.devices[0]
    response = ward.post(
        device.reading(ward.patient.address, 71, START + 1), device.reading(ward.other_patient.address, 64, START + 1)
    )
    assert _refusal(response) == (403, "no-consent")
    assert ward.gateway.health()["buffered"] == 0


@pytest.mark.parametrize("offset", [-300, 300])
def test_a_reading_far_from_the_gateways_clock_is_refused(ward, offset):
    ward.clock.now = START + 400
    reading = ward.devices[0].reading(ward.patient.address, 71, START + 400 + offset)
    assert _refusal(ward.post(reading)) == (409, "stale-reading")


def test_a_reading_for_a_closed_window_is_refused(ward):
    device = ward.devices[0]
    ward.clock.now = START + 13  # the first window [START, START + 10) closed at + 12
    assert _refusal(ward.post(device.reading(ward.patient.address, 71, START + 5))) == (409, "stale-reading")


def test_an_invalid_observation_is_refused(ward):
    device = ward.devices[0]
    reading = device.reading(ward.patient.address, 71, START + 1)
    bad = dict(reading["observation"], status="invented")
    reading = device.reading(ward.patient.address, 71, START + 1)
    reading["observation"] = bad
    status, code = _refusal(ward.post(reading))
    assert (status, code) == (400, "bad-reading")


def test_a_body_that_is_not_json_or_too_large_is_refused(ward):
    url = ward.server.url + "/v1/readings"
    assert _refusal(ward.http.post(url, content=b"{not json")) == (400, "bad-request")
    assert _refusal(ward.http.post(url, content=b" " * (ward.gateway.policy.max_body_bytes + 1))) == (413, "too-large")
    assert _refusal(ward.http.post(url, json={"readings": []})) == (400, "bad-request")
