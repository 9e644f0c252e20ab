"""`medledger doctor`: every check on one line (ok/warn/FAIL and what to fix), exit 1 on any FAIL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

from medledger.devnet.ports import free_loopback_port

from .conftest import ADMIN, PATIENT, Cli, ledger_address

FAILED = 1
CHECKS = ["rpc", "deployment", "code", "roles", "ipfs", "services", "indexer", "account"]


@pytest.fixture(autouse=True)
def _away_from_any_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process commands run in an empty directory: no ./deployments of a project is found."""
    monkeypatch.chdir(tmp_path)


def _doctor(cli: Cli, *args: object, account: int | None = PATIENT, env: dict[str, str] | None = None):
    result = cli.invoke("doctor", *args, account=account, as_json=True, env=env)
    report = json.loads(result.stdout)
    return result.exit_code, report, {check["name"]: check for check in report["checks"]}


def test_a_healthy_deployment_passes_every_check_it_can_make(world: Cli) -> None:
    code, report, checks = _doctor(world)
    assert code == 0 and report["ok"] is True
    assert [check["name"] for check in report["checks"]] == CHECKS
    for name in ("rpc", "deployment", "code", "roles", "ipfs", "services", "account"):
        assert checks[name]["status"] == "ok", checks[name]
    assert "chain 31337" in checks["rpc"]["detail"]
    assert "3 of 3 healthy, 2 needed" in checks["services"]["detail"]
    assert checks["indexer"]["status"] == "warn" and "index sync" in checks["indexer"]["fix"]


def test_the_human_report_is_one_line_per_check_and_a_summary(world: Cli) -> None:
    result = world.invoke("doctor", account=PATIENT)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(CHECKS) + 1
    assert [line.split()[1] for line in lines[:-1]] == CHECKS
    assert lines[-1].startswith("0 failed")


def test_nothing_deployed_is_a_FAIL_saying_to_deploy_and_exit_1(cli: Cli) -> None:
    code, report, checks = _doctor(cli)
    assert code == FAILED and report["ok"] is False
    assert checks["deployment"]["status"] == "FAIL" and "medledger deploy" in checks["deployment"]["fix"]
    assert checks["code"]["status"] == "warn" and "not checked" in checks["code"]["detail"]


def test_an_unreachable_rpc_endpoint_is_a_FAIL(world: Cli) -> None:
    dead = f"http://127.0.0.1:{free_loopback_port()}"
    result = world.invoke("doctor", "--rpc-url", dead, connect=False, as_json=True)
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    assert result.exit_code == FAILED
    assert checks["rpc"]["status"] == "FAIL" and dead in checks["rpc"]["detail"]


def test_code_that_is_not_the_shipped_build_is_a_FAIL(world: Cli) -> None:
    address = ledger_address(world)
    code = bytearray.fromhex(str(world.anvil.rpc("eth_getCode", [address, "latest"]))[2:])
    code[10] ^= 0xFF  # one opcode byte of another build
    world.anvil.rpc("anvil_setCode", [address, "0x" + code.hex()])
    exit_code, _, checks = _doctor(world)
    assert exit_code == FAILED
    assert checks["code"]["status"] == "FAIL" and "not the shipped MedLedger" in checks["code"]["detail"]


def test_a_paused_ledger_is_a_warning_naming_what_stops(world: Cli) -> None:
    world.ok("admin", "add-pauser", Account.from_key(b"\x11" * 32).address, account=ADMIN)
    pauser = Account.from_key(b"\x11" * 32)
    world.anvil.rpc("anvil_setBalance", [pauser.address, hex(10**19)])
    world.ok("admin", "pause", env={"MEDLEDGER_PRIVATE_KEY": pauser.key.hex()})
    _, _, checks = _doctor(world)
    assert checks["roles"]["status"] == "warn" and "PAUSED" in checks["roles"]["detail"]


def test_the_indexer_check_says_how_far_behind_the_index_is(world: Cli) -> None:
    world.ok("index", "sync", account=PATIENT)
    _, _, checks = _doctor(world)
    assert checks["indexer"]["status"] == "ok" and "0 blocks behind" in checks["indexer"]["detail"]


def test_a_keystore_is_parsed_without_its_password_and_unlocked_with_it(world: Cli, tmp_path: Path) -> None:
    path = tmp_path / "me.json"
    key = b"\x22" * 32
    path.write_text(json.dumps(Account.encrypt(key, "right", kdf="pbkdf2", iterations=2)))
    _, _, checks = _doctor(world, "--keystore", path, account=None)
    assert checks["account"]["status"] == "ok" and "not unlocked" in checks["account"]["detail"]
    _, _, checks = _doctor(world, "--keystore", path, account=None, env={"MEDLEDGER_PASSWORD": "right"})
    assert checks["account"]["status"] == "ok" and Account.from_key(key).address in checks["account"]["detail"]
    assert "ETH" in checks["account"]["detail"]
    exit_code, _, checks = _doctor(world, "--keystore", path, account=None, env={"MEDLEDGER_PASSWORD": "wrong"})
    assert exit_code == FAILED
    assert checks["account"]["status"] == "FAIL" and "wrong password" in checks["account"]["detail"]


def test_a_down_key_release_service_below_the_threshold_is_a_FAIL(cli: Cli) -> None:
    """A fresh deployment whose proposed set has no endpoints: every member is down."""
    from .conftest import ADMIN_DELAY, service_signer

    cli.ok("deploy", account=ADMIN)
    members = [service_signer(i).address for i in (1, 2, 3)]
    for index in (1, 2, 3):
        signer = service_signer(index)
        cli.anvil.rpc("anvil_setBalance", [signer.address, hex(10**19)])
        cli.ok("keys", "publish", env={"MEDLEDGER_PRIVATE_KEY": signer.private_key_bytes().hex()})
    member_args = [arg for member in members for arg in ("--member", member)]
    cli.ok("admin", "propose-services", *member_args, "-k", 2, account=ADMIN)
    cli.anvil.rpc("evm_increaseTime", [ADMIN_DELAY + 1])
    cli.anvil.rpc("evm_mine", [])
    exit_code, _, checks = _doctor(cli)
    assert exit_code == FAILED
    assert checks["services"]["status"] == "FAIL" and "0 of 3 healthy, 2 needed" in checks["services"]["detail"]
