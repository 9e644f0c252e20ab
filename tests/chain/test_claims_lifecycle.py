"""Claims: the lifecycle's rules. Deadlines (with chain time moved), amounts, duplicates and replays,
consent and records, suspension and pause, deployment parameters."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from eth_account import Account

from medledger.chain.accounts import anvil_account
from medledger.chain.errors import ContractRevertError
from medledger.ledger.base import InvalidArgumentError
from medledger.ledger.claims import (
    ClaimsSettings,
    ClaimStatus,
    claim_id_of,
    coverage_id_of,
    encounter_digest,
)
from tests.chain import claims_support as support
from tests.chain.claims_support import (
    BILLED,
    DAY,
    LABS,
    SETTINGS,
    UNIT,
    refusal,
)

ADJUDICATION = SETTINGS.adjudication_seconds
APPEAL = SETTINGS.appeal_seconds
FILING = SETTINGS.timely_filing_seconds
claims_env, env = support.claims_env, support.env  # the module's fixtures


# -- deployment ------------------------------------------------------------------------------------


def test_the_deadlines_are_fixed_at_deployment_and_readable(env):
    assert env.claims.deadlines() == {"timelyFiling": FILING, "adjudication": ADJUDICATION, "appeal": APPEAL}
    assert env.claims.ledger_address == env.world.deployment.ledger_address


@pytest.mark.parametrize(
    ("ledger", "windows", "error"),
    [
        ("0x" + "00" * 20, (1, 1, 1), "ZeroAddress"),
        (None, (0, 1, 1), "InvalidDeadline"),
        (None, (1, 0, 1), "InvalidDeadline"),
        (None, (1, 1, 0), "InvalidDeadline"),
    ],
)
def test_a_deployment_without_a_ledger_or_with_a_zero_window_is_refused(env, ledger, windows, error):
    from medledger.chain.artifacts import load_artifact

    artifact = load_artifact("Claims")
    factory = env.world.chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    with pytest.raises(ContractRevertError) as caught:
        env.claims.sender.deploy(
            env.actors.admin, factory.constructor(ledger or env.world.deployment.ledger_address, *windows)
        )
    assert caught.value.error == error


def test_the_python_settings_refuse_what_the_contract_refuses():
    with pytest.raises(InvalidArgumentError):
        ClaimsSettings(timely_filing_seconds=0)
    with pytest.raises(InvalidArgumentError):
        ClaimsSettings(appeal_seconds=2**32)


# -- coverage --------------------------------------------------------------------------------------


def test_a_coverage_is_refused_without_the_patients_record_or_with_bad_terms(env):
    other = env.actors.other_patient
    insurer = env.as_(env.insurer)
    now = env.world.chain.now()
    unrecorded = os.urandom(32)
    assert refusal(lambda: insurer.register_coverage(other.address, unrecorded, env.token.address, now, now + DAY)) == (
        "DocumentNotRecorded"
    )
    digest = env.record(env.insurer, patient=other)
    assert refusal(lambda: insurer.register_coverage(other.address, digest, env.provider.address, now, now + DAY)) == (
        "NotAToken"
    )
    assert refusal(lambda: insurer.register_coverage(other.address, digest, env.token.address, now, now)) == (
        "InvalidCoveragePeriod"
    )
    assert refusal(lambda: insurer.register_coverage(other.address, digest, env.token.address, 1, now - 1)) == (
        "InvalidCoveragePeriod"
    )
    insurer.register_coverage(other.address, digest, env.token.address, now, now + DAY)
    assert refusal(lambda: insurer.register_coverage(other.address, digest, env.token.address, now, now + DAY)) == (
        "CoverageExists"
    )


def test_the_patients_acceptance_is_their_write_consent_to_the_insurer(env):
    """Without the patient's WRITE consent the insurer cannot even publish the Coverage record."""
    other = env.actors.other_patient
    env.world.ledger(other).consent.revoke(env.insurer.address)
    with pytest.raises(ContractRevertError):
        env.record(env.insurer, patient=other)


