"""Compile the Solidity contracts into the ABI + bytecode artifacts shipped inside the package.

Run by `make build`. Uses tools/solc.cjs (solc-js acting as a native solc), so no native
compiler is needed. `--check` compiles afresh and fails if the committed artifacts differ.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLC = ROOT / "tools" / "solc.cjs"
ARTIFACT_DIR = ROOT / "src" / "medledger" / "artifacts"
TEST_ARTIFACT_DIR = ROOT / "tests" / "artifacts"
SOURCE_DIRS = ("contracts", "interfaces", "contracts/test")
# Contracts that are deployed; interfaces' ABIs are not shipped separately.
DEPLOYABLE = ("MedLedger", "KeyReleaseServices", "StreamAnchors", "SettlementToken")
# Test doubles (contracts/test/): built into tests/artifacts, never shipped in the package.
TEST_PREFIX = "contracts/test/"
# Pinned compiler settings: brownie-config.yaml and any forge profile must match them.
SETTINGS = {
    "evmVersion": "cancun",
    # The IR pipeline keeps MedLedger's runtime under EIP-170's 24,576 bytes (the legacy pipeline
    # needs about 25 KB even at runs=1); the size is checked by tests/chain/test_code_size.py.
    "viaIR": True,
    "optimizer": {"enabled": True, "runs": 200},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "devdoc", "userdoc"]}},
}


def standard_json_input() -> dict:
    sources = {}
    for folder in SOURCE_DIRS:
        for path in sorted((ROOT / folder).glob("*.sol")):
            unit = path.relative_to(ROOT).as_posix()
            sources[unit] = {"content": path.read_text()}
    return {"language": "Solidity", "sources": sources, "settings": SETTINGS}


def compile_contracts() -> dict[str, dict]:
    request = standard_json_input()
    completed = subprocess.run(
        ["node", str(SOLC), "--standard-json", "--base-path", str(ROOT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if completed.returncode != 0:
        raise SystemExit(f"solc failed: {completed.stderr.strip()}")
    output = json.loads(completed.stdout)
    errors = [e for e in output.get("errors", []) if e["severity"] == "error"]
    for entry in output.get("errors", []):
        print(entry["formattedMessage"], file=sys.stderr)
    if errors:
        raise SystemExit(f"compilation failed with {len(errors)} error(s)")
    version = subprocess.run(["node", str(SOLC), "--version"], capture_output=True, text=True, check=True)
    compiler = version.stdout.strip().splitlines()[-1].removeprefix("Version: ")
    shipped = {unit: source for unit, source in request["sources"].items() if not unit.startswith(TEST_PREFIX)}
    source_hash = hashlib.sha256(json.dumps(shipped, sort_keys=True).encode()).hexdigest()
    artifacts = {}
    for unit, contracts in output["contracts"].items():
        for name, data in contracts.items():
            if name not in DEPLOYABLE and not unit.startswith(TEST_PREFIX):
                continue
            if not data["evm"]["bytecode"]["object"]:
                continue  # an interface or abstract contract
            artifacts[name] = {
                "contractName": name,
                "sourceUnit": unit,
                "compiler": compiler,
                "settings": {k: v for k, v in SETTINGS.items() if k != "outputSelection"},
                "sourceHash": source_hash,
                "abi": data["abi"],
                "bytecode": "0x" + data["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + data["evm"]["deployedBytecode"]["object"],
                "devdoc": data["devdoc"],
                "userdoc": data["userdoc"],
            }
    return artifacts


def render(artifact: dict) -> str:
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if committed artifacts are stale")
    args = parser.parse_args()
    artifacts = compile_contracts()
    stale = []
    for name, artifact in artifacts.items():
        directory = TEST_ARTIFACT_DIR if artifact["sourceUnit"].startswith(TEST_PREFIX) else ARTIFACT_DIR
        path = directory / f"{name}.json"
        text = render(artifact)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
            continue
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        size = (len(artifact["deployedBytecode"]) - 2) // 2
        print(f"wrote {path.relative_to(ROOT)} (runtime {size} bytes of 24576)")
    if stale:
        print(f"stale artifacts: {', '.join(stale)}; run `make build`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
