"""Shared setup of the Studies tests: a token, a Studies contract beside the session's ledger, and
helpers that register a study and enrol a patient the way the clients do (a de-identified record
published after the study was registered, research consent to the researcher, the enrolment)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from eth_utils import keccak

from medledger.chain.accounts import Signer
from medledger.chain.errors import ContractRevertError
from medledger.ledger.studies import StudiesClient, StudyTerms, deploy_studies
from medledger.ledger.tokens import TokenClient, deploy_token
from medledger.scopes import Category, Permission, Purpose, mask

REWARD = 25_000_000  # 25.00 of a 6-decimal token
PLACES = 3
LABS = int(Category.LABS)
DAY = 86_400


@dataclass
class StudyEnv:
    world: Any
    token: TokenClient  # minted by the admin
    studies: StudiesClient  # the researcher's view

    @property
    def researcher(self) -> Signer:
        return self.world.actors.researcher

    def as_(self, signer: Signer) -> StudiesClient:
        return self.studies.as_signer(signer)

    def terms(self, **overrides: Any) -> StudyTerms:
        now = self.world.chain.now()
        values: dict[str, Any] = {
            "token": self.token.address,
            "reward": REWARD,
            "max_participants": PLACES,
            "categories": mask([Category.LABS]),
            "enrolment_end": now + 7 * DAY,
            "end": now + 30 * DAY,
            "protocol_digest": keccak(text="protocol v1"),
            "protocol_codec": 0x55,
            "approval_digest": keccak(text="ethics approval 2026-114"),
            "approval_codec": 0x55,
        }
        values.update(overrides)
        return StudyTerms(**values)

    def fund(self, amount: int, owner: Signer | None = None) -> None:
        owner = owner or self.researcher
        self.token.mint(owner.address, amount)
        self.token.as_signer(owner).approve(self.studies.address, amount)

    def register(self, **overrides: Any) -> int:
        terms = self.terms(**overrides)
        self.fund(terms.deposit)
        study_id, _ = self.studies.register(terms)
        return study_id

    def publish(self, patient: Signer, label: str = "copy", category: int = LABS) -> bytes:
        """The patient's client publishes a de-identified copy as a record of theirs."""
        digest = keccak(text=f"{patient.address} {label}")
        self.world.ledger(patient).records.add(patient.address, digest, 0x55, category)
        return digest

    def consent(self, patient: Signer, study_id: int, **overrides: Any) -> None:
        study = self.studies.study(study_id)
        assert study is not None
        values: dict[str, Any] = {
            "categories": study.categories,
            "purposes": mask([Purpose.HRESCH]),
            "permissions": Permission.READ,
            "expiry": study.end,
        }
        values.update(overrides)
        self.world.ledger(patient).consent.grant(self.researcher.address, **values)

    def enrol(self, patient: Signer, study_id: int, label: str = "copy") -> bytes:
        digest = self.publish(patient, label)
        self.consent(patient, study_id)
        self.as_(patient).enrol(study_id, [digest])
        return digest


def refusal(call: Any) -> ContractRevertError:
    with pytest.raises(ContractRevertError) as caught:
        call()
    return caught.value


def participant(world: Any, n: int) -> Signer:
    """Extra participant `n` (no role, no provider), funded with 10 ETH for gas."""
    signer = Signer.from_private_key(keccak(text=f"study participant {n}"))
    world.chain.w3.provider.make_request("anvil_setBalance", [signer.address, hex(10 * 10**18)])
    return signer


@pytest.fixture(scope="session")
def study_base(deployed_world):
    """A 6-decimal token and a Studies contract beside the session ledger, deployed once."""
    world = deployed_world
    token = deploy_token(world.chain, world.actors.admin, "Test Dollar", "TUSD", 6)
    studies = deploy_studies(world.chain, world.actors.admin, world.deployment.ledger_address)
    return token, studies.address


@pytest.fixture
def env(study_base, world) -> StudyEnv:
    token, address = study_base
    return StudyEnv(world, token, StudiesClient(world.chain, address, signer=world.actors.researcher))
