"""Claims: who may call what. Every state-changing function against every actor: the one(s) the
rules name succeed; everyone else is refused with the error that names why. Wrong actors are
asked with eth_call from their address (nothing sent), then the rightful actor sends for real."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from medledger.chain.accounts import Signer
from medledger.chain.errors import ContractRevertError
from medledger.ledger.claims import ClaimsClient, ClaimStatus, encounter_digest
from tests.chain import claims_support as support
from tests.chain.claims_support import BILLING, UNIT, ClaimsEnv

ACTORS = ("patient", "provider", "suspended", "researcher", "stranger", "insurer", "other_insurer")
claims_env, env = support.claims_env, support.env  # the module's fixtures


def _signer(env: ClaimsEnv, name: str) -> Signer:
    if name == "insurer":
        return env.insurer
    if name == "other_insurer":
        return env.other_insurer
    return getattr(env.actors, name)


def _check_matrix(
    env: ClaimsEnv, build: Callable[[ClaimsClient], Any], allowed: dict[str, str | None], *, send_as: str
) -> None:
    """For every actor: `allowed[actor]` None means the call succeeds (eth_call), otherwise it names
    the refusal. Then `send_as` sends it for real."""
    claims = env.claims
    seen: dict[str, str | None] = {}
    for name in ACTORS:
        signer = _signer(env, name)
        try:
            claims.sender.call(build(claims), sender=signer.address)
            seen[name] = None
        except ContractRevertError as exc:
            seen[name] = exc.error
    assert seen == allowed
    env.as_(_signer(env, send_as))._send(build(claims))


def _only(rightful: tuple[str, ...], error: str, **others: str) -> dict[str, str | None]:
    return {name: None if name in rightful else others.get(name, error) for name in ACTORS}


def test_only_an_active_insurer_registers_a_coverage_for_a_record_it_authored(env):
    other = env.actors.other_patient
    digest = env.record(env.insurer, patient=other)
    now = env.world.chain.now()
    build = lambda c: c.register_coverage_call(other.address, digest, env.token.address, now, now + 86400)  # noqa: E731
    _check_matrix(
        env, build, _only(("insurer",), "NotAnInsurer", other_insurer="DocumentNotRecorded"), send_as="insurer"
    )
    coverage = env.claims.coverage(
        env.claims.contract.functions.coverageIdOf(env.insurer.address, other.address, digest).call()
    )
    assert coverage is not None and coverage.insurer == env.insurer.address and coverage.token == env.token.address


def test_only_the_coverages_insurer_ends_it(env):
    end = env.world.chain.now() + 3600
    build = lambda c: c.contract.functions.endCoverage(env.coverage_id, end)  # noqa: E731
    _check_matrix(env, build, _only(("insurer",), "NotCoverageInsurer"), send_as="insurer")
    assert env.claims.coverage(env.coverage_id).end == end


def test_only_an_active_clinician_or_organisation_submits(env):
    digest = env.record(env.provider)
    service = env.world.chain.now() - 86400
    encounter = encounter_digest(env.patient.address, "Encounter/1")
    build = lambda c: c.submit_call(env.coverage_id, encounter, digest, service, 100 * UNIT)  # noqa: E731
    _check_matrix(
        env, build, _only(("provider",), "NotABillingProvider", suspended="ProviderInactive"), send_as="provider"
    )


def test_only_the_claims_insurer_pends(env):
    claim_id = env.submit()
    _check_matrix(env, lambda c: c.pend_call(claim_id, 16), _only(("insurer",), "NotClaimInsurer"), send_as="insurer")
    assert env.claims.claim(claim_id).status is ClaimStatus.PENDED


def test_only_the_claims_provider_supplements(env):
    claim_id = env.submit()
    env.as_(env.insurer).pend(claim_id, 16)
    digest = env.record(env.provider, category=BILLING)
    build = lambda c: c.supplement_call(claim_id, digest)  # noqa: E731
    _check_matrix(env, build, _only(("provider",), "NotClaimProvider"), send_as="provider")
    assert env.claims.claim(claim_id).status is ClaimStatus.SUBMITTED


def test_only_the_claims_insurer_adjudicates(env):
    claim_id = env.submit()
    build = lambda c: c.adjudicate_call(claim_id, 100 * UNIT, 20 * UNIT)  # noqa: E731
    _check_matrix(env, build, _only(("insurer",), "NotClaimInsurer"), send_as="insurer")
    assert env.claims.claim(claim_id).status is ClaimStatus.APPROVED


def test_the_insurer_or_the_provider_triggers_payment(env):
    claim_id = env.approved()
    _check_matrix(env, lambda c: c.pay_call(claim_id), _only(("insurer", "provider"), "NotPayer"), send_as="provider")
    assert env.claims.claim(claim_id).status is ClaimStatus.PAID


def test_only_the_patient_or_the_provider_appeals(env):
    claim_id = env.approved()
    build = lambda c: c.appeal_call(claim_id, os.urandom(32))  # noqa: E731
    _check_matrix(env, build, _only(("patient", "provider"), "NotAppellant"), send_as="patient")
    assert env.claims.claim(claim_id).status is ClaimStatus.APPEALED


def test_only_the_claims_provider_withdraws_it(env):
    claim_id = env.submit()
    build = lambda c: c.withdraw_claim_call(claim_id)  # noqa: E731
    _check_matrix(env, build, _only(("provider",), "NotClaimProvider"), send_as="provider")
    assert env.claims.claim(claim_id).status is ClaimStatus.WITHDRAWN


def test_only_insurers_fund_an_escrow_in_any_token(env):
    for who in (env.patient, env.provider, env.other_insurer):
        env.token.mint(env.insurer, who.address, UNIT)
        env.token.approve(who, env.claims.address, UNIT)
    build = lambda c: c.fund_call(env.token.address, UNIT)  # noqa: E731
    before = env.escrow()
    _check_matrix(env, build, _only(("insurer", "other_insurer"), "NotAnInsurer"), send_as="other_insurer")
    assert env.escrow() == before  # each insurer's escrow is its own
    assert env.escrow(env.other_insurer) == UNIT


def test_only_an_insurer_with_escrow_takes_it_back(env):
    build = lambda c: c.withdraw_escrow_call(env.token.address, UNIT)  # noqa: E731
    _check_matrix(env, build, _only(("insurer",), "InsufficientEscrow"), send_as="insurer")


def test_only_a_paid_provider_withdraws(env):
    claim_id = env.approved()
    env.as_(env.insurer).pay(claim_id)
    build = lambda c: c.withdraw_call(env.token.address)  # noqa: E731
    _check_matrix(env, build, _only(("provider",), "NothingToWithdraw"), send_as="provider")
    assert env.token.balance(env.provider.address) == 100 * UNIT