def test_an_ended_coverage_still_pays_for_services_before_its_end(env, clock):
    service = clock.now() - DAY
    env.as_(env.insurer).end_coverage(env.coverage_id, clock.now() + 60)
    clock.warp(3600)
    env.submit(service_date=service)  # before the end: accepted
    assert refusal(lambda: env.submit(service_date=clock.now() - 10)) == "ServiceOutsideCoverage"
    assert refusal(lambda: env.as_(env.insurer).end_coverage(env.coverage_id, clock.now() - 1)) == (
        "InvalidCoveragePeriod"
    )


# -- submission ------------------------------------------------------------------------------------


def test_a_claim_is_filed_until_the_timely_filing_deadline_and_not_a_second_later(env, clock):
    service = clock.now() - DAY
    clock.next_block_at(service + FILING)
    env.submit(service_date=service)
    clock.next_block_at(service + FILING + 1)
    assert refusal(lambda: env.submit(service_date=service)) == "TimelyFilingExpired"


def test_a_service_in_the_future_or_outside_the_coverage_is_refused(env, clock):
    assert refusal(lambda: env.submit(service_date=clock.now() + 3600)) == "ServiceInFuture"
    coverage = env.claims.coverage(env.coverage_id)
    assert refusal(lambda: env.submit(service_date=coverage.start - 1)) == "ServiceOutsideCoverage"


def test_the_claim_document_must_be_the_providers_record_of_the_patient(env):
    provider = env.as_(env.provider)
    now = env.world.chain.now()
    encounter = encounter_digest(env.patient.address, "Encounter/x")
    assert refusal(lambda: provider.submit(env.coverage_id, encounter, os.urandom(32), now, BILLED)) == (
        "DocumentNotRecorded"
    )
    theirs = env.record(env.insurer)  # the patient's record, but not the provider's
    assert refusal(lambda: provider.submit(env.coverage_id, encounter, theirs, now, BILLED)) == "DocumentNotRecorded"


def test_a_claim_the_insurer_may_not_read_for_payment_is_refused(env):
    """The patient's HPAYMT consent to the insurer must cover the claim's category."""
    digest = env.record(env.provider, category=LABS)
    env.world.ledger(env.patient).consent.grant(
        env.insurer.address, categories=1 << 13, purposes=1 << 2, permissions=3, expiry=timedelta(days=30)
    )
    now = env.world.chain.now()
    encounter = encounter_digest(env.patient.address, "Encounter/labs")
    assert refusal(lambda: env.as_(env.provider).submit(env.coverage_id, encounter, digest, now, BILLED)) == (
        "InsurerCannotRead"
    )


def test_unknown_coverage_zero_amount_and_zero_digests_are_refused(env):
    provider = env.as_(env.provider)
    digest = env.record(env.provider)
    now = env.world.chain.now()
    encounter = encounter_digest(env.patient.address, "Encounter/z")
    assert refusal(lambda: provider.submit(os.urandom(32), encounter, digest, now, BILLED)) == "UnknownCoverage"
    zero = provider.contract.functions.submit(env.coverage_id, encounter, digest, now, 0)
    assert refusal(lambda: provider._send(zero)) == "ZeroAmount"
    blank = provider.contract.functions.submit(env.coverage_id, b"\x00" * 32, digest, now, BILLED)
    assert refusal(lambda: provider._send(blank)) == "ZeroDigest"


# -- duplicates and replays ------------------------------------------------------------------------


def test_a_second_claim_for_the_same_encounter_is_refused_even_after_withdrawal(env):
    claim_id = env.submit(encounter="Encounter/42")
    assert claim_id == claim_id_of(
        env.coverage_id, env.provider.address, encounter_digest(env.patient.address, "Encounter/42")
    )
    assert refusal(lambda: env.submit(encounter="Encounter/42")) == "ClaimExists"
    env.as_(env.provider).withdraw_claim(claim_id)
    assert refusal(lambda: env.submit(encounter="Encounter/42")) == "ClaimExists"
    env.submit(encounter="Encounter/43")  # another encounter is another claim


def test_another_provider_cannot_replay_a_claim_it_did_not_author(env):
    claim_id = env.submit(encounter="Encounter/7")
    event = env.claims.events("ClaimSubmitted", claimId=claim_id)[0]["args"]
    env.world.ledger(env.actors.registrar).providers.register(env.actors.stranger.address, 2)  # an organisation
    replay = env.as_(env.actors.stranger)
    call = lambda: replay.submit(  # noqa: E731
        env.coverage_id, event["encounter"], event["digest"], event["serviceDate"], event["billed"]
    )
    assert refusal(call) == "DocumentNotRecorded"


