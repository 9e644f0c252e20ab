"""Studies: relayed (EIP-712) enrolment and withdrawal, replays refused; and the escrow invariant
(paid + refunded + earned-but-unclaimed = deposit, and the contract holds exactly what is owed)
over random sequences of enrolments, reads, withdrawals, claims, suspensions and the close."""

from __future__ import annotations

import os

import pytest
from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from medledger.chain.errors import ContractRevertError
from medledger.ledger.signatures import SignedMessageError
from medledger.ledger.studies import (
    ParticipantStatus,
    StudiesClient,
    parse_study_message,
    recovered_signer,
    sign_study_message,
)
from tests.chain import studies_helpers
from tests.chain.studies_helpers import DAY, REWARD, StudyEnv, refusal

# The shared fixtures of the Studies tests (tests/chain/studies_helpers.py).
study_base = studies_helpers.study_base
env = studies_helpers.env

# -- relayed enrolment and withdrawal ---------------------------------------------------------


def _signed_enrolment(env, patient, study_id, *, valid_for=3600, signer=None):
    digest = env.publish(patient)
    env.consent(patient, study_id)
    data = env.studies.enrol_data(study_id, patient.address, [digest], valid_for=valid_for)
    return sign_study_message(signer or patient, data), digest


def test_anyone_relays_a_signed_enrolment_and_pays_the_gas(env):
    patient, relayer = env.world.actors.patient, env.world.actors.stranger
    study_id = env.register()
    signed, digest = _signed_enrolment(env, patient, study_id)
    parsed = parse_study_message(signed.to_json())  # the file a patient hands to a relayer
    assert recovered_signer(parsed) == patient.address
    before = env.world.chain.w3.eth.get_balance(patient.address)
    env.as_(relayer).relay(parsed)
    assert env.world.chain.w3.eth.get_balance(patient.address) == before
    assert env.studies.participant(study_id, patient.address).status is ParticipantStatus.ENROLLED
    assert env.studies.is_study_record(study_id, patient.address, digest)
    assert env.studies.nonce(patient.address) == 1


def test_a_relayed_enrolment_works_once(env):
    patient = env.world.actors.patient
    study_id = env.register()
    signed, _ = _signed_enrolment(env, patient, study_id)
    relayer = env.as_(env.world.actors.stranger)
    relayer.relay(signed)
    assert refusal(lambda: relayer.relay(signed)).error == "InvalidAccountNonce"


def test_a_signed_enrolment_cannot_be_replayed_into_another_study(env):
    patient = env.world.actors.patient
    first, second = env.register(), env.register()
    signed, digest = _signed_enrolment(env, patient, first)
    message = signed.message
    call = env.studies.functions.enrolBySig(
        second, patient.address, [digest], (message["nonce"], message["deadline"]), signed.signature
    )
    assert refusal(lambda: env.as_(env.world.actors.stranger)._send(call)).error == "InvalidSignature"


def test_a_signed_enrolment_binds_its_records(env):
    patient = env.world.actors.patient
    study_id = env.register()
    signed, _ = _signed_enrolment(env, patient, study_id)
    other = env.publish(patient, "a record the patient did not sign for")
    message = signed.message
    call = env.studies.functions.enrolBySig(
        study_id, patient.address, [other], (message["nonce"], message["deadline"]), signed.signature
    )
    assert refusal(lambda: env.as_(env.world.actors.stranger)._send(call)).error == "InvalidSignature"
    tampered = parse_study_message(signed.to_json().replace(signed.typed_data["recordDigests"][0], "0x" + other.hex()))
    with pytest.raises(SignedMessageError, match="do not match"):
        env.as_(env.world.actors.stranger).relay(tampered)


def test_an_expired_or_foreign_signature_is_refused(env, clock):
    patient = env.world.actors.patient
    study_id = env.register()
    signed, _ = _signed_enrolment(env, patient, study_id, valid_for=60)
    forged, _ = _signed_enrolment(env, env.world.actors.other_patient, study_id, signer=env.world.actors.stranger)
    relayer = env.as_(env.world.actors.stranger)
    assert refusal(lambda: relayer.relay(forged)).error == "InvalidSignature"
    clock.warp(61)
    assert refusal(lambda: relayer.relay(signed)).error == "SignatureExpired"


def test_a_signed_withdrawal_is_relayed_once_and_later_enrolment_signatures_are_stale(env):
    patient = env.world.actors.patient
    study_id = env.register()
    env.enrol(patient, study_id)
    signed = sign_study_message(patient, env.studies.withdraw_data(study_id, patient.address))
    relayer = env.as_(env.world.actors.stranger)
    relayer.relay(signed)
    assert env.studies.participant(study_id, patient.address).status is ParticipantStatus.WITHDRAWN
    assert refusal(lambda: relayer.relay(signed)).error == "InvalidAccountNonce"


def test_a_signature_for_another_studies_deployment_is_refused(env, study_base):
    patient = env.world.actors.patient
    study_id = env.register()
    signed, _ = _signed_enrolment(env, patient, study_id)
    data = dict(signed.typed_data)
    data["domain"] = {**data["domain"], "verifyingContract": env.world.deployment.ledger_address}
    elsewhere = sign_study_message(patient, data)
    assert refusal(lambda: env.as_(env.world.actors.stranger).relay(elsewhere)).error == "InvalidSignature"


