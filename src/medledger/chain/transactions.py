"""Sending transactions: gas estimation with a margin, EIP-1559 fees, local signing, confirmations,
and failures turned into specific exceptions (custom errors decoded, funds, nonces, drops).

Two ways to send. `send` does one transaction start to finish (nonce from the node's pending
count, wait for the receipt). `submit` + `settle` keep several in flight: `submit` checks the
call, signs it with the sender's next nonce from a `NonceTracker` (kept locally, so it does not
wait for the previous transaction to be mined or ask the node each time), tells `on_signed`
(a journal) and broadcasts; `settle` waits for the receipt later. The tracker never hands out a
nonce of a transaction that may have been broadcast: after a refusal the node gave (the
transaction was not taken) it asks the node's pending count again; after a failure that leaves
it unknown (a timeout, a dropped connection) it moves past that nonce, whatever the node says.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, cast

from eth_typing import ChecksumAddress
from eth_utils import ValidationError, keccak, to_checksum_address
from hexbytes import HexBytes
from web3.contract.contract import ContractFunction
from web3.exceptions import TimeExhausted, TransactionNotFound, Web3RPCError
from web3.types import RPCEndpoint, TxParams

from medledger.chain.abi import FunctionCodec
from medledger.chain.accounts import Signer
from medledger.chain.connection import Chain
from medledger.chain.errors import ChainError, InsufficientFundsError, TransactionFailedError
from medledger.chain.reverts import RevertDecoder, revert_data_from
from medledger.chain.units import ether, gwei

DEFAULT_GAS_MARGIN = 1.2
FALLBACK_PRIORITY_FEE = 1_000_000_000  # 1 gwei, when the node cannot suggest one
# Estimated without fees: a node caps a priced estimate at what the sender's balance buys, so an
# unfunded account would fail estimation with "gas required exceeds allowance" instead of
# reaching the funds check, which names the account.
_FEE_FIELDS = ("maxFeePerGas", "maxPriorityFeePerGas", "gasPrice")


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    block_number: int
    gas_used: int
    raw: Any  # web3's receipt, for decoding events


@dataclass(frozen=True)
class SentTransaction:
    """A signed transaction, named before it is broadcast so a caller can journal it and find it
    again after a crash: its hash, the sending account, that account's nonce, the chain."""

    tx_hash: str
    sender: str
    nonce: int
    chain_id: int


OnSigned = Callable[[SentTransaction], None]  # called after signing, before broadcasting


@dataclass(frozen=True)
class PendingTransaction:
    """A transaction `submit` broadcast and nobody has waited for yet (see `settle`)."""

    sent: SentTransaction
    tx: Mapping[str, Any]  # the fields it was built from, to replay a revert for its reason

    @property
    def tx_hash(self) -> str:
        return self.sent.tx_hash


