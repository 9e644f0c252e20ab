"""Compiled contract artifacts shipped inside the package (built by `make build`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler: str
    digest: str  # sha256 of the artifact file: identifies exactly what was deployed


@cache
def load_artifact(name: str) -> Artifact:
    text = resources.files("medledger.artifacts").joinpath(f"{name}.json").read_text()
    data = json.loads(text)
    return Artifact(
        name=data["contractName"],
        abi=data["abi"],
        bytecode=data["bytecode"],
        deployed_bytecode=data["deployedBytecode"],
        compiler=data["compiler"],
        digest=hashlib.sha256(text.encode()).hexdigest(),
    )
