"""`medledger gateway`: a provider credentials a gateway and devices, the gateway serves readings
from the command line and anchors them when stopped, the patient verifies the window; bad input
is one line and exit 2, a refusal one line and exit 3."""

from __future__ import annotations

import signal
import subprocess
import time

import httpx
from eth_utils import keccak

from medledger.chain.accounts import Signer, anvil_account
from medledger.devnet.ports import free_loopback_port
from medledger.flows.windows import reading_digest, reading_hash, sign_reading

from .conftest import CLINIC, PATIENT, STRANGER, Cli, address, assert_clear_failure, clean_environ, medledger_executable

GATEWAY = 6
DEVICE = Signer.from_private_key(keccak(text="cli gateway test device"))
BAD_INPUT, REFUSED = 2, 3


def _credential(world: Cli) -> None:
    world.ok("gateway", "authorize", address(GATEWAY), account=CLINIC)
    world.ok("gateway", "device", "add", DEVICE.address, account=CLINIC)
    world.ok(
        "consent",
        "grant",
        address(CLINIC),
        "--categories",
        "labs",
        "--purpose",
        "treatment",
        "--access",
        "read,write",
        "--expires",
        "30d",
        "--yes",
        account=PATIENT,
    )


def test_a_provider_registers_and_retires_a_device(world):
    world.ok("gateway", "device", "add", DEVICE.address, account=CLINIC)
    assert world.json("gateway", "device", "status", DEVICE.address)["active"] is True
    world.ok("gateway", "device", "retire", DEVICE.address, account=CLINIC)
    status = world.json("gateway", "device", "status", DEVICE.address)
    assert (status["provider"], status["retired"], status["active"]) == (address(CLINIC), True, False)


def test_only_an_active_provider_registers_a_device(world):
    line = assert_clear_failure(world.invoke("gateway", "device", "add", DEVICE.address, account=STRANGER), REFUSED)
    assert "provider" in line.lower()


def test_a_grace_as_long_as_the_window_is_bad_input(world):
    result = world.invoke("gateway", "serve", "--window", "10", "--grace", "10", account=GATEWAY)
    assert "--grace" in assert_clear_failure(result, BAD_INPUT)


def test_a_digest_that_is_not_hex_is_bad_input(world):
    result = world.invoke("gateway", "verify", address(PATIENT), "not-a-digest", account=PATIENT)
    assert "DIGEST" in assert_clear_failure(result, BAD_INPUT)


def test_an_unauthorised_gateway_does_not_start(world):
    result = world.invoke("gateway", "serve", "--port", "0", account=STRANGER)
    assert "authorize" in assert_clear_failure(result, REFUSED)


def test_served_readings_are_anchored_on_stop_and_the_patient_verifies_them(world):
    _credential(world)
    port = free_loopback_port()
    argv = [
        medledger_executable(),
        *world.argv(
            ["gateway", "serve", "--port", str(port), "--window", "60"], account=GATEWAY, connect=True, as_json=False
        ),
    ]
    server = subprocess.Popen(
        argv,
        cwd=world.workdir,
        env=clean_environ(world.env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(url + "/health", timeout=2).json()
                break
            except httpx.HTTPError:
                assert server.poll() is None and time.monotonic() < deadline, (
                    server.stderr.read() if server.stderr else ""
                )
                time.sleep(0.2)
        chain_id, anchors = health["chainId"], health["streamAnchors"]
        readings = []
        for sequence in range(3):
            now = int(time.time())
            observation = {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                "subject": {"reference": f"Patient/{address(PATIENT)}"},
                "valueQuantity": {"value": 70 + sequence, "unit": "/min"},
            }
            digest = reading_digest(chain_id, anchors, DEVICE.address, sequence, now, reading_hash(observation))
            readings.append(
                {
                    "device": DEVICE.address,
                    "sequence": sequence,
                    "timestamp": now,
                    "observation": observation,
                    "signature": "0x" + sign_reading(DEVICE.private_key_bytes(), digest).hex(),
                }
            )
        assert httpx.post(url + "/v1/readings", json={"readings": readings}, timeout=30).status_code == 202
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=120) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    events = world.json("record", "list", "--patient", address(PATIENT), account=PATIENT)
    records = events if isinstance(events, list) else events.get("records", [])
    digests = [r["digest"] for r in records if str(r.get("author")).lower() == address(CLINIC).lower()]
    assert len(digests) == 1, records
    verified = world.json("gateway", "verify", address(PATIENT), digests[0], account=PATIENT)
    assert (verified["ok"], verified["count"], verified["devices"]) == (True, 3, [DEVICE.address])
    assert anvil_account(GATEWAY).address == verified["gateway"]
