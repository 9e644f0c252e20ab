"""Encoding and decoding one contract function's calls straight through eth_abi.

web3's ContractFunction validates its arguments against the whole ABI on every call, hashing
each function's signature again (about 40 ms per call for MedLedger's ABI): fine for one
transaction, the dominant cost of reading or registering hundreds of records. A FunctionCodec
does that work once per function."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address


def _type(item: Mapping[str, Any]) -> str:
    """The canonical ABI type of an input or output (tuples spelled out)."""
    kind = str(item["type"])
    if kind.startswith("tuple"):
        return "(" + ",".join(_type(component) for component in item["components"]) + ")" + kind[5:]
    return kind


@dataclass(frozen=True)
class FunctionCodec:
    name: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @classmethod
    def of(cls, abi: Sequence[Mapping[str, Any]], name: str) -> FunctionCodec:
        matches = [item for item in abi if item.get("type") == "function" and item.get("name") == name]
        if len(matches) != 1:
            raise ValueError(f"the ABI has {len(matches)} functions named {name}; expected exactly one")
        [item] = matches
        inputs = tuple(_type(i) for i in item.get("inputs", []))
        outputs = tuple(_type(o) for o in item.get("outputs", []))
        selector = function_signature_to_4byte_selector(f"{name}({','.join(inputs)})")
        return cls(name, selector, inputs, outputs)

    def encode(self, *args: Any) -> bytes:
        return self.selector + encode(list(self.inputs), list(args))

    def decode(self, data: bytes) -> tuple[Any, ...]:
        """The outputs, addresses checksummed as web3 returns them."""
        values = decode(list(self.outputs), data)
        return tuple(
            to_checksum_address(value) if kind == "address" else value
            for kind, value in zip(self.outputs, values, strict=True)
        )