def test_a_signed_transaction_cannot_be_replayed(env):
    """The chain refuses the same signed submission twice (its nonce is spent); so a claim, a payment
    or a withdrawal happens once per signature."""
    claim_id = env.approved()
    w3 = env.world.chain.w3
    provider = env.provider
    tx = env.claims.pay_call(claim_id).build_transaction(
        {"from": provider.address, "nonce": w3.eth.get_transaction_count(provider.address), "gas": 200_000}
    )
    key = Account.from_mnemonic(
        "test test test test test test test test test test test junk", account_path="m/44'/60'/0'/0/2"
    ).key
    signed = Account.sign_transaction(tx, key)
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
    with pytest.raises(Exception, match=r"(?i)nonce|known"):
        w3.eth.send_raw_transaction(signed.raw_transaction)
    assert refusal(lambda: env.as_(env.insurer).pay(claim_id)) == "WrongStatus"


def test_the_same_step_twice_is_refused(env):
    claim_id = env.submit()
    insurer = env.as_(env.insurer)
    insurer.pend(claim_id, 16)
    env.as_(env.provider).supplement(claim_id, env.record(env.provider))
    assert refusal(lambda: insurer.pend(claim_id, 16)) == "AlreadyPended"
    insurer.adjudicate(claim_id, 100 * UNIT, 0)
    assert refusal(lambda: insurer.adjudicate(claim_id, 100 * UNIT, 0)) == "WrongStatus"
    insurer.pay(claim_id)
    assert refusal(lambda: insurer.pay(claim_id)) == "WrongStatus"
    provider = env.as_(env.provider)
    provider.withdraw(env.token.address)
    assert refusal(lambda: provider.withdraw(env.token.address)) == "NothingToWithdraw"


def test_ids_match_the_contracts(env):
    assert env.coverage_id == coverage_id_of(env.insurer.address, env.patient.address, env.coverage_digest)
    fn = env.claims.contract.functions
    encounter = os.urandom(32)
    assert fn.claimIdOf(env.coverage_id, env.provider.address, encounter).call() == claim_id_of(
        env.coverage_id, env.provider.address, encounter
    )


# -- adjudication ----------------------------------------------------------------------------------


def test_the_insurer_adjudicates_until_its_deadline_and_not_at_it(env, clock):
    first, second = env.submit(), env.submit()
    due = env.claims.claim(first).due
    assert due == env.claims.claim(first).due
    clock.next_block_at(due - 1)
    env.as_(env.insurer).adjudicate(first, 100 * UNIT)
    assert env.claims.claim(second).due <= due + 1
    clock.mine_at(env.claims.claim(second).due)
    assert refusal(lambda: env.as_(env.insurer).adjudicate(second, 100 * UNIT)) == "DeadlinePassed"


def test_a_pended_claim_stops_the_clock_and_a_supplement_restarts_it(env, clock):
    claim_id = env.submit()
    env.as_(env.insurer).pend(claim_id, 16)
    clock.warp(ADJUDICATION * 3)
    env.as_(env.provider).supplement(claim_id, env.record(env.provider))
    claim = env.claims.claim(claim_id)
    assert claim.status is ClaimStatus.SUBMITTED and claim.due == clock.now() + ADJUDICATION
    assert refusal(lambda: env.as_(env.insurer).pend(claim_id, 16)) == "AlreadyPended"


def test_the_insurer_may_deny_a_pended_claim_at_any_time(env, clock):
    claim_id = env.submit()
    env.as_(env.insurer).pend(claim_id, 16)
    clock.warp(ADJUDICATION * 2)
    env.as_(env.insurer).adjudicate(claim_id, 0, 0, reason=16)
    assert env.claims.claim(claim_id).status is ClaimStatus.DENIED


def test_amounts_must_fit_the_bill_and_a_denial_needs_a_reason(env):
    claim_id = env.submit(billed=100 * UNIT)
    insurer = env.as_(env.insurer)
    assert refusal(lambda: insurer.adjudicate(claim_id, 90 * UNIT, 11 * UNIT)) == "InvalidAmounts"
    assert refusal(lambda: insurer.adjudicate(claim_id, 0, 0, reason=0)) == "DenialWithoutReason"
    insurer.adjudicate(claim_id, 0, 100 * UNIT, reason=1)  # deductible: the patient owes it all
    claim = env.claims.claim(claim_id)
    assert (claim.status, claim.patient_share, claim.reason) == (ClaimStatus.DENIED, 100 * UNIT, 1)


