"""Client for the device-stream anchor module.

MedLedger deploys the module as its own contract (`MedLedger.streamAnchors()`), so this client
talks to that address, with that contract's ABI. Providers credential devices and gateways;
a gateway anchors windows (one Merkle root per patient and window, many patients per transaction),
each registered as a record of the patient authored by the provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address
from web3.contract import Contract
from web3.logs import DISCARD

from medledger.chain.accounts import Signer
from medledger.chain.artifacts import load_artifact
from medledger.chain.reverts import RevertDecoder
from medledger.chain.transactions import OnSigned, Receipt, TransactionSender
from medledger.ledger.base import InvalidArgumentError, ModuleClient, checked_address
from medledger.ledger.records import SUPPORTED_CODECS
from medledger.scopes import CATEGORY_COUNT

STREAMS_CONTRACT = "StreamAnchors"
ZERO_ADDRESS = "0x" + "00" * 20
SKIP_REASONS = {1: "no write consent", 2: "record exists"}


@dataclass(frozen=True)
class Window:
    """One patient's readings of one category over [start, end) seconds, as anchored on chain."""

    patient: str
    category: int
    start: int
    end: int
    root: bytes
    digest: bytes
    codec: int
    count: int

    def as_tuple(self) -> tuple[str, int, int, int, bytes, bytes, int, int]:
        return (self.patient, self.category, self.start, self.end, self.root, self.digest, self.codec, self.count)

    def check(self) -> Window:
        checked_address(self.patient, "patient")
        if not 0 <= self.category < CATEGORY_COUNT:
            raise InvalidArgumentError(f"category {self.category} is out of range 0..{CATEGORY_COUNT - 1}")
        if not 0 <= self.start < self.end < 2**40:
            raise InvalidArgumentError(f"window [{self.start}, {self.end}) is empty or out of range")
        if len(self.root) != 32 or not any(self.root) or len(self.digest) != 32 or not any(self.digest):
            raise InvalidArgumentError("a window's root and digest are non-zero 32-byte values")
        if self.codec not in SUPPORTED_CODECS:
            raise InvalidArgumentError(f"codec {self.codec:#x} is not raw (0x55) or dag-pb (0x70)")
        if not 0 < self.count < 2**32:
            raise InvalidArgumentError(f"a window holds 1..2**32-1 readings, not {self.count}")
        return self


@dataclass(frozen=True)
class AnchorOutcome:
    """What one `anchor` transaction did: the windows it anchored (by id) and those it skipped."""

    receipt: Receipt
    anchored: dict[tuple[str, int, int], bytes]  # (patient, category, start) -> windowId
    skipped: dict[tuple[str, int, int], str]  # (patient, category, start) -> reason


def window_id(gateway: str, window: Window) -> bytes:
    """keccak256(abi.encode(gateway, window)), as the contract computes it."""
    from eth_abi import encode
    from eth_utils import keccak

    return keccak(
        encode(
            ["address", "(address,uint8,uint40,uint40,bytes32,bytes32,uint32,uint32)"],
            [gateway, window.as_tuple()],
        )
    )


