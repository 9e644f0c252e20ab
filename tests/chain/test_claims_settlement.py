"""Claims settlement: escrow per insurer and token, pull payments, and tokens that misbehave (return
false, revert, re-enter, take a fee). An underfunded insurer blocks only its own claims."""

from __future__ import annotations

import os

import pytest

from medledger.chain.errors import ContractRevertError, TransactionFailedError
from medledger.ledger.claims import ClaimStatus
from tests.chain import claims_support as support
from tests.chain.claims_support import (
    BILLING,
    CODEC_RAW,
    DAY,
    FEE,
    FUNDED,
    NORMAL,
    REENTER,
    RETURN_FALSE,
    REVERT,
    UNIT,
    ClaimsEnv,
    Token,
    deploy_token,
    refusal,
)

claims_env, env = support.claims_env, support.env  # the module's fixtures


def _covered_by(env: ClaimsEnv, token: Token, insurer=None) -> bytes:
    """A second coverage of the patient, paid in `token`."""
    insurer = insurer or env.insurer
    digest = os.urandom(32)
    env.world.ledger(insurer).records.add(env.patient.address, digest, CODEC_RAW, BILLING)
    now = env.world.chain.now()
    _, coverage_id = env.as_(insurer).register_coverage(
        env.patient.address, digest, token.address, now - DAY * 30, now + DAY
    )
    return coverage_id


def _misbehaving(env: ClaimsEnv) -> tuple[Token, bytes]:
    token = deploy_token(env.world, env.insurer, misbehaving=True)
    token.mint(env.insurer, env.insurer.address, 1000 * UNIT)
    token.approve(env.insurer, env.claims.address, 2**256 - 1)
    env.as_(env.insurer).fund(token.address, 500 * UNIT)
    return token, _covered_by(env, token)


def _paid_claim(env: ClaimsEnv, coverage_id: bytes, amount: int = 100 * UNIT) -> bytes:
    claim_id = env.submit(coverage_id=coverage_id)
    env.as_(env.insurer).adjudicate(claim_id, amount, 0)
    env.as_(env.insurer).pay(claim_id)
    return claim_id


def test_payment_moves_the_approved_amount_from_escrow_to_the_provider_who_pulls_it(env):
    claim_id = env.approved(approved=100 * UNIT, share=20 * UNIT)
    before = env.escrow()
    env.as_(env.provider).pay(claim_id)
    assert env.escrow() == before - 100 * UNIT
    assert env.claims.withdrawable(env.provider.address, env.token.address) == 100 * UNIT
    assert env.token.balance(env.provider.address) == 0  # nothing pushed
    _, amount = env.as_(env.provider).withdraw(env.token.address)
    assert amount == 100 * UNIT and env.token.balance(env.provider.address) == 100 * UNIT
    event = env.claims.events("ClaimPaid", claimId=claim_id)[0]["args"]
    assert (event["amount"], event["token"], event["insurer"]) == (100 * UNIT, env.token.address, env.insurer.address)


def test_an_underfunded_insurer_blocks_only_its_own_claims(env):
    """The other insurer covers the other patient in its own token; the first insurer empties its escrow."""
    other = env.actors.other_patient
    digest = env.record(env.other_insurer, patient=other)
    now = env.world.chain.now()
    _, other_coverage = env.as_(env.other_insurer).register_coverage(
        other.address, digest, env.other_token.address, now - DAY, now + DAY
    )
    mine = env.approved(approved=100 * UNIT, share=0)
    doc = env.record(env.provider, patient=other)
    from medledger.ledger.claims import encounter_digest

    _, theirs = env.as_(env.provider).submit(
        other_coverage, encounter_digest(other.address, "E/1"), doc, now - 60, 50 * UNIT
    )
    env.as_(env.other_insurer).adjudicate(theirs, 50 * UNIT, 0)
    env.as_(env.insurer).withdraw_escrow(env.token.address, env.escrow())  # underfunded now
    error = None
    try:
        env.as_(env.provider).pay(mine)
    except ContractRevertError as exc:
        error = exc
    assert error is not None and error.error == "InsufficientEscrow"
    assert error.arguments["available"] == 0 and error.arguments["needed"] == 100 * UNIT
    env.as_(env.provider).pay(theirs)  # the other insurer's claim is paid from its own escrow
    assert env.escrow(env.other_insurer, env.other_token) == FUNDED // 2 - 50 * UNIT
    env.as_(env.insurer).fund(env.token.address, 100 * UNIT)
    env.as_(env.provider).pay(mine)
    assert env.claims.claim(mine).status is ClaimStatus.PAID


