"""Studies: who may call each function (the access matrix), every refusal, the windows over time,
suspension, withdrawal, and the escrow moved at each step."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from medledger.ledger.studies import ParticipantStatus, StudyStatus
from medledger.scopes import Category, Permission, Purpose, mask
from tests.chain import studies_helpers
from tests.chain.studies_helpers import DAY, PLACES, REWARD, participant, refusal

# The shared fixtures of the Studies tests (tests/chain/studies_helpers.py).
study_base = studies_helpers.study_base
env = studies_helpers.env


def _raw_register(env, terms):
    """registerStudy without the client's own checks, to reach the contract's (which come before
    the escrow moves, so no deposit is needed to see them)."""
    return env.studies._send(env.studies.functions.registerStudy(terms.as_tuple()))


# -- registration ------------------------------------------------------------------------------


def test_a_researcher_registers_a_study_and_the_full_reward_is_escrowed(env):
    before = env.token.balance_of(env.researcher.address)
    study_id = env.register()
    study = env.studies.study(study_id)
    assert study is not None and study.researcher == env.researcher.address
    assert study.status is StudyStatus.OPEN and study.deposit == PLACES * REWARD
    assert env.studies.token_balance(env.token.address) == PLACES * REWARD
    assert env.token.balance_of(env.researcher.address) == before  # minted then escrowed
    assert env.studies.study_count() == study_id


@pytest.mark.parametrize("who", ["provider", "patient", "registrar"])
def test_only_an_active_researcher_registers_a_study(env, who):
    signer = getattr(env.world.actors, who)
    terms = env.terms()
    env.fund(terms.deposit, signer)
    assert refusal(lambda: env.as_(signer).register(terms)).error == "NotResearcher"


def test_a_suspended_researcher_registers_nothing(env):
    env.world.ledger(env.world.actors.registrar).providers.suspend(env.researcher.address)
    terms = env.terms()
    env.fund(terms.deposit)
    assert refusal(lambda: env.studies.register(terms)).error == "NotResearcher"


@pytest.mark.parametrize(
    ("field", "override"),
    [
        ("maxParticipants", {"max_participants": 0}),
        ("reward", {"reward": 0}),
        ("categories", {"categories": 0}),
        ("enrolmentEnd", {"enrolment_end": 1}),
        ("end", {"end": 2}),
        ("protocol", {"protocol_digest": bytes(32)}),
        ("approval", {"approval_codec": 0x71}),
    ],
)
def test_the_contract_refuses_malformed_terms_naming_the_field(env, field, override):
    if field == "end":
        override = {"end": env.terms().enrolment_end}
    error = refusal(lambda: _raw_register(env, env.terms(**override)))
    assert error.error == "InvalidTerms" and error.arguments["field"] == field


def test_a_study_longer_than_a_consent_may_run_is_refused(env):
    limit = env.world.ledger().contract.functions.maxConsentDuration().call()
    terms = env.terms(end=env.world.chain.now() + int(limit) + DAY)
    error = refusal(lambda: _raw_register(env, terms))
    assert error.error == "InvalidTerms" and error.arguments["field"] == "end"


def test_a_token_account_without_code_is_refused(env):
    terms = env.terms(token=env.world.actors.stranger.address)
    error = refusal(lambda: env.studies._send(env.studies.functions.registerStudy(terms.as_tuple())))
    assert error.error == "InvalidTerms" and error.arguments["field"] == "token"


def test_registration_without_an_approved_deposit_is_refused_and_nothing_is_registered(env):
    terms = env.terms()
    env.token.mint(env.researcher.address, terms.deposit)
    assert refusal(lambda: env.studies.register(terms)).error == "ERC20InsufficientAllowance"
    assert env.studies.study_count() == 0


def test_registration_stops_while_the_ledger_is_paused(env):
    ledger = env.world.ledger(env.world.actors.admin)
    ledger.providers.add_pauser(env.world.actors.stranger.address)
    env.world.ledger(env.world.actors.stranger).providers.pause()
    terms = env.terms()
    env.fund(terms.deposit)
    assert refusal(lambda: env.studies.register(terms)).error == "LedgerPaused"


# -- enrolment ---------------------------------------------------------------------------------


def test_a_patient_with_consent_and_published_data_enrols(env):
    study_id = env.register()
    digest = env.enrol(env.world.actors.patient, study_id)
    entry = env.studies.participant(study_id, env.world.actors.patient.address)
    assert entry.status is ParticipantStatus.ENROLLED and entry.records == 1 and not entry.accessed
    assert env.studies.is_study_record(study_id, env.world.actors.patient.address, digest)
    assert env.studies.study(study_id).enrolled == 1


@pytest.mark.parametrize(
    "consent",
    [
        None,
        {"purposes": mask([Purpose.TREAT])},
        {"categories": mask([Category.IMAGING])},
        {"expiry": "before-end"},
    ],
    ids=["no-consent", "not-research", "other-category", "expires-before-end"],
)
def test_enrolment_needs_a_consent_covering_the_study(env, consent):
    patient = env.world.actors.patient
    study_id = env.register()
    digest = env.publish(patient)
    if consent is not None:
        if consent.get("expiry") == "before-end":
            consent = {"expiry": env.studies.study(study_id).end - 1}
        env.consent(patient, study_id, **consent)
    error = refusal(lambda: env.as_(patient).enrol(study_id, [digest]))
    assert error.error == "ConsentDoesNotCoverStudy"


def test_a_record_published_before_the_study_was_registered_does_not_count(env, clock):
    patient = env.world.actors.patient
    old = env.publish(patient, "before the study")
    clock.warp(1)
    study_id = env.register()
    env.consent(patient, study_id)
    assert refusal(lambda: env.as_(patient).enrol(study_id, [old])).error == "RecordNotEligible"


@pytest.mark.parametrize("case", ["other-category", "unknown", "erased", "someone-elses"])
def test_only_live_records_of_the_patient_in_the_study_categories_count(env, case):
    patient, other = env.world.actors.patient, env.world.actors.other_patient
    study_id = env.register()
    env.consent(patient, study_id)
    if case == "other-category":
        digest = env.publish(patient, "imaging", int(Category.IMAGING))
    elif case == "unknown":
        digest = keccak(text="never published")
    elif case == "erased":
        digest = env.publish(patient)
        env.world.ledger(patient).records.erase(digest)
    else:
        digest = env.publish(other)
    assert refusal(lambda: env.as_(patient).enrol(study_id, [digest])).error == "RecordNotEligible"


def test_an_enrolment_names_at_least_one_record(env):
    patient = env.world.actors.patient
    study_id = env.register()
    env.consent(patient, study_id)
    call = env.as_(patient).functions.enrol(study_id, [])
    assert refusal(lambda: env.as_(patient)._send(call)).error == "NoStudyRecords"


def test_providers_may_not_enrol_not_even_the_researchers_colleagues(env):
    provider = env.world.actors.provider
    study_id = env.register()
    digest = env.publish(provider)
    assert refusal(lambda: env.as_(provider).enrol(study_id, [digest])).error == "ProviderMayNotEnrol"


def test_a_patient_enrols_once(env):
    patient = env.world.actors.patient
    study_id = env.register()
    env.enrol(patient, study_id)
    second = env.publish(patient, "second copy")
    assert refusal(lambda: env.as_(patient).enrol(study_id, [second])).error == "AlreadyEnrolled"


def test_a_full_study_refuses_the_next_patient(env):
    study_id = env.register(max_participants=1)
    env.enrol(env.world.actors.patient, study_id)
    late = env.world.actors.other_patient
    digest = env.publish(late)
    env.consent(late, study_id)
    assert refusal(lambda: env.as_(late).enrol(study_id, [digest])).error == "StudyFull"


def test_an_unknown_study_is_named(env):
    patient = env.world.actors.patient
    error = refusal(lambda: env.as_(patient).enrol(99, [keccak(text="x")]))
    assert error.error == "UnknownStudy" and error.arguments["studyId"] == 99


# -- windows over time -------------------------------------------------------------------------


def test_enrolment_closes_at_its_deadline_to_the_second(env, clock):
    study_id = env.register()
    study = env.studies.study(study_id)
    early, late = env.world.actors.patient, env.world.actors.other_patient
    for p in (early, late):
        env.consent(p, study_id)
    early_digest, late_digest = env.publish(early), env.publish(late)
    clock.next_block_at(study.enrolment_end - 1)
    env.as_(early).enrol(study_id, [early_digest])
    clock.mine_at(study.enrolment_end)
    error = refusal(lambda: env.as_(late).enrol(study_id, [late_digest]))
    assert error.error == "EnrolmentClosed"


def test_reads_are_logged_until_the_end_and_the_study_closes_from_then(env, clock):
    patient = env.world.actors.patient
    study_id = env.register()
    digest = env.enrol(patient, study_id)
    end = env.studies.study(study_id).end
    assert refusal(lambda: env.studies.close(study_id)).error == "StudyNotEnded"
    clock.next_block_at(end - 1)
    env.studies.log_access(study_id, patient.address, digest)
    clock.mine_at(end)
    assert refusal(lambda: env.studies.log_access(study_id, patient.address, digest)).error == "StudyEnded"
    refund, _ = env.studies.close(study_id)
    assert refund == (PLACES - 1) * REWARD


# -- logged reads and rewards ------------------------------------------------------------------


def test_the_first_logged_read_earns_the_reward_and_later_reads_do_not(env):
    patient = env.world.actors.patient
    study_id = env.register()
    digest = env.enrol(patient, study_id)
    first, _ = env.studies.log_access(study_id, patient.address, digest)
    again, _ = env.studies.log_access(study_id, patient.address, digest)
    assert first and not again
    assert env.studies.study(study_id).earned == 1
    assert env.studies.participant(study_id, patient.address).claimable


@pytest.mark.parametrize("who", ["provider", "patient"])
def test_only_the_studys_researcher_logs_reads(env, who):
    patient = env.world.actors.patient
    study_id = env.register()
    digest = env.enrol(patient, study_id)
    reader = env.as_(getattr(env.world.actors, who))
    error = refusal(lambda: reader.log_access(study_id, patient.address, digest))
    assert error.error == "NotStudyResearcher"


def test_a_read_of_a_record_not_named_for_the_study_is_refused(env):
    patient = env.world.actors.patient
    study_id = env.register()
    env.enrol(patient, study_id)
    other = env.publish(patient, "not for the study")
    error = refusal(lambda: env.studies.log_access(study_id, patient.address, other))
    assert error.error == "NotStudyRecord"


def test_a_read_of_someone_not_enrolled_is_refused(env):
    study_id = env.register()
    stranger = env.world.actors.other_patient
    error = refusal(lambda: env.studies.log_access(study_id, stranger.address, keccak(text="x")))
    assert error.error == "NotEnrolled"


def test_a_revocation_on_the_ledger_stops_reads_and_rewards_at_once(env):
    patient = env.world.actors.patient
    study_id = env.register()
    digest = env.enrol(patient, study_id)
    env.world.ledger(patient).consent.revoke(env.researcher.address)
    error = refusal(lambda: env.studies.log_access(study_id, patient.address, digest))
    assert error.error == "NoReadAccess"
    assert refusal(lambda: env.as_(patient).claim(study_id, patient.address)).error == "NothingToClaim"


def test_a_suspended_researcher_logs_no_read(env):
    patient = env.world.actors.patient
    study_id = env.register()
    digest = env.enrol(patient, study_id)
    env.world.ledger(env.world.actors.registrar).providers.suspend(env.researcher.address)
    error = refusal(lambda: env.studies.log_access(study_id, patient.address, digest))
    assert error.error == "NoReadAccess"


def test_an_erased_study_record_is_read_no_more(env):
    patient = env.world.actors.patient
    study_id = env.register()
    digest = env.enrol(patient, study_id)
    env.world.ledger(patient).records.erase(digest)
    error = refusal(lambda: env.studies.log_access(study_id, patient.address, digest))
    assert error.error == "RecordNotEligible"


def test_a_reward_is_paid_once_to_the_participant_whoever_sends_the_claim(env):
    patient = env.world.actors.patient
    study_id = env.register()
    digest = env.enrol(patient, study_id)
    assert refusal(lambda: env.as_(patient).claim(study_id, patient.address)).error == "NothingToClaim"
    env.studies.log_access(study_id, patient.address, digest)
    before = env.token.balance_of(patient.address)
    amount, _ = env.as_(env.world.actors.stranger).claim(study_id, patient.address)
    assert amount == REWARD and env.token.balance_of(patient.address) == before + REWARD
    assert refusal(lambda: env.as_(patient).claim(study_id, patient.address)).error == "NothingToClaim"
    assert env.studies.participant(study_id, patient.address).paid


# -- withdrawal --------------------------------------------------------------------------------


def test_a_withdrawal_before_any_read_gives_the_place_back(env):
    study_id = env.register(max_participants=1)
    patient, late = env.world.actors.patient, env.world.actors.other_patient
    env.enrol(patient, study_id)
    env.as_(patient).withdraw(study_id)
    assert env.studies.study(study_id).enrolled == 0
    env.enrol(late, study_id)  # the place is free again
    digest = env.publish(patient, "again")
    assert refusal(lambda: env.as_(patient).enrol(study_id, [digest])).error == "AlreadyEnrolled"


def test_after_withdrawal_no_read_is_logged_and_nothing_more_is_earned(env):
    patient = env.world.actors.patient
    study_id = env.register()
    digest = env.enrol(patient, study_id)
    env.as_(patient).withdraw(study_id)
    assert refusal(lambda: env.studies.log_access(study_id, patient.address, digest)).error == "NotEnrolled"
    assert refusal(lambda: env.as_(patient).claim(study_id, patient.address)).error == "NothingToClaim"
    assert refusal(lambda: env.as_(patient).withdraw(study_id)).error == "NotEnrolled"


def test_a_reward_earned_before_withdrawal_is_still_paid_once(env):
    patient = env.world.actors.patient
    study_id = env.register()
    digest = env.enrol(patient, study_id)
    env.studies.log_access(study_id, patient.address, digest)
    env.as_(patient).withdraw(study_id)
    assert env.studies.study(study_id).enrolled == 1  # an earned place stays taken
    amount, _ = env.as_(patient).claim(study_id, patient.address)
    assert amount == REWARD
    assert refusal(lambda: env.as_(patient).claim(study_id, patient.address)).error == "NothingToClaim"


# -- suspension --------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["researcher", "admin", "stranger"])
def test_only_a_registrar_suspends_and_reinstates_a_study(env, who):
    study_id = env.register()
    other = env.as_(getattr(env.world.actors, who))
    assert refusal(lambda: other.suspend(study_id)).error == "NotRegistrar"
    env.as_(env.world.actors.registrar).suspend(study_id)
    assert refusal(lambda: other.reinstate(study_id)).error == "NotRegistrar"


def test_a_suspended_study_enrols_and_reads_nothing_but_pays_what_was_earned(env):
    patient, late = env.world.actors.patient, env.world.actors.other_patient
    registrar = env.as_(env.world.actors.registrar)
    study_id = env.register()
    digest = env.enrol(patient, study_id)
    env.studies.log_access(study_id, patient.address, digest)
    registrar.suspend(study_id)
    assert env.studies.study(study_id).status is StudyStatus.SUSPENDED
    late_digest = env.publish(late)
    env.consent(late, study_id)
    assert refusal(lambda: env.as_(late).enrol(study_id, [late_digest])).error == "StudyNotOpen"
    assert refusal(lambda: env.studies.log_access(study_id, patient.address, digest)).error == "StudyNotOpen"
    assert env.as_(patient).claim(study_id, patient.address)[0] == REWARD
    assert refusal(lambda: registrar.suspend(study_id)).error == "StudyNotOpen"
    registrar.reinstate(study_id)
    env.as_(late).enrol(study_id, [late_digest])
    assert refusal(lambda: registrar.reinstate(study_id)).error == "StudyNotSuspended"


# -- close and refund --------------------------------------------------------------------------


def test_after_the_end_unearned_places_are_refunded_once_and_earned_rewards_stay_claimable(env, clock):
    patient, other = env.world.actors.patient, env.world.actors.other_patient
    study_id = env.register()
    digest = env.enrol(patient, study_id)
    env.enrol(other, study_id)  # enrolled, never read: not earned
    env.studies.log_access(study_id, patient.address, digest)
    clock.warp(31 * DAY)
    before = env.token.balance_of(env.researcher.address)
    refund, _ = env.as_(env.world.actors.stranger).close(study_id)  # anyone may close; the refund goes home
    assert refund == (PLACES - 1) * REWARD
    assert env.token.balance_of(env.researcher.address) == before + refund
    assert refusal(lambda: env.studies.close(study_id)).error == "StudyNotOpen"
    assert env.as_(patient).claim(study_id, patient.address)[0] == REWARD
    assert env.studies.token_balance(env.token.address) == 0


def test_claims_and_refunds_work_while_the_ledger_is_paused(env, clock):
    patient = env.world.actors.patient
    study_id = env.register()
    digest = env.enrol(patient, study_id)
    env.studies.log_access(study_id, patient.address, digest)
    env.world.ledger(env.world.actors.admin).providers.add_pauser(env.world.actors.stranger.address)
    env.world.ledger(env.world.actors.stranger).providers.pause()
    assert refusal(lambda: env.studies.log_access(study_id, patient.address, digest)).error == "LedgerPaused"
    env.as_(patient).withdraw(study_id)
    assert env.as_(patient).claim(study_id, patient.address)[0] == REWARD
    clock.warp(31 * DAY)
    assert env.studies.close(study_id)[0] == (PLACES - 1) * REWARD


def test_many_participants_each_earn_once(env):
    study_id = env.register()
    people = [participant(env.world, n) for n in range(PLACES)]
    digests = [env.enrol(p, study_id) for p in people]
    for p, d in zip(people, digests, strict=True):
        env.studies.log_access(study_id, p.address, d)
    assert env.studies.study(study_id).earned == PLACES
    for p in people:
        env.as_(p).claim(study_id, p.address)
    assert env.studies.token_balance(env.token.address) == 0


def test_consent_with_write_or_extra_scope_still_covers_the_study(env):
    patient = env.world.actors.patient
    study_id = env.register()
    digest = env.publish(patient)
    env.consent(
        patient,
        study_id,
        categories=mask([Category.LABS, Category.IMAGING]),
        purposes=mask([Purpose.HRESCH, Purpose.TREAT]),
        permissions=Permission.READ | Permission.WRITE,
    )
    env.as_(patient).enrol(study_id, [digest])
