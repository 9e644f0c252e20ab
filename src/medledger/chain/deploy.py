"""Deploy the suite and keep a record of it in deployments/<chainId>.json.

Deployment is resumable: when the file names a contract whose code is on chain and matches the
shipped artifact, it is reused instead of deployed twice.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from eth_utils import to_checksum_address

from medledger.chain.accounts import Signer
from medledger.chain.artifacts import Artifact, load_artifact
from medledger.chain.connection import Chain
from medledger.chain.errors import DeploymentCodeMissingError, DeploymentError
from medledger.chain.reverts import RevertDecoder
from medledger.chain.transactions import TransactionSender, TxPolicy

LEDGER_CONTRACT = "MedLedger"


@dataclass(frozen=True)
class EmergencyPolicy:
    """Break-glass settings fixed at deployment (they can never be widened afterwards)."""

    window_seconds: int = 24 * 3600
    provider_kinds: int = (1 << 1) | (1 << 2)  # clinicians and organisations
    default_categories: int = (1 << 3) | (1 << 4) | (1 << 12)  # medications, allergies, emergency summary

    def __post_init__(self) -> None:
        if not 0 < self.window_seconds < 2**32:
            raise DeploymentError("the break-glass window must be between 1 second and 136 years")
        if not 0 <= self.provider_kinds < 2**8 or self.provider_kinds & 1:
            raise DeploymentError("break-glass provider kinds are a bitmask of ProviderKind values 1..5")
        if not 0 < self.default_categories < 2**64:
            raise DeploymentError("break-glass default categories must be a non-empty 64-bit mask")


@dataclass(frozen=True)
class DeployedContract:
    address: str
    tx_hash: str
    block: int
    artifact_digest: str
    compiler: str
    gas_used: int


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    deployer: str
    admin: str
    contracts: dict[str, DeployedContract]

    @property
    def ledger_address(self) -> str:
        return self.contracts[LEDGER_CONTRACT].address

    def to_json(self) -> dict:
        return {
            "chainId": self.chain_id,
            "deployer": self.deployer,
            "admin": self.admin,
            "contracts": {name: asdict(entry) for name, entry in self.contracts.items()},
        }

    @classmethod
    def from_json(cls, data: dict) -> Deployment:
        try:
            deployment = cls(
                chain_id=int(data["chainId"]),
                deployer=data["deployer"],
                admin=data["admin"],
                contracts={name: DeployedContract(**entry) for name, entry in data["contracts"].items()},
            )
            to_checksum_address(deployment.ledger_address)  # present, and an address
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DeploymentError(f"malformed deployment record: {exc}") from exc
        return deployment


def deployment_path(directory: str | Path, chain_id: int) -> Path:
    return Path(directory) / f"{chain_id}.json"


def load_deployment(directory: str | Path, chain: Chain) -> Deployment:
    """The deployment recorded for the chain `chain` is on, checked against the chain itself."""
    path = deployment_path(directory, chain.chain_id)
    if not path.exists():
        raise DeploymentError(f"no deployment for chain {chain.chain_id} in {directory}; run `medledger deploy` first")
    try:
        deployment = Deployment.from_json(json.loads(path.read_text()))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DeploymentError(f"{path} is not valid JSON") from exc
    if deployment.chain_id != chain.chain_id:
        raise DeploymentError(f"{path} records chain {deployment.chain_id}, but the endpoint serves chain {chain.chain_id}")
    address = deployment.ledger_address
    if not chain.w3.eth.get_code(to_checksum_address(address)):
        raise DeploymentCodeMissingError(
            f"no contract code at {address} on chain {chain.chain_id}; the chain was reset, deploy again")
    return deployment


def save_deployment(directory: str | Path, deployment: Deployment) -> Path:
    """Write atomically, so a crash never leaves half a deployment record."""
    path = deployment_path(directory, deployment.chain_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(deployment.to_json(), handle, indent=2)
        handle.write("\n")
    os.chmod(tmp, 0o644)  # a public record (mkstemp creates 0600)
    os.replace(tmp, path)
    return path


def deploy(
    chain: Chain,
    deployer: Signer,
    *,
    admin: str | None = None,
    directory: str | Path | None = None,
    policy: TxPolicy | None = None,
    emergency: EmergencyPolicy | None = None,
) -> Deployment:
    """Deploy MedLedger (or resume: reuse a recorded deployment of the same artifact)."""
    artifact = load_artifact(LEDGER_CONTRACT)
    admin = to_checksum_address(admin or deployer.address)
    if directory is not None and deployment_path(directory, chain.chain_id).exists():
        existing = _reusable(directory, chain, artifact)
        if existing is not None:
            if existing.admin != admin:
                raise DeploymentError(
                    f"chain {chain.chain_id} already has a deployment administered by {existing.admin}, not {admin}; "
                    f"move {deployment_path(directory, chain.chain_id)} aside to deploy anew")
            return existing
    contract = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    sender = TransactionSender(chain, RevertDecoder(artifact.abi), policy)
    emergency = emergency or EmergencyPolicy()
    receipt = sender.deploy(deployer, contract.constructor(
        admin, emergency.window_seconds, emergency.provider_kinds, emergency.default_categories))
    address = receipt.raw["contractAddress"]
    deployment = Deployment(
        chain_id=chain.chain_id,
        deployer=deployer.address,
        admin=admin,
        contracts={
            LEDGER_CONTRACT: DeployedContract(
                address=address,
                tx_hash=receipt.tx_hash,
                block=receipt.block_number,
                artifact_digest=artifact.digest,
                compiler=artifact.compiler,
                gas_used=receipt.gas_used,
            )
        },
    )
    if directory is not None:
        save_deployment(directory, deployment)
    return deployment


def _reusable(directory: str | Path, chain: Chain, artifact: Artifact) -> Deployment | None:
    try:
        deployment = load_deployment(directory, chain)
    except DeploymentCodeMissingError:
        return None  # the chain was reset: deploy afresh and overwrite the record
    if deployment.contracts[LEDGER_CONTRACT].artifact_digest != artifact.digest:
        raise DeploymentError(
            f"chain {chain.chain_id} has a deployment of another build of {LEDGER_CONTRACT} "
            f"at {deployment.ledger_address}; move {deployment_path(directory, chain.chain_id)} aside to deploy anew"
        )
    code = bytes(chain.w3.eth.get_code(to_checksum_address(deployment.ledger_address)))
    if not _same_build(code, bytes.fromhex(artifact.deployed_bytecode.removeprefix("0x"))):
        raise DeploymentError(
            f"the code at {deployment.ledger_address} on chain {chain.chain_id} is not the {LEDGER_CONTRACT} "
            f"recorded in {deployment_path(directory, chain.chain_id)} (was the chain reset and reused?); "
            "move that file aside to deploy anew"
        )
    return deployment


def _same_build(code: bytes, expected: bytes) -> bool:
    """Whether on-chain runtime `code` is the artifact's: same length and the same trailing CBOR
    metadata (which hashes the sources and settings). Immutables, written at deployment, are the
    only other bytes that may differ."""
    if len(code) != len(expected) or len(expected) < 2:
        return code == expected
    metadata = int.from_bytes(expected[-2:], "big") + 2
    return metadata <= len(expected) and code[-metadata:] == expected[-metadata:]
