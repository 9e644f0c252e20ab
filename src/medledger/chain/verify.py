"""Checking a live deployment against the shipped build, and what a block explorer needs to verify it.

* `compare_code`: the runtime code on chain against the artifact's. Immutables are written into
  the code at deployment; solc leaves their slots as 32-byte words of zeros in `deployedBytecode`.
  With the compiler's `immutableReferences` those ranges are masked exactly; without them (the
  shipped artifacts do not record them), a byte may differ only inside a run of at least 32 zero
  bytes of the artifact. The trailing CBOR metadata, which
  hashes every source and the settings, must match byte for byte either way.
* `constructor_arguments`: the ABI-encoded arguments, cut from the creation transaction's input
  after the artifact's creation code, and decoded.
* `standard_json_input`: the "Solidity (Standard-Json-Input)" an explorer (Etherscan, Sourcify)
  recompiles: the sources the contract imports, with content, under the unit names the build
  used, and the build's settings (optimizer, viaIR, evmVersion; no remappings: imports name
  `@openzeppelin/...` units directly).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import to_checksum_address

from medledger.chain.artifacts import Artifact
from medledger.chain.connection import Chain
from medledger.chain.errors import DeploymentError

_IMPORT = re.compile(r"""^\s*import\s+(?:[^;]*?\bfrom\s+)?["']([^"']+)["']\s*;""", re.MULTILINE)
SOURCE_DIRS = ("contracts", "interfaces")  # the shipped sources (tools/build_artifacts.py's sourceHash)


@dataclass(frozen=True)
class CodeComparison:
    matches: bool
    onchain_size: int
    artifact_size: int
    metadata_matches: bool
    differing_bytes: int  # outside the masked ranges
    reason: str


def _metadata_length(code: bytes) -> int:
    if len(code) < 2:
        return 0
    length = int.from_bytes(code[-2:], "big") + 2
    return length if length <= len(code) else 0


def compare_code(
    onchain: bytes, expected: bytes, immutable_references: dict[str, list[dict[str, int]]] | None = None
) -> CodeComparison:
    """Whether `onchain` runtime code is the build whose runtime is `expected` (see the module docstring)."""
    if not onchain:
        return CodeComparison(False, 0, len(expected), False, len(expected), "no code at the address")
    if len(onchain) != len(expected):
        return CodeComparison(
            False, len(onchain), len(expected), False, -1, f"{len(onchain)} bytes on chain, {len(expected)} built"
        )
    metadata = _metadata_length(expected)
    metadata_ok = metadata > 0 and onchain[-metadata:] == expected[-metadata:]
    masked = bytearray(len(expected))
    if immutable_references is not None:
        for ranges in immutable_references.values():
            for item in ranges:
                masked[item["start"] : item["start"] + item["length"]] = b"\x01" * item["length"]
    else:  # solc's placeholders: an immutable is a 32-byte word of zeros in the runtime code
        for run in re.finditer(rb"\x00{32,}", expected[: len(expected) - metadata]):
            masked[run.start() : run.end()] = b"\x01" * (run.end() - run.start())
    differing = sum(1 for i, (a, b) in enumerate(zip(onchain, expected, strict=True)) if a != b and not masked[i])
    if not metadata_ok:
        reason = "the metadata hash differs: another source or compiler setting"
    elif differing:
        reason = f"{differing} bytes differ outside the immutables"
    else:
        reason = "same runtime code (immutables aside)"
    return CodeComparison(metadata_ok and not differing, len(onchain), len(expected), metadata_ok, differing, reason)


def constructor_arguments(chain: Chain, tx_hash: str, artifact: Artifact) -> tuple[bytes, dict[str, Any]] | None:
    """The constructor arguments a deployment transaction passed (raw and decoded), or None when
    the transaction is not available or did not deploy this artifact's creation code."""
    try:
        tx = chain.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    except Exception:  # pruned, unknown, or a node without that index: nothing to decode
        return None
    data = bytes(tx["input"])
    creation = bytes.fromhex(artifact.bytecode.removeprefix("0x"))
    if not data.startswith(creation):
        return None
    raw = data[len(creation) :]
    inputs: list[dict[str, Any]] = next((item["inputs"] for item in artifact.abi if item["type"] == "constructor"), [])
    types = [_abi_type(item) for item in inputs]
    values = abi_decode(types, raw)
    return raw, {item["name"]: _named(item, value) for item, value in zip(inputs, values, strict=True)}


def _abi_type(item: dict[str, Any]) -> str:
    if item["type"].startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in item["components"]) + ")" + item["type"][len("tuple") :]
    return str(item["type"])


def _named(item: dict[str, Any], value: Any) -> Any:
    if item["type"] == "tuple":
        return {c["name"]: _named(c, v) for c, v in zip(item["components"], value, strict=True)}
    if item["type"] == "address":
        return to_checksum_address(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def read_settings(chain: Chain, address: str, abi: list[dict[str, Any]]) -> dict[str, Any]:
    """Every argument-less view of the contract that returns one number, address or bool."""
    contract = chain.w3.eth.contract(address=to_checksum_address(address), abi=abi)
    found: dict[str, Any] = {}
    for item in abi:
        if item.get("type") != "function" or item.get("inputs") or item.get("stateMutability") != "view":
            continue
        outputs = item.get("outputs", [])
        if len(outputs) != 1 or not re.match(r"^(uint\d*|address|bool)$", outputs[0]["type"]):
            continue
        found[item["name"]] = contract.get_function_by_name(item["name"])().call()
    return found


def source_hash(root: Path) -> str:
    """The artifacts' `sourceHash` of the sources under `root` (as tools/build_artifacts.py computes it)."""
    sources = {}
    for folder in SOURCE_DIRS:
        for path in sorted((root / folder).glob("*.sol")):
            sources[path.relative_to(root).as_posix()] = {"content": path.read_text()}
    return hashlib.sha256(json.dumps(sources, sort_keys=True).encode()).hexdigest()


def _resolve(unit: str, root: Path) -> Path:
    for base in (root, root / "node_modules"):
        candidate = base / unit
        if candidate.is_file():
            return candidate
    raise DeploymentError(f"source {unit} is not under {root} (or its node_modules): run `npm ci` there")


def artifact_data(name: str) -> dict[str, Any]:
    """The shipped artifact file's JSON (source unit, settings, source hash besides the code)."""
    data: dict[str, Any] = json.loads(resources.files("medledger.artifacts").joinpath(f"{name}.json").read_text())
    return data


def standard_json_input(root: Path, name: str) -> dict[str, Any]:
    """The standard-JSON input that recompiles artifact `name` from the sources under `root`,
    with the settings the artifact records."""
    data = artifact_data(name)
    entry, settings = str(data["sourceUnit"]), dict(data["settings"])
    sources: dict[str, dict[str, str]] = {}
    pending = [entry]
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        content = _resolve(unit, root).read_text()
        sources[unit] = {"content": content}
        for target in _IMPORT.findall(content):
            if target.startswith("."):
                target = posixpath.normpath(posixpath.join(posixpath.dirname(unit), target))
            pending.append(target)
    return {
        "language": "Solidity",
        "sources": dict(sorted(sources.items())),
        "settings": {
            **settings,
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "metadata"]}},
        },
    }
