"""Settlement tokens: amounts typed in whole units are exact or refused, and the devnet token's
deployer alone mints."""

from __future__ import annotations

import pytest

from medledger.chain.errors import ContractRevertError
from medledger.ledger.base import InvalidArgumentError
from medledger.ledger.tokens import deploy_token, format_amount, parse_amount


@pytest.mark.parametrize(
    ("text", "decimals", "raw"),
    [("12.5", 6, 12_500_000), ("0.000001", 6, 1), ("1_000", 2, 100_000), ("7", 0, 7), (" 3.10 ", 2, 310)],
)
def test_amounts_in_whole_units_become_exact_integers(text, decimals, raw):
    assert parse_amount(text, decimals) == raw


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("1.0000001", "more than the token's 6 decimal places"),
        ("abc", "not a number"),
        ("-1", "non-negative"),
        ("nan", "non-negative"),
        ("1e80", "too large"),
    ],
)
def test_amounts_that_cannot_be_exact_are_refused_by_name(text, problem):
    with pytest.raises(InvalidArgumentError, match=problem):
        parse_amount(text, 6)


@pytest.mark.parametrize(
    ("raw", "decimals", "shown"),
    [(12_500_000, 6, "12.50 USDC"), (1, 6, "0.000001 USDC"), (10**21, 18, "1000.00 USDC"), (5, 0, "5 USDC")],
)
def test_amounts_read_in_whole_units_and_parse_back(raw, decimals, shown):
    assert format_amount(raw, decimals, "USDC") == shown
    assert parse_amount(shown.split()[0], decimals) == raw


def test_the_deployer_mints_and_holders_transfer_and_approve(world):
    a = world.actors
    token = deploy_token(world.chain, a.admin, "Test Dollar", "TUSD", 6)
    assert (token.symbol, token.decimals) == ("TUSD", 6)
    token.mint(a.registrar.address, token.parse("100"))
    payer = token.as_signer(a.registrar)
    payer.transfer(a.provider.address, token.parse("40.25"))
    payer.approve(a.patient.address, token.parse("5"))
    assert token.format(token.balance_of(a.provider.address)) == "40.25 TUSD"
    assert token.format(token.balance_of(a.registrar.address)) == "59.75 TUSD"
    assert token.allowance(a.registrar.address, a.patient.address) == 5_000_000
    assert token.total_supply() == 100_000_000


def test_no_one_but_the_deployer_mints(world):
    a = world.actors
    token = deploy_token(world.chain, a.admin, "Test Dollar", "TUSD", 6)
    with pytest.raises(ContractRevertError) as caught:
        token.as_signer(a.stranger).mint(a.stranger.address, 1)
    assert caught.value.error == "NotMinter"
    assert token.balance_of(a.stranger.address) == 0
