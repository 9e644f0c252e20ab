"""Fixtures for the toolchain tests: the project root, the solc stand-in, the artifact builder.

Each full compile of the contracts costs seconds of solc-js time, so the two that do not depend
on a test's environment start in the background as soon as the first toolchain test runs.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOLC = ROOT / "tools" / "solc.cjs"
BUILD_ARTIFACTS = ROOT / "tools" / "build_artifacts.py"
COMMITTED_ARTIFACT = ROOT / "src" / "medledger" / "artifacts" / "MedLedger.json"
PIPE_BUFFER = 64 * 1024
COMPILE_TIMEOUT = 900  # a cap: a full build takes minutes beside the other tests on 2 cores


def _toolchain_missing() -> str | None:
    if shutil.which("node") is None or not (ROOT / "node_modules" / "solc").is_dir():
        return "needs node and node_modules/solc (run `npm ci`)"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = _toolchain_missing()
    if reason is None:
        return
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.skip(reason=reason))


def run_solc(*args: str, stdin: str = "", cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """tools/solc.cjs run the way py-solc-x and forge run native solc: stdin and stdout are pipes."""
    return subprocess.run(
        [str(SOLC), *args], input=stdin, capture_output=True, text=True, cwd=cwd, timeout=COMPILE_TIMEOUT, check=False
    )


@pytest.fixture(scope="session")
def build_artifacts() -> ModuleType:
    """tools/build_artifacts.py imported as a module: its SETTINGS and source unit names."""
    spec = importlib.util.spec_from_file_location("build_artifacts", BUILD_ARTIFACTS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def committed_artifact() -> dict:
    return json.loads(COMMITTED_ARTIFACT.read_text())


@pytest.fixture(scope="session")
def background() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="toolchain") as executor:
        yield executor


@pytest.fixture(scope="session")
def freshness_check(background: ThreadPoolExecutor) -> Future[subprocess.CompletedProcess[str]]:
    """`tools/build_artifacts.py --check`, running."""
    return background.submit(
        subprocess.run,
        [sys.executable, str(BUILD_ARTIFACTS), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT,
        check=False,
    )


def medledger_request(build_artifacts: ModuleType) -> dict:
    """What tools/build_artifacts.py sends (same source unit names, same settings), with code
    generated for MedLedger alone: the output selection is not part of the metadata, so the bytecode
    is the shipped one, and the other deployable contracts' code generation (minutes) is skipped."""
    request = build_artifacts.standard_json_input()
    selection = {
        "contracts/MedLedger.sol": {"MedLedger": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
    }
    request["settings"] = {**request["settings"], "outputSelection": selection}
    return request


@pytest.fixture(scope="session")
def solcx_binary_compile(background: ThreadPoolExecutor, build_artifacts: ModuleType) -> Future[dict]:
    """py-solc-x compiling the project with `solc_binary=tools/solc.cjs`, running (see medledger_request)."""
    solcx = pytest.importorskip("solcx")
    return background.submit(
        solcx.compile_standard, medledger_request(build_artifacts), base_path=ROOT, solc_binary=SOLC
    )


@pytest.fixture(scope="session", autouse=True)
def _start_full_compiles_early(request: pytest.FixtureRequest) -> None:
    if _toolchain_missing() is None:
        request.getfixturevalue("freshness_check")
        request.getfixturevalue("solcx_binary_compile")
