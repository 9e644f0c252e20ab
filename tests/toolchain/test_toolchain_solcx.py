"""py-solc-x drives tools/solc.cjs as if it were native solc, and gets the shipped bytecode."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from .conftest import ROOT, SOLC, medledger_request

solcx = pytest.importorskip("solcx")

VERSION = "0.8.28"


def _project_input(build_artifacts) -> dict:
    """The request tools/build_artifacts.py sends, code generated for MedLedger alone."""
    return medledger_request(build_artifacts)


def _runtime_bytecode(output: dict, committed: dict) -> str:
    return (
        "0x"
        + output["contracts"][committed["sourceUnit"]][committed["contractName"]]["evm"]["deployedBytecode"]["object"]
    )


@pytest.fixture
def solcx_binary_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SOLCX_BINARY_PATH folder holding `solc-v0.8.28`, a symlink to tools/solc.cjs."""
    folder = tmp_path / "solcx"
    folder.mkdir()
    (folder / f"solc-v{VERSION}").symlink_to(SOLC)
    monkeypatch.setenv("SOLCX_BINARY_PATH", str(folder))
    return folder


def test_solcx_reads_the_version_of_the_stand_in():
    assert solcx.wrapper.get_solc_version(SOLC) == Version(VERSION)


def test_solcx_with_solc_binary_compiles_the_shipped_runtime_bytecode(solcx_binary_compile, committed_artifact):
    output = solcx_binary_compile.result()
    assert _runtime_bytecode(output, committed_artifact) == committed_artifact["deployedBytecode"]


def test_solcx_binary_path_folder_lists_the_stand_in_as_installed(solcx_binary_path):
    assert solcx.get_installed_solc_versions() == [Version(VERSION)]


def test_solcx_binary_path_route_compiles_the_shipped_runtime_bytecode(
    solcx_binary_path, build_artifacts, committed_artifact
):
    output = solcx.compile_standard(_project_input(build_artifacts), base_path=ROOT, solc_version=VERSION)
    assert _runtime_bytecode(output, committed_artifact) == committed_artifact["deployedBytecode"]
