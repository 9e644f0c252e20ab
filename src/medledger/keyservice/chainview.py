"""A service's reads of the chain, batched: JSON-RPC batches over one keep-alive HTTP connection.

A release needs about six reads (the latest block, `paused`, `recordOf`, the logAccess receipt,
its block, `hasAccess`). Through web3's provider each is a separate request with its own
middleware pass; here they go in two batches (the second needs the record's category and the
receipt's block), with calls encoded and results decoded by eth-abi against the shipped ABI.
Every request has the configured timeout; anything but a well-formed answer raises
ChainUnavailableError, a contract revert raises CallRevertedError.

The HTTP client is the standard library's `http.client`, one keep-alive connection per worker
thread: a batch costs a fraction of a millisecond of CPU, where a general-purpose client (httpx,
requests) spends several, which would cap what one service sustains on one core.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address

from medledger.chain.artifacts import load_artifact

from .errors import KeyServiceError

if TYPE_CHECKING:  # web3 is imported only by callers that bring their own connection
    from web3 import Web3

__all__ = ["CallRevertedError", "ChainUnavailableError", "ChainView", "RpcCall"]

# = chain.deploy.LEDGER_CONTRACT and ledger.services.SERVICES_CONTRACT, named here so a service starts
# without importing web3
LEDGER_ARTIFACT = "MedLedger"
SERVICES_ARTIFACT = "KeyReleaseServices"


class ChainUnavailableError(KeyServiceError):
    """The chain did not answer in time, or answered something that is not JSON-RPC."""


class CallRevertedError(KeyServiceError):
    """A contract call reverted (the request named something the contract refuses)."""


_PROVIDER_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_PROVIDER_LOCKS_GUARD = threading.Lock()


def _provider_lock(w3: Web3) -> threading.Lock:
    """One lock per provider object, shared by every service reading through it."""
    with _PROVIDER_LOCKS_GUARD:
        lock = _PROVIDER_LOCKS.get(w3.provider)
        if lock is None:
            lock = _PROVIDER_LOCKS[w3.provider] = threading.Lock()
        return lock


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex()


def _via_web3(w3: Web3, method: str, params: list[Any]) -> Any:
    """What a JSON-RPC node would answer, asked through web3's API (which formats a provider's
    answers, as the in-process tester's raw answers are not the wire format)."""
    from web3.exceptions import TransactionNotFound

    eth = w3.eth
    if method == "eth_call":
        # The tester prices even a read: it is made from its own pre-funded account.
        call: dict[str, Any] = {
            "from": eth.accounts[0],
            "to": to_checksum_address(params[0]["to"]),
            "data": params[0]["data"],
        }
        return _hex(eth.call(call, params[1]))  # type: ignore[arg-type]
    if method in ("eth_getBlockByNumber", "eth_getBlockByHash"):
        block = eth.get_block(params[0])
        return {"number": hex(block["number"]), "timestamp": hex(block["timestamp"]), "hash": _hex(block["hash"])}
    if method == "eth_getTransactionReceipt":
        try:
            receipt = eth.get_transaction_receipt(params[0])
        except TransactionNotFound:
            return None
        return {
            "status": hex(receipt["status"]),
            "blockNumber": hex(receipt["blockNumber"]),
            "blockHash": _hex(receipt["blockHash"]),
            "logs": [
                {"address": log["address"], "topics": [_hex(t) for t in log["topics"]], "data": _hex(log["data"])}
                for log in receipt["logs"]
            ],
        }
    if method == "eth_chainId":
        return hex(eth.chain_id)
    if method == "eth_blockNumber":
        return hex(eth.block_number)
    raise ChainUnavailableError(f"{method} is not available through an in-process chain")


def call_reverted(exc: Exception) -> bool:
    return "revert" in str(exc).lower()


def _abi_type(entry: dict[str, Any]) -> str:
    if entry["type"].startswith("tuple"):
        inner = ",".join(_abi_type(component) for component in entry["components"])
        return f"({inner}){entry['type'][len('tuple') :]}"
    return str(entry["type"])


@dataclass(frozen=True)
class _Function:
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


_STATIC_WORDS = frozenset(["address", "bool", "bytes32", *(f"uint{bits}" for bits in range(8, 257, 8))])


def _static(types: tuple[str, ...]) -> bool:
    return all(
        t in _STATIC_WORDS or (t.startswith("(") and t.endswith(")") and _static(tuple(t[1:-1].split(","))))
        for t in types
    )


def _encode_word(kind: str, value: Any) -> bytes:
    if kind == "address":
        return bytes(12) + bytes.fromhex(str(value)[2:])
    if kind == "bytes32":
        return bytes(value)
    return int(value).to_bytes(32, "big")  # uintN and bool


def _decode_words(types: tuple[str, ...], data: bytes, offset: int = 0) -> tuple[list[Any], int]:
    values: list[Any] = []
    for kind in types:
        if kind.startswith("("):
            inner, offset = _decode_words(tuple(kind[1:-1].split(",")), data, offset)
            values.append(tuple(inner))
            continue
        word = data[offset : offset + 32]
        if len(word) != 32:
            raise ValueError("the call returned too few bytes")
        offset += 32
        if kind == "address":
            values.append("0x" + word[12:].hex())
        elif kind == "bytes32":
            values.append(word)
        elif kind == "bool":
            values.append(word[-1] == 1)
        else:
            values.append(int.from_bytes(word, "big"))
    return values, offset


def _functions_of(artifact: str) -> dict[str, _Function]:
    functions = {}
    for entry in load_artifact(artifact).abi:
        if entry.get("type") == "function":
            inputs = tuple(_abi_type(item) for item in entry["inputs"])
            signature = f"{entry['name']}({','.join(inputs)})"
            functions[entry["name"]] = _Function(
                keccak(text=signature)[:4], inputs, tuple(_abi_type(item) for item in entry["outputs"])
            )
    return functions