def test_escrows_are_kept_per_token_even_for_one_insurer(env):
    second = deploy_token(env.world, env.insurer)
    second.mint(env.insurer, env.insurer.address, 10 * UNIT)
    second.approve(env.insurer, env.claims.address, 10 * UNIT)
    env.as_(env.insurer).fund(second.address, 10 * UNIT)
    coverage = _covered_by(env, second)
    claim_id = env.submit(coverage_id=coverage)
    env.as_(env.insurer).adjudicate(claim_id, 11 * UNIT, 0)
    assert (
        refusal(lambda: env.as_(env.insurer).pay(claim_id)) == "InsufficientEscrow"
    )  # the other token's escrow is untouched
    assert env.escrow() == FUNDED // 2


def test_a_token_that_returns_false_is_refused_and_nothing_moves(env):
    token, coverage = _misbehaving(env)
    _paid_claim(env, coverage)
    token.set_mode(env.insurer, RETURN_FALSE)
    assert refusal(lambda: env.as_(env.insurer).fund(token.address, UNIT)) == "SafeERC20FailedOperation"
    assert refusal(lambda: env.as_(env.provider).withdraw(token.address)) == "SafeERC20FailedOperation"
    assert env.claims.withdrawable(env.provider.address, token.address) == 100 * UNIT  # still owed
    token.set_mode(env.insurer, NORMAL)
    _, amount = env.as_(env.provider).withdraw(token.address)
    assert amount == 100 * UNIT and token.balance(env.provider.address) == 100 * UNIT


def test_a_token_that_reverts_is_refused_and_nothing_moves(env):
    token, coverage = _misbehaving(env)
    _paid_claim(env, coverage)
    token.set_mode(env.insurer, REVERT)
    escrow = env.escrow(token=token)
    with pytest.raises((ContractRevertError, TransactionFailedError)):
        env.as_(env.insurer).fund(token.address, UNIT)
    with pytest.raises((ContractRevertError, TransactionFailedError)):
        env.as_(env.provider).withdraw(token.address)
    with pytest.raises((ContractRevertError, TransactionFailedError)):
        env.as_(env.insurer).withdraw_escrow(token.address, UNIT)
    assert env.escrow(token=token) == escrow
    assert env.claims.withdrawable(env.provider.address, token.address) == 100 * UNIT


def test_a_token_that_reenters_withdraw_gets_nothing_twice(env):
    token, coverage = _misbehaving(env)
    _paid_claim(env, coverage)
    reentry = env.claims.contract.encode_abi("withdraw", args=[token.address])
    token.send(env.insurer, token.contract.functions.setReentry(env.claims.address, reentry))
    token.set_mode(env.insurer, REENTER)
    _, amount = env.as_(env.provider).withdraw(token.address)
    assert amount == 100 * UNIT
    assert token.contract.functions.reentered().call() is False
    error = bytes(token.contract.functions.reentryError().call())
    selector = env.claims.contract.get_function_by_name  # noqa: F841 (documenting: the guard's error)
    from eth_utils import keccak

    assert error[:4] == keccak(text="ReentrancyGuardReentrantCall()")[:4]
    assert token.balance(env.provider.address) == 100 * UNIT
    assert token.balance(env.claims.address) == env.escrow(token=token)


def test_a_fee_on_transfer_token_is_credited_what_arrived(env):
    token, _ = _misbehaving(env)
    token.set_mode(env.insurer, FEE)
    before = env.escrow(token=token)
    env.as_(env.insurer).fund(token.address, 100 * UNIT)
    assert env.escrow(token=token) == before + 99 * UNIT
    assert token.balance(env.claims.address) == env.escrow(token=token)


def test_funding_needs_the_insurers_approval_first(env):
    token = deploy_token(env.world, env.insurer)
    token.mint(env.insurer, env.insurer.address, UNIT)
    with pytest.raises((ContractRevertError, TransactionFailedError)):
        env.as_(env.insurer).fund(token.address, UNIT)
    assert env.escrow(token=token) == 0


def test_zero_amounts_are_refused(env):
    insurer = env.as_(env.insurer)
    assert refusal(lambda: insurer._send(insurer.contract.functions.fund(env.token.address, 0))) == "ZeroAmount"
    call = insurer.contract.functions.withdrawEscrow(env.token.address, 0)
    assert refusal(lambda: insurer._send(call)) == "ZeroAmount"