class NonceTracker:
    """The next nonce of each sending account on one chain, tracked locally while it has
    transactions in flight.

    The first transaction of a run asks the node (its pending count); the next ones, signed and
    broadcast while the earlier are still pending, count up here. Once none of the account's
    transactions is in flight (each `take` is ended by `done`) the count is forgotten and the
    next run asks the node again, so another program sending from the account in between, or a
    devnet reverted to a snapshot, is seen. `lock(address)` is held from taking a nonce until
    the broadcast has answered, so two threads never interleave there and a refused nonce is
    never left behind a later one (a gap no transaction could fill). A nonce that may have been
    broadcast (the broadcast failed without an answer) is never handed out again."""

    def __init__(self, chain: Chain):
        self.chain = chain
        self._next: dict[str, int] = {}
        self._active: dict[str, int] = {}
        self._floor: dict[str, int] = {}  # above every nonce that may have been broadcast unanswered
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()

    def lock(self, address: str) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(address, threading.RLock())

    def take(self, address: str) -> int:
        """The nonce for `address`'s next transaction, counted as used from now on; end it with
        `done` once it is settled (or refused)."""
        with self.lock(address):
            nonce = self._next.get(address) if self._active.get(address) else None
            if nonce is None:
                nonce = self.node_next(address)
            self._next[address] = nonce + 1
            self._active[address] = self._active.get(address, 0) + 1
            return nonce

    def node_next(self, address: str) -> int:
        """The node's pending count, or higher: past any nonce that may have been broadcast."""
        node = int(self.chain.w3.eth.get_transaction_count(to_checksum_address(address), "pending"))
        with self.lock(address):
            floor = self._floor.get(address, 0)
            local = self._next.get(address, 0) if self._active.get(address) else 0
        return max(node, floor, local)

    def sent_with(self, address: str, nonce: int) -> None:
        """A transaction with `nonce` was broadcast: never hand that nonce out again."""
        with self.lock(address):
            self._next[address] = max(self._next.get(address, 0), nonce + 1)

    def refused(self, address: str) -> None:
        """The node refused the last nonce taken (it did not take the transaction): the next
        `take` while others are in flight counts from the node again."""
        with self.lock(address):
            self._next.pop(address, None)

    def uncertain(self, address: str, nonce: int) -> None:
        """The broadcast of `nonce` failed without an answer, so the node may hold it."""
        with self.lock(address):
            self._floor[address] = max(self._floor.get(address, 0), nonce + 1)
            self._next[address] = max(self._next.get(address, 0), nonce + 1)

    def done(self, address: str) -> None:
        """One transaction `take` handed out is settled, refused or given up on."""
        with self.lock(address):
            left = self._active.get(address, 0) - 1
            if left > 0:
                self._active[address] = left
            else:
                self._active.pop(address, None)
                self._next.pop(address, None)

    def in_flight(self, address: str) -> int:
        with self.lock(address):
            return self._active.get(address, 0)


_trackers: weakref.WeakKeyDictionary[Any, NonceTracker] = weakref.WeakKeyDictionary()
_trackers_guard = threading.Lock()


def nonce_tracker(chain: Chain) -> NonceTracker:
    """The tracker of `chain`'s connection, shared by every sender on it."""
    with _trackers_guard:
        tracker = _trackers.get(chain.w3)
        if tracker is None:
            tracker = _trackers[chain.w3] = NonceTracker(chain)
        return tracker


class TxStatus(Enum):
    """Where a transaction sent earlier stands, as the node sees it now."""

    MINED = "mined"  # in a block, succeeded
    REVERTED = "reverted"  # in a block, failed
    PENDING = "pending"  # known to the node, not yet in a block
    DROPPED = "dropped"  # unknown to the node and its nonce still unused: it may be sent again
    REPLACED = "replaced"  # unknown to the node and its nonce used by another transaction: it is dead


class FeeSettingsError(ChainError):
    """Fee settings that contradict each other (a priority fee above the max fee, one with legacy)."""


@dataclass
class TxPolicy:
    """How transactions are sent: margins, waits, confirmations, and fees.

    Fees are in wei per gas. By default each transaction is EIP-1559 (type 2) with the node's
    suggested priority fee and a max fee of twice the base fee plus that priority fee.
    `max_fee_per_gas` and `max_priority_fee_per_gas` fix either or both instead. `legacy` sends
    type-0 transactions priced by `gasPrice`: `max_fee_per_gas` if given, else the node's
    eth_gasPrice; a priority fee has no meaning there and is refused."""

    gas_margin: float = DEFAULT_GAS_MARGIN
    confirmations: int = 1
    receipt_timeout: float = 120.0
    poll_interval: float = 0.1  # the longest pause between two receipt polls
    first_poll: float = 0.002  # the first pause; each next one doubles up to poll_interval
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    legacy: bool = False

    def __post_init__(self) -> None:
        max_fee, priority = self.max_fee_per_gas, self.max_priority_fee_per_gas
        if max_fee is not None and max_fee <= 0:
            raise FeeSettingsError("the max fee per gas must be positive")
        if priority is not None and priority < 0:
            raise FeeSettingsError("the priority fee per gas must not be negative")
        if self.legacy and priority is not None:
            raise FeeSettingsError(
                "a legacy transaction has no priority fee: give its gas price as the max fee, or drop legacy"
            )
        if max_fee is not None and priority is not None and priority > max_fee:
            raise FeeSettingsError(
                f"the priority fee ({gwei(priority)} per gas) is above the max fee ({gwei(max_fee)} per gas)"
            )


