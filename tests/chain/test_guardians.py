"""Guardians: a patient appoints carers who read everything and manage consent on the patient's
behalf, optionally until a date; a guardian may appoint others only if allowed, and never beyond
its own term; guardianship is one level deep and cannot form a loop."""

from __future__ import annotations

import pytest

from medledger.chain.artifacts import load_artifact
from medledger.chain.errors import ContractRevertError
from medledger.chain.reverts import RevertDecoder, revert_data_from
from medledger.scopes import Category, Permission, Purpose

from .helpers import DAY, LABS_MASK, TREAT_MASK, grant_labs

DAY_S = int(DAY.total_seconds())


def _refusal(call) -> ContractRevertError:
    with pytest.raises(ContractRevertError) as caught:
        call()
    return caught.value


def _appoint(world, guardian, *, by=None, patient=None, until: int | None = None, can_appoint: bool = False):
    """Appoint through the client; `until` defaults to 30 days from chain time."""
    patient = patient or world.actors.patient
    until = world.chain.now() + 30 * DAY_S if until is None else until
    return world.ledger(by or patient).guardians.appoint(
        patient.address, guardian.address, until=until, can_appoint=can_appoint
    )


def _appoint_raw(world, guardian, *, by=None, until: int, can_appoint: bool = False):
    """Appoint straight through the contract, bypassing the client's checks."""
    ledger = world.ledger(by or world.actors.patient)
    fn = ledger.contract.functions.appointGuardian(world.actors.patient.address, guardian.address, until, can_appoint)
    return ledger.sender.send(ledger.signer, fn)


def _reads(world, account, category=Category.LABS, purpose=Purpose.TREAT, permission=Permission.READ) -> bool:
    return world.ledger().consent.has_access(
        world.actors.patient.address, account.address, category, purpose, permission
    )


def _grant_for(world, guardian, grantee):
    ledger = world.ledger(guardian)
    return ledger.sender.send(
        guardian,
        ledger.consent.grant_call(
            grantee.address,
            categories=LABS_MASK,
            purposes=TREAT_MASK,
            permissions=Permission.READ,
            expiry=DAY,
            patient=world.actors.patient.address,
        ),
    )


def _revoke_for(world, guardian, grantee):
    ledger = world.ledger(guardian)
    return ledger.sender.send(
        guardian, ledger.consent.revoke_call(grantee.address, patient=world.actors.patient.address)
    )


def _is_guardian(world, guardian, patient=None) -> bool:
    return world.ledger().guardians.is_guardian((patient or world.actors.patient).address, guardian.address)


# -- appointment and what it gives ----------------------------------------------------------


def test_patient_appoints_a_guardian(world, guardian, clock):
    until = clock.now() + 30 * DAY_S
    _appoint(world, guardian, until=until)
    info = world.ledger().guardians.get(world.actors.patient.address, guardian.address)
    assert (info.active, info.can_appoint, info.until, info.nonce) == (True, False, until, 1)
    assert _is_guardian(world, guardian)


def test_appointment_event_names_patient_guardian_term_and_appointer(world, guardian, clock):
    a = world.actors
    until = clock.now() + DAY_S
    receipt = world.ledger(a.patient).guardians.appoint(
        a.patient.address, guardian.address, until=until, can_appoint=True
    )
    (event,) = world.ledger().contract.events.GuardianAppointed().process_receipt(receipt.raw)
    assert dict(event.args) == {
        "patient": a.patient.address,
        "guardian": guardian.address,
        "until": until,
        "canAppoint": True,
        "appointedBy": a.patient.address,
    }  # and no key material: the guardian reads through the key-release services


def test_a_guardian_reads_every_category_for_every_purpose(world, guardian):
    _appoint(world, guardian)
    assert all(_reads(world, guardian, category, purpose) for category in Category for purpose in Purpose)


def test_a_guardian_reads_categories_beyond_the_named_ones(world, guardian):
    _appoint(world, guardian)
    assert _reads(world, guardian, category=63)


def test_a_guardian_may_not_write(world, guardian):
    _appoint(world, guardian)
    assert not any(_reads(world, guardian, category, Purpose.TREAT, Permission.WRITE) for category in Category)