@dataclass(frozen=True)
class RpcCall:
    """One JSON-RPC request of a batch; `function` set for an eth_call to the ledger."""

    method: str
    params: list[Any]
    function: _Function | None = None


class ChainView:
    """Batched reads of one ledger contract over one RPC endpoint."""

    def __init__(self, rpc_url: str, ledger: str, *, timeout: float, w3: Web3 | None = None):
        """Batches over HTTP to `rpc_url`; or, with `w3` (e.g. the embedded in-process chain), one
        request at a time through its provider."""
        self.rpc_url = rpc_url
        self.ledger = ledger
        self._w3 = w3
        self._timeout = timeout
        url = urlsplit(rpc_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"{rpc_url!r} is not an http(s) URL")
        self._url = url
        self._local = threading.local()
        self._connections: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._functions = {
            LEDGER_ARTIFACT: _functions_of(LEDGER_ARTIFACT),
            SERVICES_ARTIFACT: _functions_of(SERVICES_ARTIFACT),
        }
        self._services: str | None = None

    def call(self, name: str, *args: Any) -> RpcCall:
        """An eth_call of the ledger's view function `name` at the latest block."""
        return self._call(LEDGER_ARTIFACT, self.ledger, name, args)

    def services_call(self, name: str, *args: Any) -> RpcCall:
        """An eth_call of the key-release service-set module (`ledger.keyReleaseServices()`)."""
        if self._services is None:  # an immutable of the ledger: asked once
            self._services = str(self.batch([self.call("keyReleaseServices")])[0])
        return self._call(SERVICES_ARTIFACT, self._services, name, args)

    def _call(self, artifact: str, address: str, name: str, args: tuple[Any, ...]) -> RpcCall:
        function = self._functions[artifact][name]
        if _static(function.inputs):  # the hot calls: words written directly, no generic encoder
            data = function.selector + b"".join(_encode_word(k, v) for k, v in zip(function.inputs, args, strict=True))
        else:
            data = function.selector + encode(list(function.inputs), list(args))
        return RpcCall("eth_call", [{"to": address, "data": "0x" + data.hex()}, "latest"], function)

    @staticmethod
    def request(method: str, *params: Any) -> RpcCall:
        return RpcCall(method, list(params))

    def batch(self, calls: Sequence[RpcCall]) -> list[Any]:
        """Send `calls` as one batch; their results in order (eth_call results decoded, a single
        output unwrapped)."""
        ids = [next(self._ids) for _ in calls]
        payload: list[dict[str, Any]] = [
            {"jsonrpc": "2.0", "id": i, "method": c.method, "params": c.params} for i, c in zip(ids, calls, strict=True)
        ]
        try:
            if self._w3 is not None:
                with _provider_lock(self._w3):  # an in-process chain is not thread-safe
                    answers = [
                        {"id": p["id"], "result": _via_web3(self._w3, p["method"], p["params"])} for p in payload
                    ]
            else:
                answers = json.loads(self._post(json.dumps(payload).encode()))
        except TimeoutError:
            raise ChainUnavailableError(f"the chain at {self.rpc_url} did not answer in time") from None
        except ChainUnavailableError:
            raise
        except Exception as exc:  # socket errors, bad JSON, a provider's own errors: no usable answer
            if self._w3 is not None and call_reverted(exc):
                raise CallRevertedError(f"the ledger reverted a call: {exc}") from None
            raise ChainUnavailableError(f"the chain at {self.rpc_url} is unreachable ({type(exc).__name__})") from None
        if not isinstance(answers, list):
            raise ChainUnavailableError(f"the chain at {self.rpc_url} refused the batch: {str(answers)[:200]}")
        by_id = {answer.get("id"): answer for answer in answers if isinstance(answer, dict)}
        results = []
        for i, call in zip(ids, calls, strict=True):
            answer = by_id.get(i)
            if answer is None:
                raise ChainUnavailableError(f"the chain at {self.rpc_url} left {call.method} unanswered")
            if "error" in answer:
                error = answer["error"] if isinstance(answer["error"], dict) else {}
                if call.function is not None and "revert" in str(error.get("message", "")).lower():
                    raise CallRevertedError(f"the ledger reverted a {call.method}: {error.get('message')}")
                raise ChainUnavailableError(f"{call.method} failed on {self.rpc_url}: {error.get('message', error)}")
            result = answer.get("result")
            if call.function is not None:
                raw = bytes.fromhex(str(result)[2:])
                outputs = call.function.outputs
                decoded = _decode_words(outputs, raw)[0] if _static(outputs) else decode(list(outputs), raw)
                result = decoded[0] if len(decoded) == 1 else tuple(decoded)
            results.append(result)
        return results

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            kind = http.client.HTTPSConnection if self._url.scheme == "https" else http.client.HTTPConnection
            connection = kind(self._url.hostname or "", self._url.port, timeout=self._timeout)
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def _post(self, body: bytes) -> bytes:
        path = self._url.path or "/"
        headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
        for attempt in (1, 2):  # a keep-alive connection the node closed is reopened once
            connection = self._connection()
            try:
                connection.request("POST", path, body, headers)
                response = connection.getresponse()
                data = response.read()
            except (
                http.client.RemoteDisconnected,
                BrokenPipeError,
                ConnectionResetError,
                http.client.CannotSendRequest,
                http.client.ResponseNotReady,
            ):
                connection.close()
                if attempt == 2:
                    raise
                continue
            if response.status != 200:
                raise ChainUnavailableError(f"the chain at {self.rpc_url} answered HTTP {response.status}")
            return data
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