# -- the escrow invariant ----------------------------------------------------------------------


def make_machine(study_env: StudyEnv, anvil):
    world = study_env.world
    people = [world.actors.patient, world.actors.other_patient, world.actors.stranger]
    places = 2

    class EscrowMachine(RuleBasedStateMachine):
        @initialize()
        def start(self):
            self.snapshot = anvil.snapshot()
            self.study_id = study_env.register(max_participants=places)
            self.deposit = places * REWARD
            self.digests: dict[str, bytes] = {}
            self.status: dict[str, str] = {}  # address -> enrolled | withdrawn
            self.earned: set[str] = set()
            self.paid: set[str] = set()
            self.refund = 0
            self.closed = False
            self.suspended = False
            self.ended = False

        def teardown(self):
            anvil.revert(self.snapshot)

        def client(self, signer) -> StudiesClient:
            return study_env.as_(signer)

        def expect(self, call, error):
            if error is None:
                return call()
            with pytest.raises(ContractRevertError) as caught:
                call()
            assert caught.value.error == error
            return None

        def taken(self) -> int:
            return sum(1 for a, s in self.status.items() if s == "enrolled" or (s == "withdrawn" and a in self.earned))

        @rule(who=st.sampled_from(people))
        def enrol(self, who):
            if self.ended:
                return
            digest = study_env.publish(who, os.urandom(8).hex())
            study_env.consent(who, self.study_id)
            error = (
                "StudyNotOpen"
                if self.suspended
                else "AlreadyEnrolled"
                if who.address in self.status
                else "StudyFull"
                if self.taken() >= places
                else None
            )
            self.expect(lambda: self.client(who).enrol(self.study_id, [digest]), error)
            if error is None:
                self.status[who.address] = "enrolled"
                self.digests[who.address] = digest

        @rule(who=st.sampled_from(people))
        def read(self, who):
            digest = self.digests.get(who.address, keccak(text="none"))
            error = (
                "StudyNotOpen"
                if self.suspended or self.closed
                else "StudyEnded"
                if self.ended
                else "NotEnrolled"
                if self.status.get(who.address) != "enrolled"
                else None
            )
            self.expect(lambda: study_env.studies.log_access(self.study_id, who.address, digest), error)
            if error is None:
                self.earned.add(who.address)

        @rule(who=st.sampled_from(people))
        def withdraw(self, who):
            error = None if self.status.get(who.address) == "enrolled" else "NotEnrolled"
            self.expect(lambda: self.client(who).withdraw(self.study_id), error)
            if error is None:
                self.status[who.address] = "withdrawn"

        @rule(who=st.sampled_from(people), relayer=st.sampled_from(people))
        def claim(self, who, relayer):
            owed = who.address in self.earned and who.address not in self.paid
            self.expect(
                lambda: self.client(relayer).claim(self.study_id, who.address), None if owed else "NothingToClaim"
            )
            if owed:
                self.paid.add(who.address)

        @rule()
        def suspend_or_reinstate(self):
            if self.closed:
                return
            registrar = self.client(world.actors.registrar)
            if self.suspended:
                registrar.reinstate(self.study_id)
            else:
                registrar.suspend(self.study_id)
            self.suspended = not self.suspended

        @rule()
        def end_and_close(self):
            if not self.ended:
                world.chain.increase_time(31 * DAY)
                self.ended = True
            error = "StudyNotOpen" if self.closed else None
            result = self.expect(lambda: study_env.studies.close(self.study_id), error)
            if error is None:
                self.refund = result[0]
                assert self.refund == (places - len(self.earned)) * REWARD
                self.closed = True

        @invariant()
        def escrow_adds_up(self):
            if not hasattr(self, "study_id"):
                return
            study = study_env.studies.study(self.study_id)
            assert study is not None
            paid = study.paid * study.reward
            owed = (study.earned - study.paid) * study.reward
            assert (study.earned, study.paid) == (len(self.earned), len(self.paid))
            held = study_env.studies.token_balance(study_env.token.address)
            if self.closed:
                assert paid + self.refund + owed == self.deposit
                assert held == owed
            else:
                assert held == self.deposit - paid
            assert paid + owed <= self.deposit

    return EscrowMachine


def test_escrow_adds_up_over_random_histories(env, anvil):
    run_state_machine_as_test(
        make_machine(env, anvil),
        settings=settings(
            max_examples=int(os.environ.get("MEDLEDGER_STUDIES_EXAMPLES", "4")),
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )


def test_a_patient_cancels_a_signed_enrolment_before_it_is_relayed(env):
    patient = env.world.actors.patient
    study_id = env.register()
    signed, _ = _signed_enrolment(env, patient, study_id)
    env.as_(patient).cancel_signatures()
    assert refusal(lambda: env.as_(env.world.actors.stranger).relay(signed)).error == "InvalidAccountNonce"
    assert env.studies.participant(study_id, patient.address).status is ParticipantStatus.NONE