def test_a_guardian_grants_for_the_patient(world, guardian):
    a = world.actors
    _appoint(world, guardian)
    receipt = _grant_for(world, guardian, a.provider)
    (event,) = world.ledger().contract.events.ConsentGranted().process_receipt(receipt.raw)
    assert (event.args.patient, event.args.grantee) == (a.patient.address, a.provider.address)
    assert _reads(world, a.provider)


def test_a_guardians_grant_shares_the_pairs_nonce(world, guardian):
    a = world.actors
    grant_labs(world.ledger(a.patient), a.provider.address)
    _appoint(world, guardian)
    _grant_for(world, guardian, a.provider)
    assert world.ledger().consent.get(a.patient.address, a.provider.address).nonce == 2


def test_a_guardian_revokes_for_the_patient(world, guardian):
    a = world.actors
    grant_labs(world.ledger(a.patient), a.provider.address)
    _appoint(world, guardian)
    _revoke_for(world, guardian, a.provider)
    assert not _reads(world, a.provider)


def test_a_guardian_may_not_grant_for_another_patient(world, guardian):
    a = world.actors
    _appoint(world, guardian, patient=a.other_patient)
    error = _refusal(lambda: _grant_for(world, guardian, a.provider))
    assert (error.error, error.arguments["account"]) == ("NotGuardian", guardian.address)


def test_a_stranger_may_not_grant_for_a_patient(world):
    a = world.actors
    assert _refusal(lambda: _grant_for(world, a.stranger, a.provider)).error == "NotGuardian"


def test_reappointing_replaces_the_terms(world, guardian):
    _appoint(world, guardian, can_appoint=True)
    _appoint(world, guardian, can_appoint=False)
    info = world.ledger().guardians.get(world.actors.patient.address, guardian.address)
    assert (info.active, info.can_appoint, info.nonce) == (True, False, 2)


def test_guardianship_is_not_transitive(world, guardian, second_guardian):
    """The guardian's own guardian gains nothing over the ward."""
    _appoint(world, guardian)
    _appoint(world, second_guardian, patient=guardian)
    assert not _reads(world, second_guardian)
    assert not _is_guardian(world, second_guardian)


# -- who may appoint -------------------------------------------------------------------------


def test_a_plain_guardian_may_not_appoint(world, guardian, second_guardian):
    _appoint(world, guardian)
    error = _refusal(lambda: _appoint(world, second_guardian, by=guardian))
    assert (error.error, error.arguments["account"]) == ("MayNotAppoint", guardian.address)
    assert not _is_guardian(world, second_guardian)


def test_a_stranger_may_not_appoint(world, second_guardian):
    error = _refusal(lambda: _appoint(world, second_guardian, by=world.actors.stranger))
    assert error.error == "MayNotAppoint"


def test_an_appointing_guardian_appoints_a_plain_guardian(world, guardian, second_guardian):
    until = world.chain.now() + 30 * DAY_S  # one term for both: an appointee may not outlast its appointer
    _appoint(world, guardian, can_appoint=True, until=until)
    receipt = _appoint(world, second_guardian, by=guardian, until=until)
    assert _is_guardian(world, second_guardian)
    (event,) = world.ledger().contract.events.GuardianAppointed().process_receipt(receipt.raw)
    assert event.args.appointedBy == guardian.address


def test_an_appointing_guardian_may_not_pass_on_the_right_to_appoint(world, guardian, second_guardian):
    _appoint(world, guardian, can_appoint=True)
    error = _refusal(lambda: _appoint(world, second_guardian, by=guardian, can_appoint=True))
    assert (error.error, error.arguments["account"]) == ("MayNotAppoint", guardian.address)


def test_an_appointing_guardian_may_not_rewrite_a_guardianship_in_force(world, guardian, second_guardian, clock):
    _appoint(world, guardian, can_appoint=True)
    term = clock.now() + 20 * DAY_S
    _appoint(world, second_guardian, until=term)
    error = _refusal(lambda: _appoint(world, second_guardian, by=guardian, until=clock.now() + DAY_S))
    assert (error.error, error.arguments["account"]) == ("MayNotAppoint", guardian.address)
    assert world.ledger().guardians.get(world.actors.patient.address, second_guardian.address).until == term


