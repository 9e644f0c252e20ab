"""Connections to a chain: any RPC URL, or an in-process chain (py-evm) as the embedded default."""

from __future__ import annotations

from dataclasses import dataclass

from web3 import EthereumTesterProvider, Web3
from web3.providers.rpc import HTTPProvider
from web3.types import RPCEndpoint, Wei

from medledger.chain.accounts import Signer
from medledger.chain.errors import ConnectionFailedError, WrongChainError

EMBEDDED = "embedded"


@dataclass
class Chain:
    """A live connection and what it is connected to."""

    w3: Web3
    endpoint: str  # an RPC URL, or "embedded"
    _chain_id: int | None = None

    @property
    def chain_id(self) -> int:
        """Asked once: an endpoint does not change chains under a live connection."""
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    @property
    def is_embedded(self) -> bool:
        return self.endpoint == EMBEDDED

    def now(self) -> int:
        """Chain time: the latest block's timestamp, in unix seconds.

        Contracts judge expiries, deadlines and break-glass windows by block time, not by this
        machine's clock, so every "is it still valid" question asked off chain uses this.
        """
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def require_chain_id(self, expected: int) -> None:
        actual = self.chain_id
        if actual != expected:
            raise WrongChainError(f"{self.endpoint} serves chain {actual}, expected chain {expected}")

    def fund(self, recipient: str, wei: int) -> None:
        """Embedded chain only: pay `wei` from the tester's pre-funded account to `recipient`."""
        if not self.is_embedded:
            raise WrongChainError("funding from a faucet account is only possible on the embedded chain")
        sender = self.w3.eth.accounts[0]
        tx_hash = self.w3.eth.send_transaction({"from": sender, "to": recipient, "value": Wei(wei)})
        self.w3.eth.wait_for_transaction_receipt(tx_hash)

    def increase_time(self, seconds: int) -> None:
        """Development chains only: move block time forward and mine a block."""
        provider = self.w3.provider
        tester = provider.ethereum_tester if isinstance(provider, EthereumTesterProvider) else None
        if tester is not None:  # the embedded chain
            tester.time_travel(self.now() + seconds)
            tester.mine_blocks(1)
        else:
            self.w3.provider.make_request(RPCEndpoint("evm_increaseTime"), [seconds])
            self.w3.provider.make_request(RPCEndpoint("evm_mine"), [])


def connect(endpoint: str = EMBEDDED, *, timeout: float = 30.0) -> Chain:
    """Connect to `endpoint`: an http(s) RPC URL, or "embedded" for a fresh in-process chain."""
    if endpoint == EMBEDDED:
        from medledger.chain.embedded import speed_up

        speed_up()  # transactions found by index, not by a walk back from the head
        return Chain(Web3(EthereumTesterProvider()), EMBEDDED)
    if not endpoint.startswith(("http://", "https://")):
        raise ConnectionFailedError(f"{endpoint!r} is not an http(s) RPC URL or 'embedded'")
    # Only eth_chainId is cached: web3's validation asks it before every call, and a live
    # endpoint never changes chains (require_chain_id guards the one that matters).
    w3 = Web3(
        HTTPProvider(
            endpoint,
            request_kwargs={"timeout": timeout},
            cache_allowed_requests=True,
            cacheable_requests={RPCEndpoint("eth_chainId")},
        )
    )
    try:
        _ = w3.eth.chain_id  # the first request: does anything answer?
    except Exception as exc:  # requests/aiohttp raise many types; all mean "no answer"
        raise ConnectionFailedError(
            f"the RPC endpoint {endpoint} does not answer: check the URL or start the node"
        ) from exc
    return Chain(w3, endpoint)


def fund_signers(chain: Chain, signers: list[Signer], wei: int = 10**20) -> None:
    """Embedded chain: give each signer ether to pay gas."""
    for signer in signers:
        chain.fund(signer.address, wei)
