"""The in-process chain (web3's EthereumTesterProvider on py-evm) runs the whole consent flow, no node needed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from medledger.chain.accounts import Signer, anvil_account
from medledger.chain.connection import EMBEDDED, Chain, connect, fund_signers
from medledger.chain.deploy import Deployment, deploy
from medledger.chain.errors import ContractRevertError, InsufficientFundsError, revert_class
from medledger.ledger import MedLedger, ProviderKind
from medledger.scopes import Category, Permission, Purpose

from .helpers import CODEC_RAW, LABS_MASK, TREAT_MASK, random_digest

THIRTY_DAYS = timedelta(days=30)


@dataclass(frozen=True)
class Flow:
    chain: Chain
    deployment: Deployment
    admin: Signer
    registrar: Signer
    clinician: Signer
    patient: Signer
    stranger: Signer
    record: bytes

    def ledger(self, signer: Signer | None = None) -> MedLedger:
        return MedLedger.from_deployment(self.chain, self.deployment, signer=signer)

    def labs_for_treatment(self, permission: Permission) -> bool:
        return self.ledger().consent.has_access(
            self.patient.address, self.clinician.address, Category.LABS, Purpose.TREAT, permission
        )


@pytest.fixture(scope="module")
def flow() -> Flow:
    """deploy -> add registrar -> register clinician -> patient grants labs read for treatment
    for 30 days -> patient adds a labs record."""
    chain = connect()
    admin, registrar, clinician, patient, stranger = (anvil_account(i) for i in range(5))
    fund_signers(chain, [admin, registrar, clinician, patient, stranger])
    deployment = deploy(chain, admin)
    ledger = MedLedger.from_deployment(chain, deployment)
    ledger.as_signer(admin).providers.add_registrar(registrar.address)
    ledger.as_signer(registrar).providers.register(clinician.address, ProviderKind.CLINICIAN)
    ledger.as_signer(patient).consent.grant(
        clinician.address, categories=LABS_MASK, purposes=TREAT_MASK, permissions=Permission.READ, expiry=THIRTY_DAYS
    )
    record = random_digest()
    ledger.as_signer(patient).records.add(patient.address, record, CODEC_RAW, Category.LABS)
    return Flow(chain, deployment, admin, registrar, clinician, patient, stranger, record)


@pytest.fixture
def embedded(flow: Flow) -> Iterator[Flow]:
    """The flow's state, restored after each test."""
    tester = flow.chain.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    snapshot = tester.take_snapshot()
    try:
        yield flow
    finally:
        tester.revert_to_snapshot(snapshot)


def test_connect_without_an_endpoint_is_the_embedded_chain(embedded):
    assert embedded.chain.endpoint == EMBEDDED
    assert embedded.chain.is_embedded


def test_deployment_on_the_embedded_chain_has_code_and_names_its_admin(embedded):
    assert embedded.chain.w3.eth.get_code(embedded.deployment.ledger_address)
    assert embedded.deployment.chain_id == embedded.chain.chain_id
    assert embedded.ledger().providers.is_admin(embedded.admin.address)


def test_admin_made_the_registrar(embedded):
    assert embedded.ledger().providers.is_registrar(embedded.registrar.address)


def test_registrar_registered_the_clinician_as_active(embedded):
    info = embedded.ledger().providers.get(embedded.clinician.address)
    assert (info.kind, info.is_active) == (ProviderKind.CLINICIAN, True)


def test_patient_record_pointer_is_on_chain(embedded):
    pointer = embedded.ledger().records.get(embedded.patient.address, embedded.record)
    assert (pointer.author, pointer.category, pointer.erased) == (embedded.patient.address, Category.LABS, False)


def test_granted_clinician_may_read_labs_for_treatment(embedded):
    assert embedded.labs_for_treatment(Permission.READ)


def test_read_grant_does_not_allow_writing(embedded):
    assert not embedded.labs_for_treatment(Permission.WRITE)


def test_read_grant_does_not_cover_another_purpose_or_category(embedded):
    consent = embedded.ledger().consent
    p, c = embedded.patient.address, embedded.clinician.address
    assert not consent.has_access(p, c, Category.LABS, Purpose.HRESCH, Permission.READ)
    assert not consent.has_access(p, c, Category.IMAGING, Purpose.TREAT, Permission.READ)


def test_refused_call_raises_the_decoded_custom_error_class(embedded):
    with pytest.raises(revert_class("NotAuthorized")) as caught:
        embedded.ledger(embedded.stranger).records.add(
            embedded.patient.address, random_digest(), CODEC_RAW, Category.LABS
        )
    assert isinstance(caught.value, ContractRevertError)
    assert caught.value.arguments == {"account": embedded.stranger.address}


def test_read_only_grantee_adding_a_record_is_refused(embedded):
    with pytest.raises(revert_class("NotAuthorized")):
        embedded.ledger(embedded.clinician).records.add(
            embedded.patient.address, random_digest(), CODEC_RAW, Category.LABS
        )


def test_time_travel_past_expiry_ends_access(embedded):
    embedded.chain.increase_time(int(THIRTY_DAYS.total_seconds()) + 1)
    assert not embedded.labs_for_treatment(Permission.READ)


def test_time_travel_short_of_expiry_keeps_access(embedded):
    embedded.chain.increase_time(int(THIRTY_DAYS.total_seconds()) - 3600)
    assert embedded.labs_for_treatment(Permission.READ)


def test_unfunded_account_on_the_embedded_chain_raises_insufficient_funds(embedded):
    pauper = Signer.from_private_key(b"\x42" * 32)
    with pytest.raises(InsufficientFundsError, match=pauper.address):
        embedded.ledger(pauper).keys.publish(bytes(range(1, 33)))