def test_an_appointing_guardian_may_not_appoint_beyond_its_own_term(world, guardian, second_guardian, clock):
    own_term = clock.now() + DAY_S
    _appoint(world, guardian, can_appoint=True, until=own_term)
    error = _refusal(lambda: _appoint(world, second_guardian, by=guardian, until=own_term + 1))
    assert error.error == "GuardianTermTooLong"
    assert (error.arguments["until"], error.arguments["limit"]) == (own_term + 1, own_term)


def test_an_appointing_guardian_with_a_term_may_not_appoint_without_end(world, guardian, second_guardian, clock):
    own_term = clock.now() + DAY_S
    _appoint(world, guardian, can_appoint=True, until=own_term)
    error = _refusal(lambda: _appoint_raw(world, second_guardian, by=guardian, until=0))
    assert (error.error, error.arguments["until"]) == ("GuardianTermInPast", 0)


def test_an_appointing_guardian_may_appoint_up_to_its_own_term(world, guardian, second_guardian, clock):
    own_term = clock.now() + DAY_S
    _appoint(world, guardian, can_appoint=True, until=own_term)
    _appoint(world, second_guardian, by=guardian, until=own_term)
    assert world.ledger().guardians.get(world.actors.patient.address, second_guardian.address).until == own_term


def test_an_expired_appointing_guardian_may_not_appoint(world, guardian, second_guardian, clock):
    _appoint(world, guardian, can_appoint=True, until=clock.now() + DAY_S)
    clock.warp(DAY_S + 60)
    assert _refusal(lambda: _appoint(world, second_guardian, by=guardian)).error == "MayNotAppoint"


def test_a_term_in_the_past_is_refused(world, guardian, clock):
    past = clock.now() - 1
    error = _refusal(lambda: _appoint_raw(world, guardian, until=past))
    assert (error.error, error.arguments["until"]) == ("GuardianTermInPast", past)


def test_a_term_ending_in_the_current_block_is_refused(world, guardian, clock):
    at = clock.now() + 5
    clock.next_block_at(at)
    ledger = world.ledger(world.actors.patient)
    call = ledger.contract.functions.appointGuardian(world.actors.patient.address, guardian.address, at, False)
    w3 = world.chain.w3
    tx = call.build_transaction(
        {
            "from": world.actors.patient.address,
            "gas": 300_000,
            "chainId": world.chain.chain_id,
            "nonce": w3.eth.get_transaction_count(world.actors.patient.address),
        }
    )
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(world.actors.patient.sign_transaction(tx))
    )
    assert receipt["status"] == 0
    # Replayed as a call in that block (same time, same state), it names the refusal.
    with pytest.raises(Exception) as caught:
        w3.eth.call({k: tx[k] for k in ("from", "to", "data")}, receipt["blockNumber"])
    error = RevertDecoder(load_artifact("MedLedger").abi).decode(revert_data_from(caught.value))
    assert (error.error, error.arguments["until"]) == ("GuardianTermInPast", at)
    assert not _is_guardian(world, guardian)


# -- terms end ---------------------------------------------------------------------------------


def test_guardianship_lasts_until_just_before_its_term(world, guardian, clock):
    until = clock.now() + DAY_S
    _appoint(world, guardian, until=until)
    clock.mine_at(until - 1)
    assert _is_guardian(world, guardian) and _reads(world, guardian)
    clock.mine_at(until)
    assert not _is_guardian(world, guardian)
    assert not _reads(world, guardian)


def test_an_expired_guardian_may_not_grant_for_the_patient(world, guardian, clock):
    _appoint(world, guardian, until=clock.now() + DAY_S)
    clock.warp(DAY_S + 60)
    error = _refusal(lambda: _grant_for(world, guardian, world.actors.provider))
    assert (error.error, error.arguments["account"]) == ("NotGuardian", guardian.address)


# -- loops -----------------------------------------------------------------------------------


def test_a_patient_may_not_be_their_own_guardian(world):
    a = world.actors
    error = _refusal(lambda: _appoint(world, a.patient))
    assert (error.error, error.arguments["patient"], error.arguments["guardian"]) == (
        "GuardianLoop",
        a.patient.address,
        a.patient.address,
    )


