"""Guardian powers stay inside their bounds: a guardian's consents end with its guardianship and
never name the guardian; a suspended provider has no guardian powers; removing an appointing
guardian ends its appointees; only the patient brings back a guardian it removed; every
guardianship has an end within the deployment's maximum term."""

from __future__ import annotations

from datetime import timedelta

import pytest

from medledger.chain.errors import ContractRevertError
from medledger.scopes import Category, Permission, Purpose
from tests.chain.helpers import DAY, LABS_MASK, TREAT_MASK

YEAR = 365 * DAY


def _refusal(call) -> ContractRevertError:
    with pytest.raises(ContractRevertError) as caught:
        call()
    return caught.value


def _grant_for(world, guardian, grantee: str, expiry):
    ledger = world.ledger(guardian)
    return ledger.sender.send(
        guardian,
        ledger.consent.grant_call(
            grantee,
            categories=LABS_MASK,
            purposes=TREAT_MASK,
            permissions=Permission.READ | Permission.WRITE,
            expiry=expiry,
            patient=world.actors.patient.address,
        ),
    )


def _appoint(world, by, guardian: str, *, until=30 * DAY, can_appoint=False):
    return world.ledger(by).guardians.appoint(
        world.actors.patient.address, guardian, until=until, can_appoint=can_appoint
    )


def _clinician_guardian(world, clock):
    """The active clinician, appointed the patient's guardian for 30 days."""
    _appoint(world, world.actors.patient, world.actors.provider.address)
    return world.actors.provider


# Item 1: a guardian's consents


def test_a_guardian_may_not_grant_to_itself(world, clock):
    guardian = _clinician_guardian(world, clock)
    refusal = _refusal(lambda: _grant_for(world, guardian, guardian.address, 10 * DAY))
    assert refusal.error == "GuardianSelfGrant"


def test_a_guardians_consent_may_not_outlast_the_guardianship(world, guardian, clock):
    _appoint(world, world.actors.patient, guardian.address, until=30 * DAY)
    refusal = _refusal(lambda: _grant_for(world, guardian, world.actors.provider.address, 31 * DAY))
    assert (refusal.error, refusal.arguments["guardianUntil"]) == (
        "ConsentOutlastsGuardian",
        world.ledger().guardians.get(world.actors.patient.address, guardian.address).until,
    )


def test_a_guardians_consent_within_the_guardianship_is_granted(world, guardian, clock):
    _appoint(world, world.actors.patient, guardian.address, until=30 * DAY)
    _grant_for(world, guardian, world.actors.provider.address, 29 * DAY)
    assert world.ledger().consent.get(world.actors.patient.address, world.actors.provider.address).exists


def test_the_patient_grants_through_grant_for_without_guardian_bounds(world, clock):
    _grant_for(world, world.actors.patient, world.actors.provider.address, 400 * DAY)
    assert world.ledger().consent.get(world.actors.patient.address, world.actors.provider.address).exists


def test_no_consent_may_run_longer_than_the_maximum_duration(world, clock):
    patient = world.ledger(world.actors.patient)
    limit = int(patient.contract.functions.maxConsentDuration().call())
    expiry = clock.now() + limit + 60
    fn = patient.contract.functions.grant(world.actors.provider.address, LABS_MASK, TREAT_MASK, 1, expiry)
    assert _refusal(lambda: patient.sender.send(patient.signer, fn)).error == "ExpiryTooFar"


# Item 7: suspension ends guardian powers


def test_a_suspended_provider_is_no_guardian(world, clock):
    guardian = _clinician_guardian(world, clock)
    world.ledger(world.actors.registrar).providers.suspend(guardian.address)
    assert not world.ledger().guardians.is_guardian(world.actors.patient.address, guardian.address)


def test_a_suspended_provider_guardian_may_not_read(world, clock):
    guardian = _clinician_guardian(world, clock)
    world.ledger(world.actors.registrar).providers.suspend(guardian.address)
    assert not world.ledger().consent.has_access(
        world.actors.patient.address, guardian.address, Category.LABS, Purpose.TREAT, Permission.READ
    )


def test_a_suspended_provider_guardian_may_not_grant_for_its_ward(world, clock):
    guardian = _clinician_guardian(world, clock)
    world.ledger(world.actors.registrar).providers.suspend(guardian.address)
    refusal = _refusal(lambda: _grant_for(world, guardian, world.actors.researcher.address, 10 * DAY))
    assert refusal.error == "NotGuardian"


