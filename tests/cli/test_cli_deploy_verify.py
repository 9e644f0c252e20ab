"""`medledger deploy verify`: the on-chain checks of a live deployment, and a standard-JSON input
that an explorer recompiles into exactly the deployed runtime code."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from medledger.chain.artifacts import load_artifact
from medledger.chain.verify import compare_code

from .conftest import ADMIN, Cli, ledger_address

ROOT = Path(__file__).resolve().parents[2]
SOLC = ROOT / "tools" / "solc.cjs"
FAILED = 1
COMPILE_TIMEOUT = 900  # solc-js compiles MedLedger through the IR pipeline in 1-3 minutes on 2 busy cores


@pytest.fixture(autouse=True)
def _away_from_any_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process commands run in an empty directory: no ./deployments of a project is found."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def verified(cli: Cli, tmp_path: Path) -> tuple[Cli, dict, Path]:
    cli.ok("deploy", "--admin-delay", "5s", "--max-consent", "2y", account=ADMIN)
    out = tmp_path / "MedLedger.standard-input.json"
    return cli, cli.json("deploy", "verify", "--out", out), out


def test_verify_reads_the_constructor_arguments_from_the_creation_transaction(verified) -> None:
    _, report, _ = verified
    assert report["ok"] is True and report["mismatches"] == []
    assert report["constructor"]["settings"]["adminDelay"] == 5
    assert report["constructor"]["settings"]["maxConsentDuration"] == report["readBack"]["maxConsentDuration"]
    assert report["readBack"]["defaultAdminDelay"] == 5
    assert len(report["constructorArguments"]) == 8 * 64  # admin + seven settings words, hex


def test_verify_names_the_contract_compiler_and_settings_an_explorer_asks_for(verified) -> None:
    _, report, out = verified
    artifact = json.loads((ROOT / "src" / "medledger" / "artifacts" / "MedLedger.json").read_text())
    assert report["contractName"] == "contracts/MedLedger.sol:MedLedger"
    assert report["compilerVersion"] == "v" + artifact["compiler"].split(".Emscripten")[0]
    request = json.loads(out.read_text())
    assert request["language"] == "Solidity"
    assert {k: v for k, v in request["settings"].items() if k != "outputSelection"} == artifact["settings"]
    assert "contracts/MedLedger.sol" in request["sources"]
    assert any(unit.startswith("@openzeppelin/contracts/") for unit in request["sources"])
    assert all(source["content"] for source in request["sources"].values())


def test_the_written_standard_json_recompiles_to_the_deployed_runtime_code(verified) -> None:
    cli, _, out = verified
    request = json.loads(out.read_text())
    request["settings"]["outputSelection"] = {
        "*": {"*": ["evm.deployedBytecode.object", "evm.deployedBytecode.immutableReferences"]}
    }
    # No --base-path: everything the compiler needs must be inside the JSON, as on an explorer.
    compiled = subprocess.run(
        ["node", str(SOLC), "--standard-json"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT,
        cwd=out.parent,
        check=True,
    )
    output = json.loads(compiled.stdout)
    assert not [e for e in output.get("errors", []) if e["severity"] == "error"], output["errors"]
    runtime = output["contracts"]["contracts/MedLedger.sol"]["MedLedger"]["evm"]["deployedBytecode"]
    assert "0x" + runtime["object"] == load_artifact("MedLedger").deployed_bytecode
    onchain = bytes.fromhex(str(cli.anvil.rpc("eth_getCode", [ledger_address(cli), "latest"]))[2:])
    assert runtime["immutableReferences"]  # MedLedger has immutables: masked, and only they
    comparison = compare_code(onchain, bytes.fromhex(runtime["object"]), runtime["immutableReferences"])
    assert comparison.matches, comparison.reason


def test_verify_fails_with_exit_1_when_the_address_holds_other_code(cli: Cli, tmp_path: Path) -> None:
    cli.ok("deploy", account=ADMIN)
    address = ledger_address(cli)
    code = bytearray.fromhex(str(cli.anvil.rpc("eth_getCode", [address, "latest"]))[2:])
    code[-20] ^= 0xFF  # inside the metadata hash: another source
    cli.anvil.rpc("anvil_setCode", [address, "0x" + code.hex()])
    result = cli.invoke("deploy", "verify", "--out", tmp_path / "input.json", as_json=True)
    assert result.exit_code == FAILED
    report = json.loads(result.stdout)
    assert report["code"]["matches"] is False and "metadata" in report["code"]["detail"]