def test_two_accounts_may_not_be_each_others_guardians(world, guardian):
    a = world.actors
    _appoint(world, guardian)
    error = _refusal(lambda: _appoint(world, a.patient, patient=guardian))
    assert (error.error, error.arguments["patient"], error.arguments["guardian"]) == (
        "GuardianLoop",
        guardian.address,
        a.patient.address,
    )


def test_the_reverse_guardianship_is_allowed_once_the_first_ended(world, guardian):
    a = world.actors
    _appoint(world, guardian)
    world.ledger(a.patient).guardians.remove(a.patient.address, guardian.address)
    _appoint(world, a.patient, patient=guardian)
    assert _is_guardian(world, a.patient, patient=guardian)


# -- removal ---------------------------------------------------------------------------------


def test_patient_removes_a_guardian(world, guardian):
    a = world.actors
    _appoint(world, guardian)
    receipt = world.ledger(a.patient).guardians.remove(a.patient.address, guardian.address)
    (event,) = world.ledger().contract.events.GuardianRemoved().process_receipt(receipt.raw)
    assert event.args.removedBy == a.patient.address
    assert not _is_guardian(world, guardian)
    assert not _reads(world, guardian)


def test_a_guardian_steps_down(world, guardian):
    a = world.actors
    _appoint(world, guardian)
    world.ledger(guardian).guardians.remove(a.patient.address, guardian.address)
    assert not _is_guardian(world, guardian)


def test_an_appointing_guardian_removes_another_guardian(world, guardian, second_guardian):
    a = world.actors
    _appoint(world, guardian, can_appoint=True)
    _appoint(world, second_guardian)
    world.ledger(guardian).guardians.remove(a.patient.address, second_guardian.address)
    assert not _is_guardian(world, second_guardian)


def test_an_appointing_guardian_may_not_remove_a_peer_with_the_same_right(world, guardian, second_guardian):
    a = world.actors
    _appoint(world, guardian, can_appoint=True)
    _appoint(world, second_guardian, can_appoint=True)
    error = _refusal(lambda: world.ledger(guardian).guardians.remove(a.patient.address, second_guardian.address))
    assert error.error == "MayNotAppoint"
    assert _is_guardian(world, second_guardian)


def test_a_stranger_may_not_remove_a_guardian(world, guardian):
    a = world.actors
    _appoint(world, guardian)
    error = _refusal(lambda: world.ledger(a.stranger).guardians.remove(a.patient.address, guardian.address))
    assert (error.error, error.arguments["account"]) == ("MayNotAppoint", a.stranger.address)
    assert _is_guardian(world, guardian)


def test_a_plain_guardian_may_not_remove_another_guardian(world, guardian, second_guardian):
    a = world.actors
    _appoint(world, guardian)
    _appoint(world, second_guardian)
    error = _refusal(lambda: world.ledger(guardian).guardians.remove(a.patient.address, second_guardian.address))
    assert error.error == "MayNotAppoint"
    assert _is_guardian(world, second_guardian)


def test_removing_a_guardian_twice_is_refused(world, guardian):
    a = world.actors
    _appoint(world, guardian)
    patient = world.ledger(a.patient).guardians
    patient.remove(a.patient.address, guardian.address)
    error = _refusal(lambda: patient.remove(a.patient.address, guardian.address))
    assert (error.error, error.arguments["account"]) == ("NotGuardian", guardian.address)


def test_removing_someone_never_appointed_is_refused(world, guardian):
    a = world.actors
    error = _refusal(lambda: world.ledger(a.patient).guardians.remove(a.patient.address, guardian.address))
    assert error.error == "NotGuardian"


def test_removal_keeps_counting_the_pairs_nonce(world, guardian):
    a = world.actors
    _appoint(world, guardian, can_appoint=True)
    world.ledger(a.patient).guardians.remove(a.patient.address, guardian.address)
    info = world.ledger().guardians.get(a.patient.address, guardian.address)
    assert (info.active, info.can_appoint, info.until, info.nonce) == (False, False, 0, 2)
