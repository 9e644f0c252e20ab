"""`medledger deploy` fee flags (--max-fee, --priority-fee, --legacy, in gwei) reach the mined
deployment transaction, contradictions are refused before anything is sent, and --dry-run
estimates and prints the cost without sending or writing anything."""

from __future__ import annotations

from decimal import Decimal

import pytest

from .conftest import ADMIN, REGISTRAR, Cli, address, assert_clear_failure

GWEI = 10**9


def _deployment_tx(cli: Cli, tx_hash: str) -> dict:
    tx = cli.anvil.rpc("eth_getTransactionByHash", [tx_hash])
    assert isinstance(tx, dict)
    return tx


def _written(cli: Cli) -> list[str]:
    return sorted(p.name for p in cli.deployments.iterdir()) if cli.deployments.exists() else []


def test_deploy_with_max_and_priority_fee_sends_an_eip1559_transaction_with_those_fees(cli: Cli) -> None:
    deployed = cli.json("deploy", "--max-fee", "3.5", "--priority-fee", "1.25", account=ADMIN)
    tx = _deployment_tx(cli, deployed["txHash"])
    assert tx["type"] == "0x2"
    assert int(tx["maxFeePerGas"], 16) == 3_500_000_000
    assert int(tx["maxPriorityFeePerGas"], 16) == 1_250_000_000


def test_deploy_legacy_with_max_fee_sends_a_type0_transaction_at_that_gas_price(cli: Cli) -> None:
    deployed = cli.json("deploy", "--legacy", "--max-fee", "4", account=ADMIN)
    tx = _deployment_tx(cli, deployed["txHash"])
    assert tx["type"] == "0x0"
    assert int(tx["gasPrice"], 16) == 4 * GWEI
    assert "maxFeePerGas" not in tx


def test_deploy_legacy_without_max_fee_pays_the_nodes_gas_price(cli: Cli) -> None:
    expected = int(str(cli.anvil.rpc("eth_gasPrice")), 16)
    deployed = cli.json("deploy", "--legacy", account=ADMIN)
    tx = _deployment_tx(cli, deployed["txHash"])
    assert tx["type"] == "0x0"
    assert int(tx["gasPrice"], 16) == expected


def test_deploy_with_a_priority_fee_above_the_max_fee_exits_2_with_one_line_and_sends_nothing(cli: Cli) -> None:
    nonces = cli.nonces()
    result = cli.invoke("deploy", "--max-fee", "1", "--priority-fee", "1.5", account=ADMIN)
    line = assert_clear_failure(result, 2)
    assert "--priority-fee 1.5 gwei is above --max-fee 1 gwei" in line
    assert cli.nonces() == nonces
    assert _written(cli) == []


def test_deploy_with_a_priority_fee_and_legacy_exits_2_with_one_line_and_sends_nothing(cli: Cli) -> None:
    nonces = cli.nonces()
    result = cli.invoke("deploy", "--legacy", "--priority-fee", "1", account=ADMIN)
    line = assert_clear_failure(result, 2)
    assert "--priority-fee has no meaning with --legacy" in line
    assert cli.nonces() == nonces
    assert _written(cli) == []


@pytest.mark.parametrize("fee", ["abc", "0", "-1", "0.0000000001"])
def test_deploy_with_a_fee_that_is_not_a_positive_gwei_amount_exits_2_with_one_line(cli: Cli, fee: str) -> None:
    line = assert_clear_failure(cli.invoke("deploy", "--max-fee", fee, account=ADMIN), 2)
    assert "--max-fee" in line and "gwei" in line


def test_deploy_dry_run_sends_nothing_and_writes_no_file(cli: Cli) -> None:
    nonces = cli.nonces()
    block = cli.anvil.rpc("eth_blockNumber")
    result = cli.ok("deploy", "--dry-run", "--registrar", address(REGISTRAR), account=ADMIN)
    assert result.stdout.startswith("dry run: nothing sent.")
    assert cli.nonces() == nonces
    assert cli.anvil.rpc("eth_getTransactionCount", [address(ADMIN), "pending"]) == hex(nonces[ADMIN])
    assert cli.anvil.rpc("eth_blockNumber") == block
    assert _written(cli) == []


def test_deploy_dry_run_prints_gas_fees_in_gwei_cost_in_eth_admin_and_settings(cli: Cli) -> None:
    out = cli.ok(
        "deploy", "--dry-run", "--max-fee", "2.5", "--priority-fee", "1", "--admin-delay", "3d", account=ADMIN
    ).stdout
    assert "EIP-1559 (type 2), max fee 2.5 gwei, priority fee 1 gwei per gas" in out
    assert " ETH" in out and "cost:     at most " in out
    assert f"admin:    {address(ADMIN)}" in out
    assert "admin delay 3d" in out


def test_deploy_dry_run_json_maximum_cost_is_the_gas_limit_at_the_max_fee(cli: Cli) -> None:
    quote = cli.json("deploy", "--dry-run", "--max-fee", "2.5", "--priority-fee", "1", account=ADMIN)
    assert quote["dryRun"] is True and quote["sent"] is False
    assert quote["type"] == 2
    assert (quote["maxFeePerGasWei"], quote["maxPriorityFeePerGasWei"]) == (2_500_000_000, GWEI)
    assert quote["maxFeePerGasGwei"] == "2.5"
    assert quote["gasLimit"] >= quote["gasEstimate"] > 0
    assert quote["maxCostWei"] == quote["gasLimit"] * 2_500_000_000
    assert Decimal(quote["maxCostEth"]) * 10**18 == quote["maxCostWei"]
    assert quote["admin"] == address(ADMIN)
    assert quote["settings"]["adminDelaySeconds"] == 2 * 86400


def test_deploy_dry_run_legacy_json_reports_the_gas_price(cli: Cli) -> None:
    quote = cli.json("deploy", "--dry-run", "--legacy", "--max-fee", "3", account=ADMIN)
    assert quote["type"] == 0
    assert (quote["gasPriceWei"], quote["gasPriceGwei"]) == (3 * GWEI, "3")
    assert quote["maxCostWei"] == quote["gasLimit"] * 3 * GWEI


def test_deploy_dry_run_estimate_covers_the_gas_the_real_deployment_uses(cli: Cli) -> None:
    quote = cli.json("deploy", "--dry-run", "--admin-delay", "3d", account=ADMIN)
    deployed = cli.json("deploy", "--admin-delay", "3d", account=ADMIN)
    receipt = cli.anvil.rpc("eth_getTransactionReceipt", [deployed["txHash"]])
    assert isinstance(receipt, dict)
    assert int(receipt["gasUsed"], 16) <= quote["gasEstimate"]
    assert int(_deployment_tx(cli, deployed["txHash"])["gas"], 16) == quote["gasLimit"]


def test_deploy_dry_run_warns_when_the_deployer_cannot_pay_the_largest_cost(cli: Cli) -> None:
    cli.anvil.rpc("anvil_setBalance", [address(ADMIN), hex(10**15)])  # 0.001 ETH
    result = cli.ok("deploy", "--dry-run", "--max-fee", "10", account=ADMIN)
    assert f"warning:  {address(ADMIN)} holds 0.001 ETH, less than the largest cost: fund it first" in result.stdout
    assert cli.json("deploy", "--dry-run", "--max-fee", "10", account=ADMIN)["affordable"] is False
