"""Fixtures for the toolchain tests: the project root, the solc stand-in, the artifact builder."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOLC = ROOT / "tools" / "solc.cjs"
BUILD_ARTIFACTS = ROOT / "tools" / "build_artifacts.py"
COMMITTED_ARTIFACT = ROOT / "src" / "medledger" / "artifacts" / "MedLedger.json"
PIPE_BUFFER = 64 * 1024


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if shutil.which("node") is None or not (ROOT / "node_modules" / "solc").is_dir():
        skip = pytest.mark.skip(reason="needs node and node_modules/solc (run `npm ci`)")
        for item in items:
            if Path(str(item.fspath)).parent == Path(__file__).parent:
                item.add_marker(skip)


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


def run_solc(*args: str, stdin: str = "", cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """tools/solc.cjs run the way py-solc-x and forge run native solc: stdin and stdout are pipes."""
    return subprocess.run([str(SOLC), *args], input=stdin, capture_output=True, text=True, cwd=cwd,
                          timeout=120, check=False)
