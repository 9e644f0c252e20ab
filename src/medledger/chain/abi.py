"""Encoding and decoding one contract function's calls straight through eth_abi.

web3's ContractFunction validates its arguments against the whole ABI on every call, hashing
each function's signature again (about 40 ms per call for MedLedger's ABI): fine for one
transaction, the dominant cost of reading or registering hundreds of records. A FunctionCodec
does that work once per function, and encodes and decodes functions whose arguments and results
are all static (addresses, integers, booleans, fixed bytes, tuples of those) word by word,
about ten times faster than eth_abi's generic coders; anything else goes through eth_abi."""

from __future__ import annotations

import re
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
        if len(args) == len(self.inputs) and all(_STATIC.fullmatch(kind) for kind in self.inputs):
            try:
                return self.selector + b"".join(
                    _word(kind, value) for kind, value in zip(self.inputs, args, strict=True)
                )
            except (TypeError, ValueError, OverflowError):
                pass  # eth_abi names the bad argument
        return self.selector + encode(list(self.inputs), list(args))

    def decode(self, data: bytes) -> tuple[Any, ...]:
        """The outputs, addresses checksummed as web3 returns them."""
        fast = _decode_static(self.outputs, data)
        if fast is not None:
            return fast
        values = decode(list(self.outputs), data)
        return tuple(_checksummed(kind, value) for kind, value in zip(self.outputs, values, strict=True))


_STATIC = re.compile(
    r"address|bool|u?int(8|16|24|32|40|48|56|64|72|80|88|96|104|112|120|128|136|144|152|160|168|176|184|192|200|208|216|224|232|240|248|256)|bytes([1-9]|[12][0-9]|3[0-2])"
)


def _checksummed(kind: str, value: Any) -> Any:
    """Top-level addresses checksummed (as web3 returns them); those inside tuples stay as eth_abi
    decodes them (lower case)."""
    return to_checksum_address(value) if kind == "address" else value


def _components(kind: str) -> list[str]:
    """The component types of a tuple type "(a,b,(c,d))", split at its top level."""
    parts, depth, start = [], 0, 1
    for index, char in enumerate(kind):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if (char == "," and depth == 1) or (char == ")" and depth == 0):
            parts.append(kind[start:index])
            start = index + 1
    return [part for part in parts if part]


def _word(kind: str, value: Any) -> bytes:
    """One static argument as its 32-byte ABI word; ValueError/TypeError when it does not fit."""
    if kind == "address":
        raw = bytes.fromhex(value[2:]) if isinstance(value, str) and value[:2] in ("0x", "0X") else bytes(value)
        if len(raw) != 20:
            raise ValueError("not a 20-byte address")
        return b"\x00" * 12 + raw
    if kind == "bool":
        if not isinstance(value, bool):
            raise TypeError("not a bool")
        return int(value).to_bytes(32, "big")
    if kind.startswith("bytes"):
        raw = bytes(value)
        if len(raw) > int(kind[5:]) or isinstance(value, str):
            raise ValueError("too long")
        return raw.ljust(32, b"\x00")
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    bits = int(kind.lstrip("uint"))
    if kind.startswith("u"):
        if not 0 <= value < 1 << bits:
            raise ValueError("out of range")
        return value.to_bytes(32, "big")
    if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
        raise ValueError("out of range")
    return value.to_bytes(32, "big", signed=True)


def _flat(kinds: Sequence[str]) -> list[str] | None:
    out: list[str] = []
    for kind in kinds:
        if kind.startswith("(") and kind.endswith(")"):
            inner = _flat(_components(kind))
            if inner is None:
                return None
            out += inner
        elif _STATIC.fullmatch(kind):
            out.append(kind)
        else:
            return None
    return out


def _decode_static(kinds: Sequence[str], data: bytes) -> tuple[Any, ...] | None:
    """`data` decoded word by word when every output is static and every word is canonical
    (zero padding, in range); None to leave it to eth_abi (which also names what is wrong)."""
    flat = _flat(kinds)
    if flat is None or len(data) != 32 * len(flat):
        return None
    values: list[Any] = []
    for index, kind in enumerate(flat):
        word = data[32 * index : 32 * index + 32]
        if kind == "address":
            if any(word[:12]):
                return None
            values.append("0x" + word[12:].hex())  # checksummed below when top-level
        elif kind == "bool":
            if word[:31] != b"\x00" * 31 or word[31] > 1:
                return None
            values.append(bool(word[31]))
        elif kind.startswith("bytes"):
            size = int(kind[5:])
            if any(word[size:]):
                return None
            values.append(word[:size])
        else:
            bits = int(kind.lstrip("uint"))
            number = int.from_bytes(word, "big", signed=not kind.startswith("u"))
            if not (
                0 <= number < 1 << bits if kind.startswith("u") else -(1 << (bits - 1)) <= number < 1 << (bits - 1)
            ):
                return None
            values.append(number)
    iterator = iter(values)

    def rebuild(kind: str) -> Any:
        if kind.startswith("(") and kind.endswith(")"):
            return tuple(rebuild(component) for component in _components(kind))
        return next(iterator)

    return tuple(_checksummed(kind, rebuild(kind)) for kind in kinds)
