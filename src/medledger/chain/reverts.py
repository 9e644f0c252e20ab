"""Turn revert data into Python exceptions that name the custom error and its arguments."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from typing import Any

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from medledger.chain.errors import ContractRevertError, TransactionFailedError, revert_class

_ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)
_PANIC = bytes.fromhex("4e487b71")  # Panic(uint256)


def _abi_type(item: Mapping[str, Any]) -> str:
    if item["type"].startswith("tuple"):
        inner = ",".join(_abi_type(component) for component in item["components"])
        return f"({inner}){item['type'][5:]}"
    return item["type"]


class RevertDecoder:
    """Decodes revert data against the custom errors of one or more ABIs."""

    def __init__(self, abi: Iterable[Mapping[str, Any]]):
        self._errors: dict[bytes, tuple[str, list[str], list[str]]] = {}
        for item in abi:
            if item.get("type") != "error":
                continue
            types = [_abi_type(param) for param in item["inputs"]]
            names = [param["name"] or f"arg{i}" for i, param in enumerate(item["inputs"])]
            selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
            self._errors[selector] = (item["name"], types, names)

    def decode(self, data: bytes) -> Exception:
        """The exception that `data` (the raw revert payload) stands for."""
        selector, payload = data[:4], data[4:]
        if selector in self._errors:
            name, types, names = self._errors[selector]
            values = [
                to_checksum_address(v) if t == "address" else v
                for t, v in zip(types, decode(types, payload), strict=True)
            ]
            return revert_class(name)(name, dict(zip(names, values, strict=True)))
        if selector == _ERROR_STRING:
            (reason,) = decode(["string"], payload)
            return revert_class("Error")("Error", {"reason": reason})
        if selector == _PANIC:
            (code,) = decode(["uint256"], payload)
            return revert_class("Panic")("Panic", {"code": code})
        if not data:
            return TransactionFailedError("the transaction reverted without a reason")
        return TransactionFailedError(f"the transaction reverted with unknown data 0x{data.hex()}")


def revert_data_from(exc: BaseException) -> bytes | None:
    """Extract raw revert data from the exceptions web3 and node errors raise, if any."""
    data = getattr(exc, "data", None)
    # eth-tester (the embedded chain) raises TransactionFailed carrying the raw revert bytes.
    if data is None and type(exc).__name__ == "TransactionFailed" and exc.args:
        raw = exc.args[0]
        if isinstance(raw, (bytes, bytearray)):
            return bytes(raw)
        if isinstance(raw, str) and raw.startswith("execution reverted"):
            # ... or a string holding the repr of those bytes: "execution reverted: b'...'".
            _, _, literal = raw.partition(": ")
            if literal.startswith(("b'", 'b"')):
                value = ast.literal_eval(literal)
                if isinstance(value, bytes):
                    return value
            return b""
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    message = str(exc)
    if "execution reverted" in message and data is None:
        return b""
    return None


__all__ = ["ContractRevertError", "RevertDecoder", "revert_data_from"]
