"""A window is a record like any other: a reader who is neither the patient nor the provider reads
it through the key-release services (the read logged on chain first), and verifies it; without
READ consent the services release nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from eth_utils import keccak

from medledger.chain.accounts import Signer
from medledger.chain.connection import connect
from medledger.crypto import derive_encryption_keypair
from medledger.flows import Session, release
from medledger.flows.consent import grant, setup_account
from medledger.flows.errors import AccessDeniedError
from medledger.flows.windows import read_window
from medledger.keyservice.config import ServiceConfig
from medledger.keyservice.server import ServiceThread
from medledger.keyservice.service import ReleaseService
from medledger.scopes import Permission, Purpose, mask
from medledger.storage import Cid
from tests.gateway.conftest import CATEGORY, START

ADMIN_DELAY = 2 * 86400


def _service(index: int) -> Signer:
    return Signer.from_private_key(keccak(text=f"medledger gateway test key-release service {index}"))


@pytest.fixture
def services(ward, anvil, tmp_path) -> Iterator[list[ServiceThread]]:
    """A current 2-of-3 service set, served in threads of this process (before any window is sealed)."""
    world = ward.world
    signers = [_service(i) for i in range(1, 4)]
    keys = [derive_encryption_keypair(s.private_key_bytes()).public for s in signers]
    world.ledger(world.actors.admin).services.propose([s.address for s in signers], keys, 2)
    world.chain.increase_time(ADMIN_DELAY + 1)
    threads = []
    try:
        for index, signer in enumerate(signers, start=1):
            anvil.rpc("anvil_setBalance", [signer.address, hex(10**20)])
            config = ServiceConfig(
                rpc_url=anvil.rpc_url,
                ledger=world.deployment.ledger_address,
                chain_id=world.chain.chain_id,
                database=tmp_path / f"releases-{index}.sqlite",
                private_key_env="MEDLEDGER_UNUSED",
            )
            thread = ServiceThread(ReleaseService(config, signer=signer, chain=connect(anvil.rpc_url))).start()
            threads.append(thread)
            world.ledger(signer).services.set_endpoint(thread.url)
        yield threads
    finally:
        with release._default_lock:
            if release._default_client is not None:
                release._default_client.close()
                release._default_client = None
        for thread in threads:
            thread.stop()


@pytest.fixture
def reader(ward, kubo, tmp_path) -> Session:
    session = Session.open(ward.world.ledger(ward.world.actors.researcher), kubo, tmp_path / "reader", None)
    setup_account(session)
    return session


def _anchored_digest(ward) -> bytes:
    device = ward.devices[0]
    readings = [device.reading(ward.patient.address, 60 + s, START + s) for s in range(4)]
    assert ward.post(*readings).status_code == 202
    ward.anchor_all()
    proof = ward.http.get(f"{ward.server.url}/v1/proofs/{device.address}/0").json()
    return Cid.parse(proof["cid"]).digest


def test_a_reader_with_read_consent_reads_a_window_through_the_services(ward, services, reader):
    digest = _anchored_digest(ward)
    grant(
        ward.patient,
        reader.address,
        categories=mask([CATEGORY]),
        purposes=mask([Purpose.TREAT]),
        permissions=Permission.READ,
        expiry=timedelta(days=30),
    )
    _, verification = read_window(reader, ward.patient.address, digest)
    assert verification.ok and verification.count == 4
    logged = ward.world.ledger().events("AccessLogged", accessor=reader.address)
    assert [bytes(e["args"]["digest"]) for e in logged] == [digest]


def test_a_reader_without_consent_gets_no_key(ward, services, reader):
    digest = _anchored_digest(ward)
    with pytest.raises(AccessDeniedError):
        read_window(reader, ward.patient.address, digest)
    assert ward.world.ledger().events("AccessLogged", accessor=reader.address) == []
