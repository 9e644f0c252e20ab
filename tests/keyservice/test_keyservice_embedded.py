"""Key-release services in-process on the embedded chain (what `medledger demo` runs): three
services (2 of 3) served from threads, reading py-evm through web3's provider."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from eth_utils import keccak

from medledger.chain.accounts import Signer, anvil_account
from medledger.chain.connection import connect, fund_signers
from medledger.chain.deploy import LedgerSettings, deploy
from medledger.crypto.container import AccountRecipient, ServiceRecipient, ThresholdPolicy, encrypt_stream
from medledger.crypto.keys import derive_encryption_keypair
from medledger.flows import Session
from medledger.flows.release import fetch_blob, log_read, read_record, release_key
from medledger.keyservice.client import KeyReleaseClient
from medledger.keyservice.config import ServiceConfig
from medledger.keyservice.errors import ReleaseFailedError
from medledger.keyservice.server import ServiceThread
from medledger.keyservice.service import ReleaseService
from medledger.ledger import MedLedger, ProviderKind
from medledger.scopes import Category, Permission, Purpose, mask
from medledger.storage import LocalBlockStore


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:  # type: ignore[type-arg]
    root = tmp_path_factory.mktemp("embedded-keyservice")
    chain = connect("embedded")
    admin, registrar, clinic, patient = (anvil_account(i) for i in (0, 1, 2, 3))
    services = [Signer.from_private_key(keccak(text=f"embedded key service {i}")) for i in range(3)]
    fund_signers(chain, [admin, registrar, clinic, patient, *services])
    deployment = deploy(chain, admin, settings=LedgerSettings(admin_delay_seconds=60))
    ledger = MedLedger.from_deployment(chain, deployment, signer=admin)
    ledger.providers.add_registrar(registrar.address)
    ledger.as_signer(registrar).providers.register(clinic.address, ProviderKind.CLINICIAN)
    keys = [derive_encryption_keypair(s.private_key_bytes()).public for s in services]
    ledger.services.propose([s.address for s in services], keys, 2)
    chain.increase_time(61)
    threads = []
    for index, signer in enumerate(services):
        config = ServiceConfig(
            rpc_url="http://embedded.invalid",
            ledger=deployment.ledger_address,
            chain_id=chain.chain_id,
            database=root / f"releases-{index}.sqlite",
            private_key_env="UNUSED",
        )
        thread = ServiceThread(ReleaseService(config, signer=signer, chain=chain)).start()
        threads.append(thread)
        ledger.as_signer(signer).services.set_endpoint(thread.url)
    store = LocalBlockStore(root / "blocks", fsync=False)
    client = KeyReleaseClient()
    try:
        yield {
            "chain": chain,
            "deployment": deployment,
            "store": store,
            "patient": patient,
            "clinic": clinic,
            "keys": keys,
            "root": root,
            "client": client,
        }
    finally:
        client.close()
        for thread in threads:
            thread.stop()


def session(world: dict, signer: Signer) -> Session:  # type: ignore[type-arg]
    return Session.open(
        MedLedger.from_deployment(world["chain"], world["deployment"], signer=signer),
        world["store"],
        world["root"] / signer.address,
        world["deployment"],
    )


def publish(world: dict, category: Category, content: bytes) -> bytes:  # type: ignore[type-arg]
    patient = session(world, world["patient"])
    out = io.BytesIO()
    policy = ThresholdPolicy(1, 2, tuple(ServiceRecipient(i + 1, key) for i, key in enumerate(world["keys"])))
    encrypt_stream(
        io.BytesIO(content),
        out,
        binding=patient.binding(patient.address, category, author=patient.address),
        recipients=[AccountRecipient(patient.keypair.public)],
        threshold_policy=policy,
    )
    cid = world["store"].put(io.BytesIO(out.getvalue()))
    patient.ledger.records.add(patient.address, cid.digest, cid.codec, int(category))
    return cid.digest


def grant(world: dict, categories: list[Category]) -> None:  # type: ignore[type-arg]
    session(world, world["patient"]).ledger.consent.grant(
        world["clinic"].address,
        categories=mask(categories),
        purposes=mask([Purpose.TREAT]),
        permissions=Permission.READ,
        expiry=timedelta(days=30),
    )


def test_in_process_services_release_a_granted_read_on_the_embedded_chain(embedded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    grant(embedded, [Category.LABS])
    digest = publish(embedded, Category.LABS, b"sodium 139\n")
    read_record(
        session(embedded, embedded["clinic"]),
        embedded["patient"].address,
        digest,
        tmp_path / "labs.txt",
        client=embedded["client"],
    )
    assert (tmp_path / "labs.txt").read_bytes() == b"sodium 139\n"


def test_in_process_services_refuse_a_category_dropped_by_narrowing(embedded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    grant(embedded, [Category.LABS, Category.ALLERGIES])
    digest = publish(embedded, Category.ALLERGIES, b"penicillin\n")
    clinic = session(embedded, embedded["clinic"])
    blob = fetch_blob(clinic, embedded["patient"].address, digest, tmp_path)
    access_tx = log_read(clinic, blob)
    grant(embedded, [Category.LABS])
    with pytest.raises(ReleaseFailedError) as failed:
        release_key(clinic, blob, access_tx, client=embedded["client"])
    assert [attempt.code for attempt in failed.value.attempts] == ["no-access"] * 3
