"""Fixtures for the signed-consent, guardian, break-glass and access-log tests: chain time, two
extra accounts, the cast binary and the ERC-1271 test wallet. (Session fixtures live in
tests/conftest.py; nothing here shadows them.)"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from pathlib import Path

import pytest
from web3.contract import Contract

from medledger.chain.accounts import Signer, anvil_account
from medledger.chain.artifacts import load_artifact
from medledger.chain.connection import Chain
from medledger.chain.reverts import RevertDecoder
from medledger.chain.transactions import TransactionSender

ROOT = Path(__file__).resolve().parents[2]
WALLET_ARTIFACT = ROOT / "tests" / "artifacts" / "MockERC1271Wallet.json"


@dataclass(frozen=True)
class Clock:
    """Block time on the test chain (anvil): read it, move it forward, or mine at an exact time."""

    chain: Chain

    def now(self) -> int:
        return self.chain.now()

    def warp(self, seconds: int) -> None:
        self.chain.increase_time(int(seconds))

    def mine_at(self, timestamp: int) -> None:
        """Mine one block whose timestamp is exactly `timestamp` (later than the latest block)."""
        self.chain.w3.provider.make_request("evm_setNextBlockTimestamp", [int(timestamp)])
        self.chain.w3.provider.make_request("evm_mine", [])
        assert self.now() == timestamp

    def next_block_at(self, timestamp: int) -> None:
        """The next transaction's block will carry exactly `timestamp`."""
        self.chain.w3.provider.make_request("evm_setNextBlockTimestamp", [int(timestamp)])


@pytest.fixture
def clock(world) -> Clock:
    return Clock(world.chain)


@pytest.fixture(scope="session")
def guardian() -> Signer:
    """A funded account with no role: the patient's guardian in these tests."""
    return anvil_account(8)


@pytest.fixture(scope="session")
def second_guardian() -> Signer:
    """Another funded account with no role."""
    return anvil_account(9)


@pytest.fixture(scope="session")
def cast_binary() -> Path:
    """Foundry's cast from node_modules: an EIP-712 implementation independent of eth-account."""
    machine = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), platform.machine())
    path = ROOT / "node_modules" / "@foundry-rs" / f"cast-linux-{machine}" / "bin" / "cast"
    assert path.is_file(), f"{path} is missing: run `npm ci` (package.json pins @foundry-rs/cast)"
    return path


class WalletFactory:
    """Deploys MockERC1271Wallet (tests/artifacts): a contract wallet that accepts its owner's signatures."""

    def __init__(self, chain: Chain):
        self.chain = chain
        artifact = json.loads(WALLET_ARTIFACT.read_text())
        self.abi = artifact["abi"]
        self.bytecode = artifact["bytecode"]
        # Revert data from calls the wallet relays comes from MedLedger: decode both ABIs.
        self.sender = TransactionSender(chain, RevertDecoder(self.abi + load_artifact("MedLedger").abi))

    def deploy(self, owner: Signer, deployer: Signer) -> Contract:
        factory = self.chain.w3.eth.contract(abi=self.abi, bytecode=self.bytecode)
        receipt = self.sender.deploy(deployer, factory.constructor(owner.address))
        return self.chain.w3.eth.contract(address=receipt.raw["contractAddress"], abi=self.abi)

    def execute(self, wallet: Contract, owner: Signer, target: str, data: bytes):
        """The wallet calls `target` with `data`, on its owner's instruction."""
        return self.sender.send(owner, wallet.functions.execute(target, data))


@pytest.fixture
def wallets(world) -> WalletFactory:
    return WalletFactory(world.chain)
