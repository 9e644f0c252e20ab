"""Amendments and digests: only the patient or a record's author may supersede it; erasing an
amendment makes the original amendable again; no grantee can block a patient's digest."""

from __future__ import annotations

import pytest
from web3.logs import DISCARD

from medledger.chain.errors import ContractRevertError
from medledger.scopes import Category, Permission
from tests.chain.helpers import CODEC_RAW, grant_labs, random_digest


def _refusal(call) -> str:
    with pytest.raises(ContractRevertError) as caught:
        call()
    return caught.value.error


@pytest.fixture
def writers(world):
    """The patient, and two providers (clinician, researcher) holding WRITE on labs."""
    a = world.actors
    patient = world.ledger(a.patient)
    grant_labs(patient, a.provider.address, permissions=Permission.WRITE)
    grant_labs(patient, a.researcher.address, permissions=Permission.WRITE)
    return patient, world.ledger(a.provider), world.ledger(a.researcher)


def _add(ledger, patient: str, supersedes: bytes | None = None) -> bytes:
    digest = random_digest()
    ledger.records.add(patient, digest, CODEC_RAW, Category.LABS, supersedes=supersedes)
    return digest


def test_a_writer_may_not_supersede_another_authors_record(world, writers):
    _, clinician, researcher = writers
    original = _add(clinician, world.actors.patient.address)
    assert _refusal(lambda: _add(researcher, world.actors.patient.address, supersedes=original)) == "MayNotAmend"


def test_a_writer_may_not_supersede_the_patients_own_record(world, writers):
    patient, clinician, _ = writers
    original = _add(patient, world.actors.patient.address)
    assert _refusal(lambda: _add(clinician, world.actors.patient.address, supersedes=original)) == "MayNotAmend"


def test_the_author_may_supersede_its_record(world, writers):
    _, clinician, _ = writers
    original = _add(clinician, world.actors.patient.address)
    _add(clinician, world.actors.patient.address, supersedes=original)
    assert world.ledger().records.get(world.actors.patient.address, original).superseded


def test_the_patient_may_supersede_an_authors_record(world, writers):
    patient, clinician, _ = writers
    original = _add(clinician, world.actors.patient.address)
    _add(patient, world.actors.patient.address, supersedes=original)
    assert world.ledger().records.get(world.actors.patient.address, original).superseded


def test_erasing_an_amendment_restores_the_original(world, writers):
    patient, clinician, _ = writers
    original = _add(clinician, world.actors.patient.address)
    amendment = _add(clinician, world.actors.patient.address, supersedes=original)
    receipt = patient.records.erase(amendment)
    undone = patient.contract.events.SupersessionUndone().process_receipt(receipt.raw, errors=DISCARD)
    assert (
        world.ledger().records.get(world.actors.patient.address, original).superseded,
        [bytes(e.args.original) for e in undone],
    ) == (False, [original])


def test_a_restored_original_can_be_amended_again(world, writers):
    patient, clinician, _ = writers
    original = _add(clinician, world.actors.patient.address)
    patient.records.erase(_add(clinician, world.actors.patient.address, supersedes=original))
    _add(clinician, world.actors.patient.address, supersedes=original)
    assert world.ledger().records.get(world.actors.patient.address, original).superseded


def test_the_patient_takes_over_a_digest_a_grantee_registered_first(world, writers):
    patient, clinician, _ = writers
    digest = _add(clinician, world.actors.patient.address)
    receipt = patient.records.add(world.actors.patient.address, digest, CODEC_RAW, Category.LABS)
    taken = patient.contract.events.RecordTakenOver().process_receipt(receipt.raw, errors=DISCARD)
    assert (
        world.ledger().records.get(world.actors.patient.address, digest).author,
        [e.args.previousAuthor for e in taken],
    ) == (world.actors.patient.address, [world.actors.provider.address])


def test_the_patient_takes_over_an_erased_squatted_digest(world, writers):
    patient, clinician, _ = writers
    digest = _add(clinician, world.actors.patient.address)
    patient.records.erase(digest)
    patient.records.add(world.actors.patient.address, digest, CODEC_RAW, Category.LABS)
    record = world.ledger().records.get(world.actors.patient.address, digest)
    assert (record.author, record.erased) == (world.actors.patient.address, False)


def test_a_grantee_may_not_take_over_a_digest(world, writers):
    _, clinician, researcher = writers
    digest = _add(clinician, world.actors.patient.address)
    assert (
        _refusal(lambda: researcher.records.add(world.actors.patient.address, digest, CODEC_RAW, Category.LABS))
        == "RecordExists"
    )


def test_the_patient_may_not_add_its_own_digest_twice(world, writers):
    patient, _, _ = writers
    digest = _add(patient, world.actors.patient.address)
    assert (
        _refusal(lambda: patient.records.add(world.actors.patient.address, digest, CODEC_RAW, Category.LABS))
        == "RecordExists"
    )


def test_taking_over_a_squatted_amendment_restores_what_it_superseded(world, writers):
    patient, clinician, _ = writers
    original = _add(clinician, world.actors.patient.address)
    squatted = _add(clinician, world.actors.patient.address, supersedes=original)
    patient.records.add(world.actors.patient.address, squatted, CODEC_RAW, Category.LABS)
    assert not world.ledger().records.get(world.actors.patient.address, original).superseded