def test_an_approval_records_the_patients_share_as_owed(env):
    claim_id = env.approved(approved=100 * UNIT, share=20 * UNIT + 500_000)
    claim = env.claims.claim(claim_id)
    assert (claim.status, claim.approved, claim.patient_share, claim.owed) == (
        ClaimStatus.APPROVED,
        100 * UNIT,
        20 * UNIT + 500_000,
        100 * UNIT,
    )
    event = env.claims.events("ClaimAdjudicated", claimId=claim_id)[0]["args"]
    assert event["patient"] == env.patient.address and event["patientShare"] == 20 * UNIT + 500_000


# -- appeals ---------------------------------------------------------------------------------------


def test_an_appeal_is_open_until_the_appeal_deadline_and_only_once(env, clock):
    late, on_time = env.approved(), env.approved()
    due = env.claims.claim(on_time).due
    clock.next_block_at(due - 1)
    env.as_(env.patient).appeal(on_time)
    clock.mine_at(max(due, clock.now() + 1))
    assert refusal(lambda: env.as_(env.patient).appeal(late)) == "AppealNotOpen"
    env.as_(env.insurer).adjudicate(on_time, 110 * UNIT)  # raised on appeal
    assert refusal(lambda: env.as_(env.provider).appeal(on_time)) == "AppealNotOpen"
    assert env.claims.claim(on_time).round == 1


def test_a_paid_claim_raised_on_appeal_pays_the_difference_and_never_less(env):
    claim_id = env.approved(approved=80 * UNIT, share=0)
    insurer = env.as_(env.insurer)
    insurer.pay(claim_id)
    env.as_(env.provider).appeal(claim_id, os.urandom(32))
    assert refusal(lambda: insurer.adjudicate(claim_id, 79 * UNIT, 0, reason=2)) == "BelowPaid"
    assert refusal(lambda: insurer.adjudicate(claim_id, 0, 0, reason=2)) == "BelowPaid"
    insurer.adjudicate(claim_id, 100 * UNIT)
    assert env.claims.claim(claim_id).owed == 20 * UNIT
    insurer.pay(claim_id)
    claim = env.claims.claim(claim_id)
    assert (claim.status, claim.paid) == (ClaimStatus.PAID, 100 * UNIT)
    assert env.claims.withdrawable(env.provider.address, env.token.address) == 100 * UNIT
    assert env.claims.is_final(claim_id)


def test_an_appeal_upheld_at_the_paid_amount_is_paid_and_final(env):
    claim_id = env.approved(approved=80 * UNIT, share=0)
    env.as_(env.insurer).pay(claim_id)
    env.as_(env.patient).appeal(claim_id)
    env.as_(env.insurer).adjudicate(claim_id, 80 * UNIT, 0, reason=45)
    assert env.claims.claim(claim_id).status is ClaimStatus.PAID
    assert env.claims.is_final(claim_id)


def test_a_claim_left_unadjudicated_is_deemed_denied_and_may_be_appealed(env, clock):
    claim_id = env.submit()
    due = env.claims.claim(claim_id).due
    clock.mine_at(due)
    assert refusal(lambda: env.as_(env.insurer).adjudicate(claim_id, 100 * UNIT)) == "DeadlinePassed"
    assert not env.claims.is_final(claim_id)
    env.as_(env.provider).appeal(claim_id)
    claim = env.claims.claim(claim_id)
    assert (claim.status, claim.round) == (ClaimStatus.APPEALED, 1)
    env.as_(env.insurer).adjudicate(claim_id, 100 * UNIT)
    env.as_(env.provider).pay(claim_id)
    assert env.claims.is_final(claim_id)


def test_a_deemed_denial_not_appealed_in_time_is_final(env, clock):
    claim_id = env.submit()
    clock.mine_at(env.claims.claim(claim_id).due + APPEAL)
    assert env.claims.is_final(claim_id)
    assert refusal(lambda: env.as_(env.provider).appeal(claim_id)) == "AppealNotOpen"


