"""eth-brownie works on this project: its test subset passes and it compiles `make build`'s bytecode.

Runs `make brownie-test`, `make brownie-compile` and `make brownie-deploy` (mk/brownie.mk) as
subprocesses. The first run creates .venv-brownie (4 to 6 minutes); later runs take about 20 s
each. HOME points at a fresh directory so brownie's ~/.brownie (networks, compilers, accounts) is
this test's own, and brownie's anvils get free ports.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from medledger.devnet.ports import free_loopback_port

ROOT = Path(__file__).resolve().parents[2]
BROWNIE_ARTIFACT = ROOT / "build" / "brownie" / "contracts" / "MedLedger.json"
TIMEOUT = 900  # creating .venv-brownie downloads eth-brownie and its ~80 pinned dependencies

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def strip_metadata(runtime: str) -> str:
    """Runtime bytecode without solc's trailing CBOR metadata (its length is in the last 2 bytes)."""
    code = bytes.fromhex(runtime.removeprefix("0x"))
    return code[: -(int.from_bytes(code[-2:], "big") + 2)].hex()


def canonical_runtime() -> str:
    """MedLedger's runtime bytecode as `make build` ships it (the freshness test in
    test_toolchain_uptodate_artifacts.py checks that it is what the compiler produces now)."""
    artifact = json.loads((ROOT / "src" / "medledger" / "artifacts" / "MedLedger.json").read_text())
    return str(artifact["deployedBytecode"])


@pytest.fixture(scope="module")
def brownie_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("brownie-home")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MEDLEDGER_", "BROWNIE_"))}
    env["HOME"] = str(home)
    # A fresh HOME has no pip cache; reuse the real one so creating the venv stays quick.
    env.setdefault("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    return env


def make(target: str, env: dict[str, str], *variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-C", str(ROOT), target, *variables],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_brownie_test_subset_passes(brownie_env):
    completed = make("brownie-test", brownie_env, f"BROWNIE_TEST_PORT={free_loopback_port()}")

    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-3000:]
    assert " passed" in completed.stdout and " failed" not in completed.stdout


def test_brownie_compiles_the_runtime_bytecode_of_make_build(brownie_env):
    completed = make("brownie-compile", brownie_env)
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-3000:]

    brownie_runtime = "0x" + json.loads(BROWNIE_ARTIFACT.read_text())["deployedBytecode"].removeprefix("0x")
    canonical = canonical_runtime()
    # The code itself must match; then the metadata hash too, which needs the same source unit
    # names (@openzeppelin/..., no remappings) and settings as tools/build_artifacts.py.
    assert strip_metadata(brownie_runtime) == strip_metadata(canonical), "brownie compiles different code"
    assert brownie_runtime == canonical, "same code, different metadata: source unit names or settings differ"


def test_brownie_test_refuses_a_port_where_something_listens(brownie_env):
    """brownie would attach to it (a devnet, whose base fee its gas_price 0 cannot pay)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        completed = make("brownie-test", brownie_env, f"BROWNIE_TEST_PORT={port}")

    assert completed.returncode != 0
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: port {port} is in use: brownie would attach to that node instead of launching its own anvil "
        "for medledger-anvil-test; set BROWNIE_TEST_PORT to a free port"
    ]
    assert "test session starts" not in completed.stdout


def test_brownie_deploy_without_a_devnet_is_a_rehearsal_that_keeps_the_devnet_record(brownie_env, tmp_path):
    home = tmp_path / "home"
    record = home / "deployments" / "devnet" / "31337.json"
    record.parent.mkdir(parents=True)
    record.write_text('{"kept": true}')
    env = {**brownie_env, "MEDLEDGER_HOME": str(home)}

    completed = make("brownie-deploy", env, f"BROWNIE_ANVIL_PORT={free_loopback_port()}")

    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-3000:]
    assert "recorded in build/brownie/rehearsal/31337.json" in completed.stdout
    assert "rehearsal: brownie launched this anvil" in completed.stdout
    assert record.read_text() == '{"kept": true}'
    assert sorted(p.name for p in (home / "deployments").iterdir()) == ["devnet"]


def test_brownie_deploy_prints_no_warning(brownie_env, tmp_path):
    env = {**brownie_env, "MEDLEDGER_HOME": str(tmp_path / "home")}
    completed = make("brownie-deploy", env, f"BROWNIE_ANVIL_PORT={free_loopback_port()}")

    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-3000:]
    brownie_output = [
        line
        for line in (completed.stdout + completed.stderr).splitlines()
        if not line.startswith("WARNING: Location")  # pip's view of this machine's package mirrors
    ]
    assert not [line for line in brownie_output if "Warning" in line or "warnings.warn" in line], brownie_output


def test_brownie_deploy_with_a_devnet_records_where_the_cli_finds_it(brownie_env, tmp_path):
    home = tmp_path / "home"
    env = {**brownie_env, "MEDLEDGER_HOME": str(home), "MEDLEDGER_DEVNET_ANVIL_PORT": "0"}
    env["MEDLEDGER_DEVNET_IPFS_PORT"] = "0"
    medledger = str(Path(sys.executable).with_name("medledger"))
    up = subprocess.run([medledger, "devnet", "up", "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert up.returncode == 0, up.stderr
    pids = [json.loads(up.stdout)[name]["pid"] for name in ("anvil", "ipfs")]
    try:
        completed = make("brownie-deploy", env)
        assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-3000:]
        assert f"recorded in {home}/deployments/devnet/31337.json" in completed.stdout
        assert "rehearsal" not in completed.stdout and "Warning" not in completed.stdout + completed.stderr

        again = subprocess.run(
            [medledger, "--json", "deploy", "--dev-account", "0"], env=env, capture_output=True, text=True, timeout=120
        )
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["reused"] is True  # the CLI found the record brownie's script wrote
    finally:
        subprocess.run([medledger, "devnet", "down"], env=env, capture_output=True, timeout=60)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
