"""The MedLedger facade: one deployed contract, one client per module, one signer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_utils import to_checksum_address

from medledger.chain.accounts import Signer
from medledger.chain.artifacts import load_artifact
from medledger.chain.connection import Chain
from medledger.chain.deploy import LEDGER_CONTRACT, Deployment
from medledger.chain.reverts import RevertDecoder
from medledger.chain.transactions import Receipt, TransactionSender, TxPolicy
from medledger.ledger.base import NoSignerError
from medledger.ledger.consent import ConsentClient
from medledger.ledger.emergency import EmergencyClient
from medledger.ledger.guardians import GuardiansClient
from medledger.ledger.keys import KeysClient
from medledger.ledger.providers import ProvidersClient
from medledger.ledger.records import RecordsClient
from medledger.ledger.services import KeyReleaseServices
from medledger.ledger.signatures import SignedConsentClient
from medledger.ledger.streams import StreamAnchors


class MedLedger:
    """Typed access to a deployed MedLedger contract.

    >>> ledger = MedLedger(chain, deployment.ledger_address, signer=patient)
    >>> ledger.consent.grant(clinic, categories=..., purposes=..., permissions=1, expiry=timedelta(days=30))
    """

    def __init__(self, chain: Chain, address: str, *, signer: Signer | None = None, policy: TxPolicy | None = None):
        artifact = load_artifact(LEDGER_CONTRACT)
        self.chain = chain
        self.address = to_checksum_address(address)
        self.signer = signer
        self.policy = policy
        self.contract = chain.w3.eth.contract(address=self.address, abi=artifact.abi)
        self.sender = TransactionSender(chain, RevertDecoder(artifact.abi), policy)
        self.providers = ProvidersClient(self.contract, self.sender, signer)
        self.keys = KeysClient(self.contract, self.sender, signer)
        self.consent = ConsentClient(self.contract, self.sender, signer)
        self.records = RecordsClient(self.contract, self.sender, signer)
        self.guardians = GuardiansClient(self.contract, self.sender, signer)
        self.emergency = EmergencyClient(self.contract, self.sender, signer)
        self.signed = SignedConsentClient(self.contract, self.sender, signer)
        self._services: KeyReleaseServices | None = None
        self._streams: StreamAnchors | None = None

    @property
    def services(self) -> KeyReleaseServices:
        """The key-release service-set module (its own contract, found through the ledger)."""
        if self._services is None:
            self._services = KeyReleaseServices.for_ledger(self.contract, self.sender, self.signer)
        return self._services

    @property
    def streams(self) -> StreamAnchors:
        """The device-stream anchor module (its own contract, found through the ledger)."""
        if self._streams is None:
            self._streams = StreamAnchors.for_ledger(self.contract, self.sender, self.signer)
        return self._streams

    @classmethod
    def from_deployment(
        cls, chain: Chain, deployment: Deployment, *, signer: Signer | None = None, policy: TxPolicy | None = None
    ) -> MedLedger:
        chain.require_chain_id(deployment.chain_id)
        return cls(chain, deployment.ledger_address, signer=signer, policy=policy)

    def as_signer(self, signer: Signer) -> MedLedger:
        """The same contract, sending as `signer`."""
        return MedLedger(self.chain, self.address, signer=signer, policy=self.policy)

    def multicall(self, calls: Sequence[Any]) -> Receipt:
        """Send several of the signer's calls atomically (e.g. a revocation and a re-grant)."""
        if self.signer is None:
            raise NoSignerError("multicall needs a signer")
        data = [self.contract.encode_abi(call.abi_element_identifier.split("(")[0], args=call.args) for call in calls]
        return self.sender.send(self.signer, self.contract.functions.multicall(data))

    def events(self, name: str, *, from_block: int = 0, to_block: int | str = "latest", **filters: Any) -> list[Any]:
        """Decoded logs of event `name`, filtered on indexed arguments."""
        event = getattr(self.contract.events, name)
        return list(event.get_logs(from_block=from_block, to_block=to_block, argument_filters=filters or None))