def test_a_suspended_provider_guardian_may_not_revoke_for_its_ward(world, clock):
    guardian = _clinician_guardian(world, clock)
    world.ledger(world.actors.patient).consent.grant(
        world.actors.researcher.address,
        categories=LABS_MASK,
        purposes=TREAT_MASK,
        permissions=1,
        expiry=timedelta(days=5),
    )
    world.ledger(world.actors.registrar).providers.suspend(guardian.address)
    ledger = world.ledger(guardian)
    call = ledger.consent.revoke_call(world.actors.researcher.address, patient=world.actors.patient.address)
    assert _refusal(lambda: ledger.sender.send(guardian, call)).error == "NotGuardian"


def test_a_suspended_provider_guardian_may_not_appoint(world, second_guardian, clock):
    _appoint(world, world.actors.patient, world.actors.provider.address, can_appoint=True)
    world.ledger(world.actors.registrar).providers.suspend(world.actors.provider.address)
    refusal = _refusal(lambda: _appoint(world, world.actors.provider, second_guardian.address, until=10 * DAY))
    assert refusal.error == "MayNotAppoint"


def test_a_reinstated_provider_guardian_is_a_guardian_again(world, clock):
    guardian = _clinician_guardian(world, clock)
    registrar = world.ledger(world.actors.registrar).providers
    registrar.suspend(guardian.address)
    registrar.reinstate(guardian.address)
    assert world.ledger().guardians.is_guardian(world.actors.patient.address, guardian.address)


# Item 8: guardian chains


def test_removing_an_appointing_guardian_ends_its_appointees(world, guardian, second_guardian, clock):
    _appoint(world, world.actors.patient, guardian.address, can_appoint=True)
    _appoint(world, guardian, second_guardian.address, until=10 * DAY)
    world.ledger(world.actors.patient).guardians.remove(world.actors.patient.address, guardian.address)
    assert not world.ledger().guardians.is_guardian(world.actors.patient.address, second_guardian.address)


def test_reappointing_the_appointer_does_not_revive_its_former_appointees(world, guardian, second_guardian, clock):
    _appoint(world, world.actors.patient, guardian.address, can_appoint=True)
    _appoint(world, guardian, second_guardian.address, until=10 * DAY)
    patient = world.ledger(world.actors.patient).guardians
    patient.remove(world.actors.patient.address, guardian.address)
    _appoint(world, world.actors.patient, guardian.address, can_appoint=True)
    assert not world.ledger().guardians.is_guardian(world.actors.patient.address, second_guardian.address)


def test_an_appointee_holds_while_its_appointer_does(world, guardian, second_guardian, clock):
    _appoint(world, world.actors.patient, guardian.address, can_appoint=True)
    _appoint(world, guardian, second_guardian.address, until=10 * DAY)
    assert world.ledger().guardians.is_guardian(world.actors.patient.address, second_guardian.address)


def test_a_guardian_the_patient_removed_cannot_be_reappointed_by_a_guardian(world, guardian, second_guardian, clock):
    _appoint(world, world.actors.patient, guardian.address, can_appoint=True)
    _appoint(world, world.actors.patient, second_guardian.address)
    world.ledger(world.actors.patient).guardians.remove(world.actors.patient.address, second_guardian.address)
    refusal = _refusal(lambda: _appoint(world, guardian, second_guardian.address, until=10 * DAY))
    assert refusal.error == "RemovedByPatient"


def test_the_patient_may_reappoint_a_guardian_it_removed(world, second_guardian, clock):
    _appoint(world, world.actors.patient, second_guardian.address)
    world.ledger(world.actors.patient).guardians.remove(world.actors.patient.address, second_guardian.address)
    _appoint(world, world.actors.patient, second_guardian.address)
    assert world.ledger().guardians.is_guardian(world.actors.patient.address, second_guardian.address)


# Item 10: every guardianship ends, within the maximum term


def test_a_guardianship_without_an_end_is_refused(world, guardian):
    patient = world.ledger(world.actors.patient)
    fn = patient.contract.functions.appointGuardian(world.actors.patient.address, guardian.address, 0, False)
    assert _refusal(lambda: patient.sender.send(patient.signer, fn)).error == "GuardianTermInPast"


def test_a_guardianship_beyond_the_maximum_term_is_refused(world, guardian, clock):
    patient = world.ledger(world.actors.patient)
    until = clock.now() + patient.guardians.max_term() + 60
    fn = patient.contract.functions.appointGuardian(world.actors.patient.address, guardian.address, until, False)
    assert _refusal(lambda: patient.sender.send(patient.signer, fn)).error == "GuardianTermTooLong"


def test_a_guardianship_of_the_maximum_term_is_accepted(world, guardian, clock):
    patient = world.ledger(world.actors.patient)
    # The transaction's block is no earlier than the latest one, so this is at most the maximum term.
    patient.guardians.appoint(
        world.actors.patient.address, guardian.address, until=clock.now() + patient.guardians.max_term()
    )
    assert patient.guardians.is_guardian(world.actors.patient.address, guardian.address)
