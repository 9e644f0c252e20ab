"""Fixtures for the gateway tests: the session's anvil (snapshot per test) and the real js-ipfs
daemon; a provider with an authorised gateway account and registered devices; two patients who
granted the provider WRITE for the gateway's category and published their keys; a Gateway on a
clock the test moves, served over HTTP on a free loopback port (a thread of the test process)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_utils import keccak

from medledger.chain.accounts import Signer, anvil_account
from medledger.devnet.ipfs import IpfsDaemon
from medledger.flows import Session
from medledger.flows.consent import grant, setup_account
from medledger.flows.windows import reading_digest, sign_reading
from medledger.gateway import Gateway, GatewayPolicy, GatewayStore
from medledger.gateway.server import GatewayThread
from medledger.scopes import Category, Permission, Purpose, mask
from medledger.storage import KuboStore

CATEGORY = int(Category.LABS)
GATEWAY = anvil_account(9)
START = 1_900_000_000  # the test clock's first second: the start of a window
WINDOW = 10


def device_signer(index: int) -> Signer:
    return Signer.from_private_key(keccak(text=f"gateway test device {index}"))


class Clock:
    """The gateway's clock, moved by the test."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Device:
    """A simulated device: its key and its sequence counter."""

    signer: Signer
    chain_id: int
    stream_anchors: str
    sequence: int = 0

    @property
    def address(self) -> str:
        return self.signer.address

    def reading(self, patient: str, value: float, timestamp: int, **overrides: Any) -> dict[str, Any]:
        """A heart-rate Observation about `patient`, signed (then `overrides` applied, unsigned)."""
        from medledger.flows.windows import reading_hash

        observation = heart_rate(self.chain_id, patient, value, timestamp)
        sequence = self.sequence
        self.sequence += 1
        digest = reading_digest(
            self.chain_id, self.stream_anchors, self.address, sequence, timestamp, reading_hash(observation)
        )
        signed = {
            "device": self.address,
            "sequence": sequence,
            "timestamp": timestamp,
            "observation": observation,
            "signature": "0x" + sign_reading(self.signer.private_key_bytes(), digest).hex(),
        }
        signed.update(overrides)
        return signed


def heart_rate(chain_id: int, patient: str, value: float, timestamp: int) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"identifier": {"system": "urn:ietf:rfc:3986", "value": f"eip155:{chain_id}:{patient}"}},
        "effectiveDateTime": datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "valueQuantity": {
            "value": value,
            "unit": "beats/minute",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }


@dataclass
class Ward:
    """Everything a gateway test needs."""

    world: Any
    gateway: Gateway
    server: GatewayThread
    clock: Clock
    devices: list[Device]
    patient: Session
    other_patient: Session
    provider: Session
    http: httpx.Client
    home: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def post(self, *readings: dict[str, Any]) -> httpx.Response:
        return self.http.post(self.server.url + "/v1/readings", json={"readings": list(readings)})

    def anchor_all(self) -> None:
        self.gateway.seal(force=True)
        self.gateway.anchor_pending()


@pytest.fixture
def kubo(ipfs_daemon: IpfsDaemon) -> Iterator[KuboStore]:
    store = KuboStore(ipfs_daemon.api_url, block_timeout=5.0, has_timeout=0.5, pin_timeout=5.0)
    yield store
    store.close()


@pytest.fixture
def ward(world, kubo: KuboStore, tmp_path: Path) -> Iterator[Ward]:
    actors = world.actors
    provider_streams = world.ledger(actors.provider).streams
    provider_streams.authorize_gateway(GATEWAY.address)
    signers = [device_signer(i) for i in range(3)]
    for signer in signers[:2]:  # device 2 stays unregistered
        provider_streams.register_device(signer.address)

    def session(signer: Signer, name: str) -> Session:
        return Session.open(world.ledger(signer), kubo, tmp_path / name, world.deployment)

    patient, other, provider = (
        session(actors.patient, "patient"),
        session(actors.other_patient, "other"),
        session(actors.provider, "provider"),
    )
    for person in (patient, other, provider):
        setup_account(person)
    for person in (patient, other):
        grant(
            person,
            actors.provider.address,
            categories=mask([CATEGORY]),
            purposes=mask([Purpose.TREAT]),
            permissions=Permission.READ | Permission.WRITE,
            expiry=timedelta(days=30),
        )
    clock = Clock(START + 1)
    policy = GatewayPolicy(
        category=CATEGORY, window_seconds=WINDOW, grace_seconds=2, cache_seconds=0.0, seal_interval=3600
    )
    gateway = Gateway(session(GATEWAY, "gateway"), GatewayStore(tmp_path / "gateway.sqlite"), policy, clock=clock)
    gateway.started = START
    server = GatewayThread(gateway).start()
    chain_id, anchors = world.chain.chain_id, provider_streams.address
    devices = [Device(signer, chain_id, anchors) for signer in signers]
    http = httpx.Client(timeout=30.0)
    try:
        yield Ward(world, gateway, server, clock, devices, patient, other, provider, http, tmp_path)
    finally:
        http.close()
        server.stop()
        gateway.close()
