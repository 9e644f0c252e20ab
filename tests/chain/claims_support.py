"""The claims tests' cast and setting: a Claims module beside the session deployment, two
insurers, an ERC-20 per insurer, a patient covered by the first insurer, escrow funded.

`claims_env` is module-scoped and sets itself up inside its own anvil snapshot (reverted when the
module ends), so the rest of the suite never sees it; each test still runs inside `world`'s
snapshot, so whatever a test does is undone after it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from web3.contract import Contract

from medledger.chain.accounts import Signer, anvil_account
from medledger.chain.artifacts import load_artifact
from medledger.chain.errors import ContractRevertError
from medledger.chain.reverts import RevertDecoder
from medledger.chain.transactions import Receipt, TransactionSender
from medledger.ledger import ProviderKind
from medledger.ledger.claims import ClaimsClient, ClaimsSettings, deploy_claims_contract, encounter_digest
from medledger.scopes import Category, Permission, Purpose, mask

ROOT = Path(__file__).resolve().parents[2]
TOKEN_ARTIFACT = ROOT / "tests" / "artifacts" / "MockMisbehavingERC20.json"
DAY = 86400
SETTINGS = ClaimsSettings(timely_filing_seconds=90 * DAY, adjudication_seconds=30 * DAY, appeal_seconds=60 * DAY)
BILLING = int(Category.BILLING)
LABS = int(Category.LABS)
CODEC_RAW = 0x55
UNIT = 10**6  # the tokens have 6 decimals' worth of units in these tests (amounts like 120.50 = 120_500_000)
FUNDED = 10_000 * UNIT
BILLED = 120 * UNIT + 500_000


def refusal(call: Callable[[], Any]) -> str:
    """The custom error a call reverts with."""
    with pytest.raises(ContractRevertError) as caught:
        call()
    return caught.value.error


@dataclass
class Token:
    """An ERC-20 on the test chain: the shipped SettlementToken (OpenZeppelin's ERC20), or
    tests/artifacts/MockMisbehavingERC20 (the same with a switch for misbehaviour)."""

    contract: Contract
    sender: TransactionSender

    @property
    def address(self) -> str:
        return str(self.contract.address)

    def send(self, signer: Signer, function: Any) -> Receipt:
        return self.sender.send(signer, function)

    def mint(self, signer: Signer, to: str, amount: int) -> None:
        self.send(signer, self.contract.functions.mint(to, amount))

    def approve(self, signer: Signer, spender: str, amount: int) -> None:
        self.send(signer, self.contract.functions.approve(spender, amount))

    def balance(self, account: str) -> int:
        return int(self.contract.functions.balanceOf(account).call())

    def set_mode(self, signer: Signer, mode: int) -> None:
        self.send(signer, self.contract.functions.setMode(mode))


NORMAL, RETURN_FALSE, REVERT, REENTER, FEE = range(5)


def deploy_token(world: Any, deployer: Signer, *, misbehaving: bool = False) -> Token:
    if misbehaving:
        artifact = json.loads(TOKEN_ARTIFACT.read_text())
        abi, bytecode, args = artifact["abi"], artifact["bytecode"], ()
    else:
        shipped = load_artifact("SettlementToken")
        abi, bytecode, args = shipped.abi, shipped.bytecode, ("Test USD", "TUSD", 6)
    # Refusals relayed from Claims are decoded too.
    sender = TransactionSender(world.chain, RevertDecoder(abi + load_artifact("Claims").abi))
    factory = world.chain.w3.eth.contract(abi=abi, bytecode=bytecode)
    receipt = sender.deploy(deployer, factory.constructor(*args))
    return Token(world.chain.w3.eth.contract(address=receipt.raw["contractAddress"], abi=abi), sender)


@dataclass
class ClaimsEnv:
    world: Any
    claims: ClaimsClient  # read-only view
    insurer: Signer
    other_insurer: Signer
    token: Token
    other_token: Token
    coverage_id: bytes
    coverage_digest: bytes

    @property
    def actors(self) -> Any:
        return self.world.actors

    @property
    def patient(self) -> Signer:
        return self.world.actors.patient

    @property
    def provider(self) -> Signer:
        return self.world.actors.provider

    def as_(self, signer: Signer) -> ClaimsClient:
        return self.claims.as_signer(signer)

    def record(self, author: Signer, category: int = BILLING, patient: Signer | None = None) -> bytes:
        """A fresh record of the patient authored by `author` (its digest)."""
        digest = os.urandom(32)
        self.world.ledger(author).records.add((patient or self.patient).address, digest, CODEC_RAW, category)
        return digest

    def submit(
        self,
        *,
        encounter: str | None = None,
        billed: int = BILLED,
        service_date: int | None = None,
        provider: Signer | None = None,
        coverage_id: bytes | None = None,
    ) -> bytes:
        """The provider bills one encounter under the patient's coverage; the claim id."""
        provider = provider or self.provider
        digest = self.record(provider)
        service = service_date if service_date is not None else self.world.chain.now() - DAY
        _, claim_id = self.as_(provider).submit(
            coverage_id or self.coverage_id,
            encounter_digest(self.patient.address, encounter or os.urandom(8).hex()),
            digest,
            service,
            billed,
        )
        return claim_id

    def approved(self, *, approved: int = 100 * UNIT, share: int = 20 * UNIT + 500_000) -> bytes:
        claim_id = self.submit()
        self.as_(self.insurer).adjudicate(claim_id, approved, share)
        return claim_id

    def escrow(self, insurer: Signer | None = None, token: Token | None = None) -> int:
        return self.claims.escrow_of((insurer or self.insurer).address, (token or self.token).address)


def grant(world: Any, patient: Signer, grantee: str, categories: list[int], purposes: list[int]) -> None:
    world.ledger(patient).consent.grant(
        grantee,
        categories=mask(categories),
        purposes=mask(purposes),
        permissions=Permission.READ | Permission.WRITE,
        expiry=timedelta(days=365),
    )


@pytest.fixture(scope="module")
def claims_env(deployed_world: Any, anvil: Any) -> Iterator[ClaimsEnv]:
    world = deployed_world
    snapshot = anvil.snapshot()
    try:
        actors = world.actors
        insurer, other_insurer = anvil_account(8), anvil_account(9)
        registrar = world.ledger(actors.registrar).providers
        registrar.register(insurer.address, ProviderKind.INSURER)
        registrar.register(other_insurer.address, ProviderKind.INSURER)
        claims = deploy_claims_contract(world.chain, actors.admin, world.deployment.ledger_address, SETTINGS)
        claims = ClaimsClient(world.chain, claims.address)
        token, other_token = deploy_token(world, insurer), deploy_token(world, other_insurer)
        for patient in (actors.patient, actors.other_patient):
            grant(world, patient, insurer.address, [BILLING, LABS], [Purpose.HPAYMT])
            grant(world, patient, other_insurer.address, [BILLING, LABS], [Purpose.HPAYMT])
            grant(world, patient, actors.provider.address, [BILLING, LABS], [Purpose.TREAT, Purpose.HPAYMT])
        # The insurer publishes the patient's Coverage as a billing record, then registers it.
        coverage_digest = os.urandom(32)
        world.ledger(insurer).records.add(actors.patient.address, coverage_digest, CODEC_RAW, BILLING)
        now = world.chain.now()
        _, coverage_id = claims.as_signer(insurer).register_coverage(
            actors.patient.address, coverage_digest, token.address, now - 365 * DAY, now + 365 * DAY
        )
        for who, tok in ((insurer, token), (other_insurer, other_token)):
            tok.mint(who, who.address, FUNDED)
            tok.approve(who, claims.address, 2**256 - 1)
            claims.as_signer(who).fund(tok.address, FUNDED // 2)
        yield ClaimsEnv(world, claims, insurer, other_insurer, token, other_token, coverage_id, coverage_digest)
    finally:
        anvil.revert(snapshot)


@pytest.fixture
def env(claims_env: ClaimsEnv, world: Any) -> ClaimsEnv:
    """`claims_env` inside the test's own snapshot."""
    return claims_env
