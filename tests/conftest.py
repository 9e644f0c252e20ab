"""Shared fixtures: one real anvil for the session, a fresh deployment, snapshot/revert per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from medledger.chain.accounts import Signer, anvil_account
from medledger.chain.connection import Chain, connect
from medledger.chain.deploy import Deployment, deploy
from medledger.devnet.anvil import AnvilNode
from medledger.devnet.ipfs import IpfsDaemon
from medledger.ledger import MedLedger, ProviderKind

# tests/brownie runs under eth-brownie in its own venv (`make brownie-test`), not here.
collect_ignore = ["brownie"]


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilNode]:
    node = AnvilNode().start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def ipfs_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IpfsDaemon]:
    """One real js-ipfs daemon (npm `ipfs`), offline, on loopback, stopped by its process group."""
    with IpfsDaemon(tmp_path_factory.mktemp("ipfs") / "repo") as daemon:
        yield daemon


@pytest.fixture(scope="session")
def anvil_chain(anvil: AnvilNode) -> Chain:
    return connect(anvil.rpc_url)


@dataclass(frozen=True)
class Actors:
    """The cast of every test: each role a separate anvil dev account."""

    admin: Signer
    registrar: Signer
    provider: Signer  # an active clinician
    suspended: Signer  # a clinician the registrar suspended
    patient: Signer
    stranger: Signer  # no role at all
    researcher: Signer  # a second active provider
    other_patient: Signer


@pytest.fixture(scope="session")
def actors() -> Actors:
    return Actors(*(anvil_account(i) for i in range(8)))


@dataclass
class World:
    chain: Chain
    deployment: Deployment
    actors: Actors

    def ledger(self, signer: Signer | None = None) -> MedLedger:
        return MedLedger.from_deployment(self.chain, self.deployment, signer=signer)


@pytest.fixture(scope="session")
def deployed_world(anvil_chain: Chain, actors: Actors) -> World:
    """A deployment with a registrar, two active providers and one suspended provider."""
    deployment = deploy(anvil_chain, actors.admin)
    world = World(anvil_chain, deployment, actors)
    world.ledger(actors.admin).providers.add_registrar(actors.registrar.address)
    registrar = world.ledger(actors.registrar).providers
    registrar.register(actors.provider.address, ProviderKind.CLINICIAN)
    registrar.register(actors.suspended.address, ProviderKind.CLINICIAN)
    registrar.register(actors.researcher.address, ProviderKind.RESEARCHER)
    registrar.suspend(actors.suspended.address)
    return world


@pytest.fixture
def world(deployed_world: World, anvil: AnvilNode) -> Iterator[World]:
    """The deployed world, restored to its initial state after each test."""
    snapshot = anvil.snapshot()
    try:
        yield deployed_world
    finally:
        anvil.revert(snapshot)
