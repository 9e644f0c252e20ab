"""The claims lifecycle as a stateful model: random sequences of submit / pend / supplement /
adjudicate / pay / appeal / withdraw a claim / fund / take escrow back / withdraw payments / suspend
and reinstate the provider / let time pass, checked step by step against a plain-Python model of the
rules (every refusal's error name, every claim's stored status, round and amounts) and against the
escrow invariant, per token:

    escrow + providers' withdrawable balances + paid out + escrow taken back == deposits
    and the contract's token balance == escrow + withdrawable

Two insurers pay in two tokens, so an underfunded insurer is part of the search too."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from medledger.chain.errors import ContractRevertError
from medledger.ledger.claims import ClaimStatus, encounter_digest
from tests.chain import claims_support as support
from tests.chain.claims_support import (
    BILLING,
    CODEC_RAW,
    DAY,
    FUNDED,
    SETTINGS,
    UNIT,
)

ADJ, APPEAL = SETTINGS.adjudication_seconds, SETTINGS.appeal_seconds
S = ClaimStatus
claims_env, env = support.claims_env, support.env  # the module's fixtures


@dataclass
class ModelClaim:
    insurer: int  # 0 or 1
    billed: int
    status: S = S.SUBMITTED
    due: int = 0
    round: int = 0
    pended: bool = False
    approved: int = 0
    share: int = 0
    paid: int = 0


@dataclass
class Model:
    claims: dict[bytes, ModelClaim] = field(default_factory=dict)
    escrow: list[int] = field(default_factory=lambda: [FUNDED // 2, FUNDED // 2])
    deposits: list[int] = field(default_factory=lambda: [FUNDED // 2, FUNDED // 2])
    withdrawable: list[int] = field(default_factory=lambda: [0, 0])
    paid_out: list[int] = field(default_factory=lambda: [0, 0])
    escrow_back: list[int] = field(default_factory=lambda: [0, 0])
    provider_active: bool = True


def test_the_claims_lifecycle_and_the_escrow_invariant_hold_under_random_steps(env, anvil):
    world = env.world
    insurers = [env.insurer, env.other_insurer]
    tokens = [env.token, env.other_token]
    provider = env.provider

    class ClaimsMachine(RuleBasedStateMachine):
        @initialize()
        def start(self):
            self.snapshot = anvil.snapshot()
            self.model = Model()
            # The second insurer covers the patient too, in its own token.
            digest = os.urandom(32)
            world.ledger(insurers[1]).records.add(env.patient.address, digest, CODEC_RAW, BILLING)
            now = world.chain.now()
            _, second = env.as_(insurers[1]).register_coverage(
                env.patient.address, digest, tokens[1].address, now - 365 * DAY, now + 365 * DAY
            )
            self.coverages = [env.coverage_id, second]
            self.ids: list[bytes] = []
            self.counter = 0

        def teardown(self):
            anvil.revert(self.snapshot)

        def now(self) -> int:
            return world.chain.now()

        def expect(self, call, error: str | None) -> bool:
            """Run `call`; it must fail with `error`, or succeed when `error` is None."""
            try:
                call()
            except ContractRevertError as exc:
                assert error is not None, f"refused with {exc.error}, the model expected success"
                assert exc.error == error, (exc.error, error)
                return False
            assert error is None, f"succeeded, the model expected {error}"
            return True

        claim_index = st.integers(min_value=0, max_value=7)

        def pick(self, index: int) -> tuple[bytes, ModelClaim] | None:
            if not self.ids:
                return None
            claim_id = self.ids[index % len(self.ids)]
            return claim_id, self.model.claims[claim_id]

        # -- steps -------------------------------------------------------------------------------

        @rule(which=st.integers(0, 1), billed=st.integers(1, 500))
        def submit(self, which, billed):
            self.counter += 1
            digest = os.urandom(32)
            expected = None if self.model.provider_active else "ProviderInactive"
            if self.model.provider_active:
                world.ledger(provider).records.add(env.patient.address, digest, CODEC_RAW, BILLING)
            encounter = encounter_digest(env.patient.address, f"E/{self.counter}")
            result: list[bytes] = []
            ok = self.expect(
                lambda: result.append(
                    env.as_(provider).submit(self.coverages[which], encounter, digest, self.now() - 60, billed * UNIT)[
                        1
                    ]
                ),
                expected,
            )
            if ok:
                self.ids.append(result[0])
                self.model.claims[result[0]] = ModelClaim(which, billed * UNIT, due=self.now() + ADJ)

        @precondition(lambda self: self.ids)
        @rule(index=claim_index)
        def pend(self, index):
            claim_id, c = self.pick(index)
            error = (
                "WrongStatus" if c.status is not S.SUBMITTED else
                "AlreadyPended" if c.pended else
                "DeadlinePassed" if self.now() + 1 >= c.due else None
            )  # fmt: skip
            if self.expect(lambda: env.as_(insurers[c.insurer]).pend(claim_id, 16), error):
                c.status, c.pended, c.due = S.PENDED, True, 0

        @precondition(lambda self: self.ids)
        @rule(index=claim_index)
        def supplement(self, index):
            claim_id, c = self.pick(index)
            digest = os.urandom(32)
            if self.model.provider_active:
                world.ledger(provider).records.add(env.patient.address, digest, CODEC_RAW, BILLING)
            error = "WrongStatus" if c.status is not S.PENDED else None
            if error is None and not self.model.provider_active:
                error = "DocumentNotRecorded"
            if self.expect(lambda: env.as_(provider).supplement(claim_id, digest), error):
                c.status, c.due = S.SUBMITTED, self.now() + ADJ

        @precondition(lambda self: self.ids)
        @rule(index=claim_index, fraction=st.integers(0, 4), share=st.integers(0, 2))
        def adjudicate(self, index, fraction, share):
            claim_id, c = self.pick(index)
            approved = c.billed * fraction // 4
            patient_share = (c.billed - approved) * share // 2
            reason = 0 if approved else 50
            if c.status in (S.SUBMITTED, S.APPEALED):
                error = "DeadlinePassed" if self.now() + 1 >= c.due else None
            elif c.status is S.PENDED:
                error = None
            else:
                error = "WrongStatus"
            if error is None and approved < c.paid:
                error = "BelowPaid"
            ok = self.expect(
                lambda: env.as_(insurers[c.insurer]).adjudicate(claim_id, approved, patient_share, reason), error
            )
            if ok:
                appeal_round = c.status is S.APPEALED
                c.status = S.DENIED if approved == 0 else S.PAID if approved == c.paid else S.APPROVED
                c.approved, c.share = approved, patient_share
                c.round = 1 if appeal_round else 0
                c.due = 0 if appeal_round else self.now() + APPEAL

        @precondition(lambda self: self.ids)
        @rule(index=claim_index, by_provider=st.booleans())
        def pay(self, index, by_provider):
            claim_id, c = self.pick(index)
            lapsed = c.status is S.APPEALED and self.now() + 1 >= c.due and c.approved > c.paid
            error = None if c.status is S.APPROVED or lapsed else "WrongStatus"
            amount = c.approved - c.paid
            if error is None and not self.model.provider_active:
                error = "ProviderInactive"
            if error is None and self.model.escrow[c.insurer] < amount:
                error = "InsufficientEscrow"
            caller = provider if by_provider else insurers[c.insurer]
            if self.expect(lambda: env.as_(caller).pay(claim_id), error):
                self.model.escrow[c.insurer] -= amount
                self.model.withdrawable[c.insurer] += amount
                c.paid, c.status = c.approved, S.PAID

        @precondition(lambda self: self.ids)
        @rule(index=claim_index, by_patient=st.booleans())
        def appeal(self, index, by_patient):
            claim_id, c = self.pick(index)
            now = self.now() + 1
            if c.round != 0:
                open_ = False
            elif c.status in (S.APPROVED, S.DENIED, S.PAID):
                open_ = now < c.due
            else:
                open_ = c.status is S.SUBMITTED and c.due <= now < c.due + APPEAL
            appellant = env.patient if by_patient else provider
            if self.expect(lambda: env.as_(appellant).appeal(claim_id), None if open_ else "AppealNotOpen"):
                c.status, c.round, c.due = S.APPEALED, 1, self.now() + ADJ

        @precondition(lambda self: self.ids)
        @rule(index=claim_index)
        def withdraw_claim(self, index):
            claim_id, c = self.pick(index)
            error = None if c.status in (S.SUBMITTED, S.PENDED) else "WrongStatus"
            if self.expect(lambda: env.as_(provider).withdraw_claim(claim_id), error):
                c.status, c.due = S.WITHDRAWN, 0

        @rule(which=st.integers(0, 1), amount=st.integers(1, 300))
        def fund(self, which, amount):
            env.as_(insurers[which]).fund(tokens[which].address, amount * UNIT)
            self.model.escrow[which] += amount * UNIT
            self.model.deposits[which] += amount * UNIT

        @rule(which=st.integers(0, 1), amount=st.integers(1, 6000))
        def withdraw_escrow(self, which, amount):
            error = None if amount * UNIT <= self.model.escrow[which] else "InsufficientEscrow"
            if self.expect(
                lambda: env.as_(insurers[which]).withdraw_escrow(tokens[which].address, amount * UNIT), error
            ):
                self.model.escrow[which] -= amount * UNIT
                self.model.escrow_back[which] += amount * UNIT

        @rule(which=st.integers(0, 1))
        def withdraw(self, which):
            error = None if self.model.withdrawable[which] else "NothingToWithdraw"
            if self.expect(lambda: env.as_(provider).withdraw(tokens[which].address), error):
                self.model.paid_out[which] += self.model.withdrawable[which]
                self.model.withdrawable[which] = 0

        @rule()
        def suspend_or_reinstate(self):
            registrar = world.ledger(env.actors.registrar).providers
            if self.model.provider_active:
                registrar.suspend(provider.address)
            else:
                registrar.reinstate(provider.address)
            self.model.provider_active = not self.model.provider_active

        # Odd hours, so no sum of steps lands within seconds of a 30- or 60-day deadline.
        @rule(hours=st.sampled_from([29, 703, 755, 1477]))
        def time_passes(self, hours):
            world.chain.increase_time(hours * 3600)

        # -- invariants ----------------------------------------------------------------------------

        @invariant()
        def claims_match(self):
            for claim_id in getattr(self, "ids", []):
                c, stored = self.model.claims[claim_id], env.claims.claim(claim_id)
                assert (stored.status, stored.round, stored.approved, stored.patient_share, stored.paid) == (
                    c.status,
                    c.round,
                    c.approved,
                    c.share,
                    c.paid,
                ), claim_id.hex()
                assert stored.due == c.due

        @invariant()
        def escrow_is_conserved(self):
            if not hasattr(self, "model"):
                return
            m = self.model
            for which in (0, 1):
                escrow = env.claims.escrow_of(insurers[which].address, tokens[which].address)
                owed = env.claims.withdrawable(provider.address, tokens[which].address)
                assert (escrow, owed) == (m.escrow[which], m.withdrawable[which])
                assert escrow + owed + m.paid_out[which] + m.escrow_back[which] == m.deposits[which]
                assert tokens[which].balance(env.claims.address) == escrow + owed

    run_state_machine_as_test(
        ClaimsMachine,
        settings=settings(
            max_examples=int(os.environ.get("MEDLEDGER_CLAIMS_STATEFUL_EXAMPLES", "4")),
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