class StreamAnchors(ModuleClient):
    """Register devices and gateways, anchor windows, and verify readings against anchored roots."""

    @classmethod
    def for_ledger(cls, ledger_contract: Contract, sender: TransactionSender, signer: Signer | None) -> StreamAnchors:
        """The module of the MedLedger at `ledger_contract` (its address is read from the ledger)."""
        artifact = load_artifact(STREAMS_CONTRACT)
        address = sender.call(ledger_contract.functions.streamAnchors())
        contract = ledger_contract.w3.eth.contract(address=to_checksum_address(address), abi=artifact.abi)
        # Reverts may come from either contract (records are registered by the ledger).
        decoder = RevertDecoder(artifact.abi + list(ledger_contract.abi))
        return cls(contract, TransactionSender(sender.chain, decoder, sender.policy), signer)

    @property
    def address(self) -> str:
        return str(self.contract.address)

    # -- providers --------------------------------------------------------------------------

    def register_device(self, device: str) -> Receipt:
        """An active provider credentials one of its devices (for good)."""
        return self._send(self.functions.registerDevice(checked_address(device, "device")))

    def retire_device(self, device: str) -> Receipt:
        """The device's provider retires it for good."""
        return self._send(self.functions.retireDevice(checked_address(device, "device")))

    def authorize_gateway(self, gateway: str) -> Receipt:
        return self._send(self.functions.authorizeGateway(checked_address(gateway, "gateway")))

    def revoke_gateway(self, gateway: str) -> Receipt:
        return self._send(self.functions.revokeGateway(checked_address(gateway, "gateway")))

    # -- gateways ---------------------------------------------------------------------------

    def anchor_function(self, windows: Sequence[Window]) -> Any:
        if not windows:
            raise InvalidArgumentError("a batch anchors at least one window")
        return self.functions.anchor([window.check().as_tuple() for window in windows])

    def anchor(self, windows: Sequence[Window], *, on_signed: OnSigned | None = None) -> AnchorOutcome:
        """Anchor `windows` in one transaction; which were anchored and which skipped (consent)."""
        receipt = self._send(self.anchor_function(windows), on_signed=on_signed)
        anchored: dict[tuple[str, int, int], bytes] = {}
        skipped: dict[tuple[str, int, int], str] = {}
        for event in self.contract.events.WindowAnchored().process_receipt(receipt.raw, errors=DISCARD):
            args = event["args"]
            key = (to_checksum_address(args["patient"]), int(args["category"]), int(args["windowStart"]))
            anchored[key] = bytes(args["windowId"])
        for event in self.contract.events.WindowSkipped().process_receipt(receipt.raw, errors=DISCARD):
            args = event["args"]
            key = (to_checksum_address(args["patient"]), int(args["category"]), int(args["windowStart"]))
            skipped[key] = SKIP_REASONS.get(int(args["reason"]), str(args["reason"]))
        return AnchorOutcome(receipt, anchored, skipped)

    # -- reads ------------------------------------------------------------------------------

    def window_root(self, window_id: bytes) -> bytes | None:
        root = bytes(self._call(self.functions.windowRoot(bytes(window_id))))
        return root if any(root) else None

    def stream_end(self, patient: str, gateway: str, category: int) -> int:
        return int(self._call(self.functions.streamEnd(checked_address(patient), checked_address(gateway), category)))

    def device_provider(self, device: str) -> str | None:
        """The provider `device` sends for now (registered, not retired, provider active), else None."""
        provider = str(self._call(self.functions.activeDeviceProvider(checked_address(device, "device"))))
        return None if int(provider, 16) == 0 else to_checksum_address(provider)

    def device_providers(self, devices: Sequence[str]) -> list[str | None]:
        """`device_provider` of many devices, in JSON-RPC batches."""
        answers = self.sender.call_many(
            [self.functions.activeDeviceProvider(checked_address(d, "device")) for d in devices]
        )
        return [None if int(str(a), 16) == 0 else to_checksum_address(a) for a in answers]

    def device_entry(self, device: str) -> tuple[str | None, bool]:
        """(provider, retired) as registered, whatever the provider's status."""
        provider, retired = self._call(self.functions.deviceOf(checked_address(device, "device")))
        return (None if int(provider, 16) == 0 else to_checksum_address(provider)), bool(retired)

    def gateway_provider(self, gateway: str, *, active_only: bool = True) -> str | None:
        function = self.functions.activeGatewayProvider if active_only else self.functions.gatewayProvider
        provider = str(self._call(function(checked_address(gateway, "gateway"))))
        return None if int(provider, 16) == 0 else to_checksum_address(provider)

    def verify_reading_function(
        self, window_id: bytes, device: str, sequence: int, timestamp: int, reading_hash: bytes, proof: Sequence[bytes]
    ) -> Any:
        return self.functions.verifyReading(
            bytes(window_id), checked_address(device, "device"), sequence, timestamp, reading_hash, list(proof)
        )

    def verify_reading(
        self, window_id: bytes, device: str, sequence: int, timestamp: int, reading_hash: bytes, proof: Sequence[bytes]
    ) -> bool:
        """The on-chain view: whether the reading is in anchored window `window_id`."""
        return bool(
            self._call(self.verify_reading_function(window_id, device, sequence, timestamp, reading_hash, proof))
        )

    def events(self, name: str, *, from_block: int = 0, to_block: int | str = "latest", **filters: Any) -> list[Any]:
        event = getattr(self.contract.events, name)
        return list(event.get_logs(from_block=from_block, to_block=to_block, argument_filters=filters or None))