@dataclass(frozen=True)
class FeeQuote:
    """The fees a transaction would be sent with, in wei per gas: `gas_price` for a legacy one,
    `max_fee`/`priority_fee` for EIP-1559. `base_fee` is the latest block's (0 before London)."""

    legacy: bool
    base_fee: int
    gas_price: int | None = None
    max_fee: int | None = None
    priority_fee: int | None = None

    @property
    def max_per_gas(self) -> int:
        """The most one unit of gas may cost."""
        price = self.gas_price if self.legacy else self.max_fee
        if price is None:
            raise FeeSettingsError("a fee quote without a price per gas")
        return price

    @property
    def expected_per_gas(self) -> int:
        """What one unit of gas would cost at the current base fee."""
        if self.legacy:
            return self.max_per_gas
        return min(self.max_per_gas, self.base_fee + int(self.priority_fee or 0))

    def fields(self) -> dict[str, int]:
        """The transaction fields that carry these fees."""
        if self.legacy:
            return {"gasPrice": self.max_per_gas}
        return {"maxFeePerGas": self.max_per_gas, "maxPriorityFeePerGas": int(self.priority_fee or 0)}


@dataclass(frozen=True)
class GasQuote:
    """What a transaction would use and cost, estimated and sent nowhere: `gas_limit` is the
    estimate with the policy's margin (the limit it would be sent with)."""

    gas_estimate: int
    gas_limit: int
    fees: FeeQuote

    @property
    def max_cost_wei(self) -> int:
        return self.gas_limit * self.fees.max_per_gas

    @property
    def expected_cost_wei(self) -> int:
        """At the current base fee, were the whole estimate used."""
        return self.gas_estimate * self.fees.expected_per_gas


