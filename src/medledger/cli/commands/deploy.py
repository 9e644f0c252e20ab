"""`medledger deploy`: to the embedded chain, a devnet, or any RPC URL; resumable."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from medledger.cli.commands.deploy_verify import command as verify_command
from medledger.cli.context import AppContext, connection_options, guarded, pass_app
from medledger.cli.units import limit_seconds

if TYPE_CHECKING:
    from medledger.chain.deploy import DeploymentQuote
    from medledger.chain.transactions import TxPolicy


def _seconds(text: str, option: str) -> int:
    """`90s`, `30min`, `1h`, `2d`, `1w`, `6mo`, `5y` as seconds (years and months as their longest
    calendar span, so a grant of `--expires 5y` fits under `--max-consent 5y`); parsed in the
    command, so a bad value is one error line, not a usage block."""
    return limit_seconds(text, option)


GWEI = 10**9
ETH = 10**18


def _gwei_to_wei(text: str, option: str) -> int:
    """`1.5` (gwei) as wei; parsed in the command, so a bad value is one error line."""
    try:
        gwei = Decimal(text.strip())
    except InvalidOperation:
        gwei = Decimal("NaN")
    wei = gwei * GWEI if gwei.is_finite() else gwei
    if not wei.is_finite() or wei <= 0 or wei != wei.to_integral_value():
        raise click.BadParameter(
            f"{text!r} is not a positive fee in gwei such as 2 or 1.5 (at most 9 decimals)", param_hint=option
        )
    return int(wei)


def _units(wei: int, unit: int) -> str:
    """`wei` in gwei or ETH, exactly, without trailing zeros."""
    value = Decimal(wei) / Decimal(unit)
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def gwei(wei: int) -> str:
    return _units(wei, GWEI) + " gwei"


def eth(wei: int) -> str:
    return _units(wei, ETH) + " ETH"


@click.group("deploy", invoke_without_command=True)
@click.option("--admin", default=None, help="Address to hold the admin role, e.g. a Safe [default: the deployer].")
@click.option("--registrar", "registrars", multiple=True, help="Also appoint this registrar (repeatable).")
@click.option(
    "--admin-delay",
    default="2d",
    show_default=True,
    help="Wait before an admin transfer or a new key-release service set takes effect: "
    "a duration (90s, 30min, 1h, 2d; 1s..30d).",
)
@click.option(
    "--max-consent",
    default="5y",
    show_default=True,
    help="Longest consent a grant may give: a duration (5y admits any 5 calendar years).",
)
@click.option(
    "--max-guardian-term",
    default="21y",
    show_default=True,
    help="Longest guardianship: a duration (21y admits any 21 calendar years).",
)
@click.option(
    "--emergency-window",
    default="1d",
    show_default=True,
    help="How long break-glass stays open: a duration (12h, 1d; at most 7d).",
)
@click.option(
    "--emergency-cooldown",
    default="1h",
    show_default=True,
    help="After a patient or guardian closes break-glass, before the provider may open it again: "
    "a duration (30min, 1h, 2d; at most 30d).",
)
@click.option(
    "--max-fee",
    default=None,
    metavar="GWEI",
    help="EIP-1559 max fee per gas, in gwei (decimals allowed); with --legacy, the gas price "
    "[default: twice the base fee plus the priority fee].",
)
@click.option(
    "--priority-fee",
    default=None,
    metavar="GWEI",
    help="EIP-1559 max priority fee (tip) per gas, in gwei [default: the node's suggestion].",
)
@click.option(
    "--legacy",
    is_flag=True,
    help="Send a type-0 transaction priced by gasPrice (--max-fee, else the node's eth_gasPrice).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Estimate the deployment's gas and cost (ETH) and print them with the settings; send nothing.",
)
@connection_options
@pass_app
@guarded
def command(
    app: AppContext,
    admin: str | None,
    registrars: tuple[str, ...],
    admin_delay: str,
    max_consent: str,
    max_guardian_term: str,
    emergency_window: str,
    emergency_cooldown: str,
    max_fee: str | None,
    priority_fee: str | None,
    legacy: bool,
    dry_run: bool,
) -> None:
    """Deploy MedLedger and record it in <home>/deployments/<network>/<chainId>.json (or --deployments DIR).

    Re-running after a failure continues from that file instead of deploying twice; re-running
    after an interruption waits for the deployment transaction already sent. The settings are
    fixed for the deployment's life. Fees are in gwei; --dry-run prints the gas estimate, the fee
    per gas and the largest possible cost in ETH, and sends nothing.

    `medledger deploy verify` checks a live deployment and writes what a block explorer needs.
    """
    if click.get_current_context().invoked_subcommand is not None:
        return  # `deploy verify`: it takes its own options
    from eth_utils import to_checksum_address

    from medledger.chain.deploy import (
        EmergencyPolicy,
        LedgerSettings,
        deploy,
        deployment_path,
        load_pending,
        quote_deployment,
    )
    from medledger.ledger import MedLedger
    from medledger.ledger.base import checked_address

    policy = _fee_policy(app, max_fee, priority_fee, legacy)
    chain = app.chain()
    signer = app.signer()
    admin_address = checked_address(admin, "admin") if admin else None
    if registrars and admin_address and admin_address != signer.address:
        raise click.BadParameter(
            f"only the admin appoints registrars, and the admin will be {admin_address}, not the deployer; "
            "appoint them from the admin account after deploying",
            param_hint="--registrar",
        )
    settings = LedgerSettings(
        admin_delay_seconds=_seconds(admin_delay, "--admin-delay"),
        emergency=EmergencyPolicy(
            window_seconds=_seconds(emergency_window, "--emergency-window"),
            cooldown_seconds=_seconds(emergency_cooldown, "--emergency-cooldown"),
        ),
        max_consent_seconds=_seconds(max_consent, "--max-consent"),
        max_guardian_term_seconds=_seconds(max_guardian_term, "--max-guardian-term"),
    )
    # The embedded chain ends with this command: nothing to record (unless --deployments asks).
    ephemeral = chain.is_embedded and app.option("deployments") is None
    directory = None if ephemeral else app.deployments_dir()
    recorded = _recorded_tx(deployment_path(directory, chain.chain_id)) if directory else None
    pending = load_pending(directory, chain.chain_id) if directory else None
    if dry_run:
        quote = quote_deployment(chain, signer.address, admin=admin_address, policy=policy, settings=settings)
        durations = {
            "adminDelay": admin_delay,
            "maxConsent": max_consent,
            "maxGuardianTerm": max_guardian_term,
            "emergencyWindow": emergency_window,
            "emergencyCooldown": emergency_cooldown,
        }
        on_record = str(deployment_path(directory, chain.chain_id)) if directory and recorded else None
        _print_dry_run(app, quote, durations, [checked_address(r) for r in registrars], on_record, pending)
        return
    recorded_alive = recorded is not None and bool(chain.w3.eth.get_code(to_checksum_address(recorded[1])))
    with _warnings_to_stderr("medledger.chain.deploy"):
        deployment = deploy(chain, signer, admin=admin_address, directory=directory, policy=policy, settings=settings)
    ledger = MedLedger.from_deployment(chain, deployment, signer=signer, policy=policy)
    appointed = []
    for registrar in registrars:
        if not ledger.providers.is_registrar(registrar):
            ledger.providers.add_registrar(registrar)
        appointed.append(checked_address(registrar))
    entry = deployment.contracts["MedLedger"]
    # Reused only if the recorded deployment was kept: its code was on chain before this run (after a
    # chain reset the same signed transaction, byte for byte, may be sent again: not a reuse).
    reused = (
        recorded is not None
        and recorded_alive
        and entry.tx_hash == recorded[0]
        and deployment.chain_id == chain.chain_id
    )
    # Resumed: the transaction an interrupted run sent is the one that deployed it.
    resumed = not reused and pending is not None and entry.tx_hash == pending.tx_hash
    payload = {
        "chainId": deployment.chain_id,
        "address": entry.address,
        "txHash": entry.tx_hash,
        "block": entry.block,
        "reused": bool(reused),
        "resumed": resumed,
        "registrars": appointed,
        "file": str(deployment_path(directory, chain.chain_id)) if directory else None,
    }
    verb = "reusing" if reused else "finished the interrupted deployment of" if resumed else "deployed"
    app.output(
        payload,
        f"{verb} MedLedger at {entry.address} on chain {deployment.chain_id} "
        f"(block {entry.block}, tx {entry.tx_hash})\n"
        + (
            f"recorded in {payload['file']}"
            if directory
            else "not recorded: the embedded chain lives only as long as this command"
        ),
    )


command.add_command(verify_command)


def _fee_policy(app: AppContext, max_fee: str | None, priority_fee: str | None, legacy: bool) -> TxPolicy:
    """The transaction policy with the fee flags applied; contradictions are one line, exit 2."""
    from medledger.chain.transactions import FeeSettingsError

    if legacy and priority_fee is not None:
        raise click.UsageError(
            "--priority-fee has no meaning with --legacy "
            "(a type-0 transaction pays one gas price: give it as --max-fee)"
        )
    max_wei = _gwei_to_wei(max_fee, "--max-fee") if max_fee is not None else None
    priority_wei = _gwei_to_wei(priority_fee, "--priority-fee") if priority_fee is not None else None
    if max_wei is not None and priority_wei is not None and priority_wei > max_wei:
        raise click.UsageError(
            f"--priority-fee {gwei(priority_wei)} is above --max-fee {gwei(max_wei)}: "
            "the tip is part of the max fee, so it cannot exceed it"
        )
    try:
        return dataclasses.replace(
            app.policy(), max_fee_per_gas=max_wei, max_priority_fee_per_gas=priority_wei, legacy=legacy
        )
    except FeeSettingsError as exc:
        raise click.UsageError(str(exc)) from None


def _print_dry_run(
    app: AppContext,
    quote: DeploymentQuote,
    durations: dict[str, str],
    registrars: list[str],
    on_record: str | None,
    pending: Any,
) -> None:
    gas, fees = quote.gas, quote.gas.fees
    payload: dict[str, Any] = {
        "dryRun": True,
        "sent": False,
        "chainId": quote.chain_id,
        "deployer": quote.deployer,
        "deployerBalanceWei": quote.deployer_balance,
        "deployerBalanceEth": _units(quote.deployer_balance, ETH),
        "affordable": quote.affordable,
        "admin": quote.admin,
        "registrars": registrars,
        "type": 0 if fees.legacy else 2,
        "gasEstimate": gas.gas_estimate,
        "gasLimit": gas.gas_limit,
        "baseFeeWei": fees.base_fee,
        "baseFeeGwei": _units(fees.base_fee, GWEI),
        "feePerGasWei": fees.max_per_gas,
        "feePerGasGwei": _units(fees.max_per_gas, GWEI),
        "expectedFeePerGasWei": fees.expected_per_gas,
        "expectedFeePerGasGwei": _units(fees.expected_per_gas, GWEI),
        "maxCostWei": gas.max_cost_wei,
        "maxCostEth": _units(gas.max_cost_wei, ETH),
        "expectedCostWei": gas.expected_cost_wei,
        "expectedCostEth": _units(gas.expected_cost_wei, ETH),
        "settings": {**durations, **_settings_json(quote)},
        "recorded": on_record,
        "pendingTx": pending.tx_hash if pending is not None else None,
    }
    if fees.legacy:
        payload["gasPriceWei"], payload["gasPriceGwei"] = fees.max_per_gas, _units(fees.max_per_gas, GWEI)
    else:
        priority = int(fees.priority_fee or 0)
        payload["maxFeePerGasWei"], payload["maxFeePerGasGwei"] = fees.max_per_gas, _units(fees.max_per_gas, GWEI)
        payload["maxPriorityFeePerGasWei"] = priority
        payload["maxPriorityFeePerGasGwei"] = _units(priority, GWEI)
    if fees.legacy:
        fee_line = f"legacy (type 0), gas price {gwei(fees.max_per_gas)}"
    else:
        fee_line = (
            f"EIP-1559 (type 2), max fee {gwei(fees.max_per_gas)}, priority fee {gwei(int(fees.priority_fee or 0))}"
        )
    lines = [
        f"dry run: nothing sent. Deploying MedLedger on chain {quote.chain_id} from {quote.deployer} would take:",
        f"  gas:      {gas.gas_estimate:,} estimated, sent with a limit of {gas.gas_limit:,}",
        f"  fees:     {fee_line} per gas (base fee now {gwei(fees.base_fee)}; "
        f"about {gwei(fees.expected_per_gas)} per gas would be paid)",
        f"  cost:     at most {eth(gas.max_cost_wei)} (about {eth(gas.expected_cost_wei)} at the current base fee)",
        f"  admin:    {quote.admin}",
        f"  settings: admin delay {durations['adminDelay']}, max consent {durations['maxConsent']}, "
        f"max guardian term {durations['maxGuardianTerm']}, emergency window {durations['emergencyWindow']}, "
        f"emergency cool-down {durations['emergencyCooldown']}",
    ]
    if registrars:
        lines.append(f"  then:     appoint registrars {', '.join(registrars)} (one transaction each)")
    if not quote.affordable:
        lines.append(
            f"  warning:  {quote.deployer} holds {eth(quote.deployer_balance)}, "
            "less than the largest cost: fund it first"
        )
    if not fees.legacy and fees.max_per_gas < fees.base_fee:
        lines.append("  warning:  the max fee is below the current base fee; the transaction would wait unmined")
    if pending is not None:
        lines.append(f"  note:     transaction {pending.tx_hash} is pending; a real run would wait for it instead")
    elif on_record:
        lines.append(f"  note:     {on_record} records a deployment; a real run would reuse it if it is still on chain")
    app.output(payload, "\n".join(lines))


def _settings_json(quote: DeploymentQuote) -> dict[str, int]:
    s = quote.settings
    return {
        "adminDelaySeconds": s.admin_delay_seconds,
        "maxConsentSeconds": s.max_consent_seconds,
        "maxGuardianTermSeconds": s.max_guardian_term_seconds,
        "emergencyWindowSeconds": s.emergency.window_seconds,
        "emergencyCooldownSeconds": s.emergency.cooldown_seconds,
        "emergencyProviderKinds": s.emergency.provider_kinds,
        "emergencyDefaultCategories": s.emergency.default_categories,
    }


@contextlib.contextmanager
def _warnings_to_stderr(logger_name: str) -> Iterator[None]:
    """Show the library's warnings (e.g. a dropped deployment sent again) as `warning:` lines."""

    class Echo(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            click.echo(f"warning: {record.getMessage()}", err=True)

    logger = logging.getLogger(logger_name)
    handler = Echo(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def _recorded_tx(path: Path) -> tuple[str, str] | None:
    """The MedLedger deployment a deployments file records, if any: (transaction hash, address)."""
    import json

    from eth_utils import to_checksum_address

    try:
        entry = json.loads(path.read_text())["contracts"]["MedLedger"]
        return str(entry["tx_hash"]), str(to_checksum_address(entry["address"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
