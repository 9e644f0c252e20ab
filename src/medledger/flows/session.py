"""A Session: one account acting on one deployment with one blob store."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from medledger.chain.accounts import Signer
from medledger.chain.deploy import LEDGER_CONTRACT, Deployment
from medledger.crypto import ContainerBinding, EncryptionKeyPair, derive_encryption_keypair
from medledger.ledger import MedLedger
from medledger.storage import BlobStore


@dataclass
class Session:
    """Everything a flow needs: the ledger (bound to the signer), the store, the account's
    encryption key pair (derived from its Ethereum key: one secret to back up), where event
    scans start, and the local state directory (publish journal, staging)."""

    ledger: MedLedger
    store: BlobStore
    home: Path
    from_block: int = 0
    keypair: EncryptionKeyPair = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.ledger.signer is None:
            raise ValueError("a Session needs a ledger bound to a signer")
        self.keypair = derive_encryption_keypair(self.ledger.signer.private_key_bytes())
        self.home = Path(self.home)

    @classmethod
    def open(cls, ledger: MedLedger, store: BlobStore, home: Path, deployment: Deployment | None = None) -> Session:
        start = deployment.contracts[LEDGER_CONTRACT].block if deployment else 0
        return cls(ledger=ledger, store=store, home=home, from_block=start)

    @property
    def signer(self) -> Signer:
        assert self.ledger.signer is not None
        return self.ledger.signer

    @property
    def address(self) -> str:
        return self.signer.address

    def as_account(self, signer: Signer) -> Session:
        """The same deployment, store and home, acting as `signer`."""
        return Session(
            ledger=self.ledger.as_signer(signer), store=self.store, home=self.home, from_block=self.from_block
        )

    def binding(self, patient: str, category: int, *, author: str) -> ContainerBinding:
        """What every record container is bound to: this chain, this contract, the patient, the
        category, and the record's author (the account that registers it on chain; the
        key-release services compare it with the record's on-chain author)."""
        return ContainerBinding(
            chain_id=self.ledger.chain.chain_id,
            registry=bytes.fromhex(self.ledger.address[2:]),
            patient=bytes.fromhex(patient[2:]),
            category=int(category),
            author=bytes.fromhex(author[2:]),
        )