def test_an_appeal_left_undecided_lets_the_approval_be_paid(env, clock):
    claim_id = env.approved(approved=100 * UNIT, share=0)
    env.as_(env.provider).appeal(claim_id)
    assert refusal(lambda: env.as_(env.provider).pay(claim_id)) == "WrongStatus"  # pending the appeal
    clock.mine_at(env.claims.claim(claim_id).due)
    assert refusal(lambda: env.as_(env.insurer).adjudicate(claim_id, 120 * UNIT)) == "DeadlinePassed"
    assert not env.claims.is_final(claim_id)  # still owed
    env.as_(env.provider).pay(claim_id)
    assert env.claims.claim(claim_id).paid == 100 * UNIT and env.claims.is_final(claim_id)


def test_finality(env, clock):
    denied = env.submit()
    env.as_(env.insurer).adjudicate(denied, 0, 0, reason=50)
    withdrawn = env.submit()
    env.as_(env.provider).withdraw_claim(withdrawn)
    approved = env.approved()
    assert env.claims.is_final(withdrawn)
    assert not env.claims.is_final(denied)  # appeal window open
    clock.warp(APPEAL + 1)
    assert env.claims.is_final(denied)
    assert not env.claims.is_final(approved)  # approved and unpaid: never final
    assert refusal(lambda: env.as_(env.provider).withdraw_claim(approved)) == "WrongStatus"


# -- suspension and pause --------------------------------------------------------------------------


def test_a_suspended_provider_is_not_paid_until_reinstated_but_keeps_what_it_was_paid(env):
    paid, waiting = env.approved(), env.approved()
    env.as_(env.insurer).pay(paid)
    digest = env.record(env.provider)
    registrar = env.world.ledger(env.actors.registrar).providers
    registrar.suspend(env.provider.address)
    assert refusal(lambda: env.as_(env.insurer).pay(waiting)) == "ProviderInactive"
    encounter = encounter_digest(env.patient.address, "Encounter/s")
    now = env.world.chain.now()
    assert refusal(lambda: env.as_(env.provider).submit(env.coverage_id, encounter, digest, now, BILLED)) == (
        "ProviderInactive"
    )
    _, amount = env.as_(env.provider).withdraw(env.token.address)
    assert amount == 100 * UNIT
    registrar.reinstate(env.provider.address)
    env.as_(env.insurer).pay(waiting)


def test_a_suspended_insurer_cannot_adjudicate_or_fund_but_takes_its_escrow_back(env):
    claim_id = env.submit()
    env.world.ledger(env.actors.registrar).providers.suspend(env.insurer.address)
    insurer = env.as_(env.insurer)
    assert refusal(lambda: insurer.adjudicate(claim_id, UNIT)) == "ProviderInactive"
    assert refusal(lambda: insurer.fund(env.token.address, UNIT)) == "ProviderInactive"
    escrow = env.escrow()
    insurer.withdraw_escrow(env.token.address, escrow)
    assert env.escrow() == 0


def test_the_ledgers_pause_stops_new_obligations_but_not_withdrawals(env):
    claim_id = env.approved()
    env.as_(env.insurer).pay(claim_id)
    open_claim = env.submit()
    admin = env.world.ledger(env.actors.admin).providers
    admin.add_pauser(env.actors.stranger.address)
    env.world.ledger(env.actors.stranger).providers.pause()
    assert refusal(lambda: env.submit()) == "LedgerPaused"
    assert refusal(lambda: env.as_(env.insurer).adjudicate(open_claim, UNIT)) == "LedgerPaused"
    assert refusal(lambda: env.as_(env.insurer).fund(env.token.address, UNIT)) == "LedgerPaused"
    env.as_(env.provider).withdraw(env.token.address)
    env.as_(env.provider).withdraw_claim(open_claim)
    env.as_(env.insurer).withdraw_escrow(env.token.address, UNIT)


def test_encounter_digests_depend_on_patient_and_identifier():
    a, b = anvil_account(3).address, anvil_account(4).address
    assert encounter_digest(a, "E/1") != encounter_digest(b, "E/1") != encounter_digest(a, "E/2")
    with pytest.raises(InvalidArgumentError):
        encounter_digest(a, "  ")
