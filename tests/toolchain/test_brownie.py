"""eth-brownie works on this project: its test subset passes and it compiles `make build`'s bytecode.

Runs `make brownie-test` and `make brownie-compile` (mk/brownie.mk) as subprocesses. The first
run creates .venv-brownie (about a minute); later runs take about 20 s. HOME points at a fresh
directory so brownie's ~/.brownie (networks, compilers, accounts) is this test's own, and
brownie's anvil gets a free port.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
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
    """MedLedger's runtime bytecode as `make build` (tools/build_artifacts.py) compiles it now."""
    spec = importlib.util.spec_from_file_location("build_artifacts", ROOT / "tools" / "build_artifacts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compile_contracts()["MedLedger"]["deployedBytecode"]


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
    completed = make("brownie-test", brownie_env, f"BROWNIE_ANVIL_PORT={free_loopback_port()}")

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