class TransactionSender:
    """Signs and sends contract calls for one chain, decoding refusals with `decoder`.

    `on_signed`, if given, is told of every transaction this sender signs, before it is broadcast
    (a per-call `on_signed` takes its place for that call)."""

    def __init__(
        self, chain: Chain, decoder: RevertDecoder, policy: TxPolicy | None = None, *, on_signed: OnSigned | None = None
    ):
        self.chain = chain
        self.decoder = decoder
        self.policy = policy or TxPolicy()
        self.on_signed = on_signed
        self.nonces = nonce_tracker(chain)
        self._fee_cache: tuple[float, dict[str, int]] | None = None

    def call(self, function: ContractFunction, *, sender: str | None = None) -> Any:
        """A read-only call; refusals raise the decoded custom error."""
        try:
            return function.call({"from": sender} if sender else {})
        except Exception as exc:
            raise self._refusal(exc, sender) from None

    def call_many(self, functions: Sequence[ContractFunction], *, chunk: int = 500) -> list[Any]:
        """Read-only calls sent as JSON-RPC batches of `chunk` (one HTTP request each), their
        results in order; one by one on a chain without batches (the embedded one). For many
        calls of one function, `call_batch` avoids web3's per-call ABI validation as well."""
        if not functions:
            return []
        if self.chain.is_embedded:
            return [self.call(function) for function in functions]
        results: list[Any] = []
        for start in range(0, len(functions), chunk):
            try:
                with self.chain.w3.batch_requests() as batch:
                    for function in functions[start : start + chunk]:
                        batch.add(function)
                    results.extend(batch.execute())
            except Exception as exc:
                raise self._refusal(exc, None) from None
        return results

    def call_batch(
        self, to: str, codec: FunctionCodec, calls: Sequence[Sequence[Any]], *, chunk: int = 500
    ) -> list[Any]:
        """`codec`'s function called read-only on `to` with each argument list in `calls`, sent
        raw as JSON-RPC batches of `chunk` (one HTTP request each, encoded without web3's
        per-call ABI validation); the decoded results in order. One by one on a chain without
        batches (the embedded one)."""
        if not calls:
            return []
        requests = [{"to": to, "data": "0x" + codec.encode(*args).hex()} for args in calls]
        if self.chain.is_embedded:
            try:
                return [self._decoded(codec, self.chain.w3.eth.call(cast(TxParams, request))) for request in requests]
            except Exception as exc:
                raise self._refusal(exc, None) from None
        provider = cast(Any, self.chain.w3.provider)
        results: list[Any] = []
        for start in range(0, len(requests), chunk):
            answers = provider.make_batch_request(
                [(RPCEndpoint("eth_call"), [request, "latest"]) for request in requests[start : start + chunk]]
            )
            if not isinstance(answers, list):
                raise TransactionFailedError(f"the node refused a batch of calls: {str(answers)[:200]}")
            for answer in sorted(answers, key=lambda item: int(item["id"])):
                if "error" in answer:
                    data = answer["error"].get("data")
                    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
                        raise self.decoder.decode(bytes.fromhex(data[2:]))
                    raise TransactionFailedError(f"{codec.name} failed: {answer['error'].get('message')}")
                results.append(self._decoded(codec, bytes.fromhex(answer["result"][2:])))
        return results

    @staticmethod
    def _decoded(codec: FunctionCodec, data: bytes) -> Any:
        values = codec.decode(data)
        return values[0] if len(values) == 1 else values

    def send(
        self,
        signer: Signer,
        function: ContractFunction,
        *,
        value: int = 0,
        on_signed: OnSigned | None = None,
        gas_limit: int | None = None,
    ) -> Receipt:
        """Estimate, sign, send and wait for `function` from `signer`; raise on any refusal.

        `on_signed` receives the signed transaction's hash and nonce before it is broadcast.
        `gas_limit`, for a caller that knows a safe bound (a batch of n calls of known cost),
        replaces the estimate by one eth_call that finds any refusal just the same: a node
        estimates by bisection, running a large batch some twenty times."""
        tx: dict[str, Any] = {"from": signer.address, "value": value, "chainId": self.chain.chain_id}
        tx.update(self._fees())
        try:
            if gas_limit is None:
                tx["gas"] = int(function.estimate_gas(_params(_unpriced(tx))) * self.policy.gas_margin)
            else:
                function.call(_params({**_unpriced(tx), "gas": gas_limit}))
                tx["gas"] = gas_limit
        except Exception as exc:
            raise self._refusal(exc, signer.address) from None
        with self.nonces.lock(signer.address):
            tx["nonce"] = self._node_nonce(signer.address)
            self._require_funds(signer.address, tx)
            built = function.build_transaction(_params(tx))
            tx_hash = self._broadcast(signer, built, on_signed or self.on_signed)
        return self._wait(tx_hash, built)

    def submit(
        self,
        signer: Signer,
        to: str,
        data: bytes,
        *,
        gas_limit: int,
        value: int = 0,
        on_signed: OnSigned | None = None,
        fee_max_age: float = 1.0,
    ) -> PendingTransaction:
        """Check, sign and broadcast a call of `to` with calldata `data`, and return without
        waiting for it: `settle` waits. Several submitted transactions may be in flight; each
        takes the next nonce from the chain's `NonceTracker`.

        The call is run first as an eth_call with `gas_limit` (a refusal raises its decoded error
        and nothing is signed); `on_signed` is told of the signed transaction before it is
        broadcast. A node that refuses the nonce (another program sent from this account) has it
        asked again and the transaction signed once more, `on_signed` told again: the refused one
        was never taken, so it can never be mined. Fees are quoted at most every `fee_max_age`
        seconds (a quote holds for several blocks: its max fee is twice the base fee)."""
        tx: dict[str, Any] = {
            "from": signer.address,
            "to": to_checksum_address(to),
            "data": "0x" + bytes(data).hex(),
            "value": value,
            "chainId": self.chain.chain_id,
            "gas": gas_limit,
        }
        try:
            self.chain.w3.eth.call(_params(_unpriced(tx)))
        except Exception as exc:
            raise self._refusal(exc, signer.address) from None
        tx.update(self._recent_fees(fee_max_age))
        self._require_funds(signer.address, tx)
        notify = on_signed or self.on_signed
        for attempt in (1, 2):
            with self.nonces.lock(signer.address):
                tx["nonce"] = self.nonces.take(signer.address)
                try:
                    tx_hash = self._broadcast(signer, tx, notify)
                except BaseException as exc:
                    self.nonces.done(signer.address)
                    if attempt == 1 and isinstance(exc, TransactionFailedError) and "nonce problem" in str(exc):
                        continue  # the tracker asks the node again; sign with the nonce it gives
                    raise
            return PendingTransaction(
                SentTransaction(_hex(tx_hash), signer.address, int(tx["nonce"]), self.chain.chain_id), dict(tx)
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def settle(self, pending: PendingTransaction) -> Receipt:
        """Wait for a submitted transaction, as `send` does: its receipt, or its decoded refusal.
        Either way the transaction no longer counts as in flight for the nonce tracker (a pending
        one is in the node's pool, so the node's count includes it)."""
        try:
            return self._wait(HexBytes(pending.tx_hash), pending.tx)
        finally:
            self.nonces.done(pending.sent.sender)

    def deploy(self, signer: Signer, constructor: Any, *, on_signed: OnSigned | None = None) -> Receipt:
        """Deploy a contract (web3 ContractConstructor) from `signer`; `on_signed` as for `send`."""
        tx: dict[str, Any] = {"from": signer.address, "chainId": self.chain.chain_id}
        tx.update(self._fees())
        tx["gas"] = self._estimate_deploy(signer.address, constructor)
        with self.nonces.lock(signer.address):
            tx["nonce"] = self._node_nonce(signer.address)
            self._require_funds(signer.address, tx)
            built = constructor.build_transaction(tx)
            tx_hash = self._broadcast(signer, built, on_signed or self.on_signed)
        return self._wait(tx_hash, built)

    def quote_deploy(self, sender: str, constructor: Any) -> GasQuote:
        """Estimate deploying `constructor` from `sender` with this policy's fees; sends nothing."""
        fees = self.fee_quote()
        estimate = self._estimate(sender, constructor)
        return GasQuote(gas_estimate=estimate, gas_limit=int(estimate * self.policy.gas_margin), fees=fees)

    def fee_quote(self) -> FeeQuote:
        """The fees this policy would send a transaction with now."""
        w3 = self.chain.w3
        policy = self.policy
        base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
        if policy.legacy:
            price = policy.max_fee_per_gas if policy.max_fee_per_gas is not None else int(w3.eth.gas_price)
            return FeeQuote(legacy=True, base_fee=base_fee, gas_price=price)
        priority = policy.max_priority_fee_per_gas
        if priority is None:
            try:
                priority = int(w3.eth.max_priority_fee)
            except Exception:  # nodes without eth_maxPriorityFeePerGas
                priority = FALLBACK_PRIORITY_FEE
            if policy.max_fee_per_gas is not None:
                priority = min(priority, policy.max_fee_per_gas)
        # Twice the base fee survives six full blocks of base-fee growth before the tx stalls.
        max_fee = policy.max_fee_per_gas if policy.max_fee_per_gas is not None else 2 * base_fee + priority
        return FeeQuote(legacy=False, base_fee=base_fee, max_fee=max_fee, priority_fee=priority)

    def status(self, sent: SentTransaction) -> TxStatus:
        """Where `sent` (journaled by an earlier run, perhaps of another process) stands now."""
        w3 = self.chain.w3
        receipt = self._receipt(sent.tx_hash)
        if receipt is None:
            try:
                w3.eth.get_transaction(HexBytes(sent.tx_hash))
                return TxStatus.PENDING
            except TransactionNotFound:
                pass
            if w3.eth.get_transaction_count(to_checksum_address(sent.sender), "latest") <= sent.nonce:
                return TxStatus.DROPPED
            receipt = self._receipt(sent.tx_hash)  # mined between the two questions?
            if receipt is None:
                return TxStatus.REPLACED
        return TxStatus.MINED if receipt["status"] == 1 else TxStatus.REVERTED

    def wait_for(self, tx_hash: str) -> Receipt:
        """Wait for a transaction sent earlier (known to the node, or mined) and return its
        receipt; a revert raises its decoded custom error, as for `send`."""
        try:
            tx = self.chain.w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            raise TransactionFailedError(f"transaction {tx_hash} is not known to the node") from None
        replay = {"from": tx["from"], "to": tx.get("to"), "data": tx.get("input"), "value": tx.get("value", 0)}
        return self._wait(HexBytes(tx_hash), {key: value for key, value in replay.items() if value is not None})

    def cancel(self, signer: Signer, nonce: int) -> Receipt:
        """Use up `signer`'s `nonce` with an empty transfer to itself, so that no transaction
        signed earlier with that nonce can ever be mined (fees doubled, to replace one in a pool)."""
        fees = {key: 2 * value for key, value in self._fees().items()}
        tx: dict[str, Any] = {
            "from": signer.address,
            "to": signer.address,
            "value": 0,
            "gas": 21_000,
            "nonce": nonce,
            "chainId": self.chain.chain_id,
            **fees,
        }
        self._require_funds(signer.address, tx)
        with self.nonces.lock(signer.address):
            tx_hash = self._broadcast(signer, tx, None)
        return self._wait(tx_hash, tx)

    # -- internals -------------------------------------------------------------------------

    def _node_nonce(self, address: str) -> int:
        """The next nonce as the node counts it, or past the tracker's transactions in flight
        (a nonce handed out is never reused); the caller holds the tracker's lock."""
        return self.nonces.node_next(address)

    def _broadcast(self, signer: Signer, built: Mapping[str, Any], on_signed: OnSigned | None) -> HexBytes:
        """Sign, tell `on_signed`, broadcast; the caller holds the tracker's lock for the sender.
        The tracker learns the outcome: a nonce sent, refused by the node, or in doubt."""
        raw = signer.sign_transaction(built)
        nonce = int(built["nonce"])
        if on_signed is not None:
            try:
                on_signed(
                    SentTransaction(
                        tx_hash=_hex(keccak(raw)),
                        sender=signer.address,
                        nonce=nonce,
                        chain_id=self.chain.chain_id,
                    )
                )
            except BaseException:  # not broadcast: its nonce is free again
                self.nonces.refused(signer.address)
                raise
        try:
            tx_hash = self.chain.w3.eth.send_raw_transaction(raw)
        except Exception as exc:
            if isinstance(exc, (ValueError, Web3RPCError, ValidationError)):  # the node answered: not taken
                self.nonces.refused(signer.address)
            else:  # no answer: it may have been taken
                self.nonces.uncertain(signer.address, nonce)
            raise self._refusal(exc, signer.address) from None
        self.nonces.sent_with(signer.address, nonce)
        return tx_hash

    def _receipt(self, tx_hash: str) -> Any:
        try:
            return self.chain.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None

    def _fees(self) -> dict[str, int]:
        return self.fee_quote().fields()

    def _recent_fees(self, max_age: float) -> dict[str, int]:
        now = time.monotonic()
        cached = self._fee_cache
        if cached is None or now - cached[0] > max_age:
            cached = self._fee_cache = (now, self._fees())
        return dict(cached[1])

    def _estimate(self, sender: str, constructor: Any) -> int:
        try:
            return int(constructor.estimate_gas(_params({"from": sender, "chainId": self.chain.chain_id})))
        except Exception as exc:
            raise self._refusal(exc, sender) from None

    def _estimate_deploy(self, sender: str, constructor: Any) -> int:
        return int(self._estimate(sender, constructor) * self.policy.gas_margin)

    def _require_funds(self, address: ChecksumAddress, tx: Mapping[str, Any]) -> None:
        per_gas = tx["maxFeePerGas"] if "maxFeePerGas" in tx else tx["gasPrice"]
        needed = tx["gas"] * per_gas + tx.get("value", 0)
        balance = self.chain.w3.eth.get_balance(address)
        if balance < needed:
            raise InsufficientFundsError(
                f"account {address} holds {ether(balance)} but this transaction may cost up to {ether(needed)}; "
                "fund it first"
            )

    def _refusal(self, exc: Exception, sender: str | None) -> Exception:
        """The specific exception for a call or transaction the node or contract refused."""
        if isinstance(exc, ChainError):
            return exc
        data = revert_data_from(exc)
        if data is not None:
            return self.decoder.decode(data)
        return self._node_refusal(exc, sender)

    def _node_refusal(self, exc: Exception, sender: str | None) -> Exception:
        # Web3RPCError: a node's JSON-RPC error; ValidationError: py-evm refusing (the embedded chain).
        if not isinstance(exc, (ValueError, Web3RPCError, ValidationError)):
            return exc  # a bug or an I/O failure, not a refusal: keep its type and traceback
        message = str(exc.args[0]) if exc.args else str(exc)
        lowered = message.lower()
        if "insufficient funds" in lowered or "insufficientfunds" in lowered or "cannot afford" in lowered:
            return InsufficientFundsError(f"account {sender} cannot pay for this transaction: fund it first")
        if "nonce too low" in lowered or "nonce too high" in lowered or ("nonce" in lowered and "gap" in lowered):
            return TransactionFailedError(
                f"nonce problem for {sender} ({message}); another transaction from this account may be pending"
            )
        return TransactionFailedError(f"the node refused the transaction: {message}")

    def _wait(self, tx_hash: HexBytes, tx: Mapping[str, Any]) -> Receipt:
        w3 = self.chain.w3
        try:
            receipt = self._poll_receipt(tx_hash)
        except TimeExhausted:
            try:
                w3.eth.get_transaction(tx_hash)
            except TransactionNotFound:
                raise TransactionFailedError(
                    f"transaction {_hex(tx_hash)} was dropped by the node; it was not mined, send it again"
                ) from None
            raise TransactionFailedError(
                f"transaction {_hex(tx_hash)} is still pending after {self.policy.receipt_timeout:.0f} s; "
                "it may be mined later (raise the fee or wait)"
            ) from None
        if receipt["status"] != 1:
            raise self._replayed_failure(tx, receipt)
        self._await_confirmations(receipt["blockNumber"])
        return Receipt(
            tx_hash=_hex(tx_hash),
            block_number=receipt["blockNumber"],
            gas_used=receipt["gasUsed"],
            raw=receipt,
        )

    def _poll_receipt(self, tx_hash: HexBytes) -> Any:
        """The receipt, polled with a pause that starts at a few milliseconds and doubles: a
        devnet mines at once and a live chain takes seconds, and neither should pay a fixed
        100 ms poll (web3's wait_for_transaction_receipt sleeps a constant interval)."""
        deadline = time.monotonic() + self.policy.receipt_timeout
        pause = min(self.policy.first_poll, self.policy.poll_interval)
        while True:
            try:
                return self.chain.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeExhausted(f"no receipt for {_hex(tx_hash)} in {self.policy.receipt_timeout} s")
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, self.policy.poll_interval)

    def _replayed_failure(self, tx: Mapping[str, Any], receipt: Any) -> Exception:
        """Re-run a reverted transaction as a call at its block to learn the reason."""
        call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
        try:
            self.chain.w3.eth.call(_params(call), receipt["blockNumber"] - 1)
        except Exception as exc:
            return self._refusal(exc, tx.get("from"))
        return TransactionFailedError(f"transaction {_hex(receipt['transactionHash'])} reverted")

    def _await_confirmations(self, block_number: int) -> None:
        if self.policy.confirmations <= 1:
            return
        deadline = time.monotonic() + self.policy.receipt_timeout
        while self.chain.w3.eth.block_number - block_number + 1 < self.policy.confirmations:
            if time.monotonic() > deadline:
                raise TransactionFailedError(
                    f"block {block_number} did not reach {self.policy.confirmations} confirmations in time"
                )
            time.sleep(self.policy.poll_interval)


def _unpriced(tx: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in tx.items() if key not in _FEE_FIELDS}


def _params(tx: Mapping[str, Any]) -> TxParams:
    """`tx` as web3's TxParams: this module builds transactions field by field in a plain dict
    (camelCase keys, as the JSON-RPC API names them) and hands them to web3 only here."""
    return cast(TxParams, dict(tx))


def _hex(value: bytes) -> str:
    """0x-prefixed hex (HexBytes.hex() dropped the prefix in hexbytes 1.0)."""
    return "0x" + bytes(value).hex()
