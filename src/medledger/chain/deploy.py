"""Deploy the suite and keep a record of it in deployments/<chainId>.json.

Deployment is resumable: when the file names a contract whose code is on chain and matches the
shipped artifact, it is reused instead of deployed twice. The deployment transaction is written to
deployments/<chainId>.pending.json after signing and before broadcasting, so a run interrupted
while waiting for the receipt is finished by the next run: it waits for that transaction instead
of sending another, sends again only if the node never saw it (unknown, and the account's nonce
unused), and refuses if that nonce went to another transaction.

Modules that live in their own contract beside the ledger (claims, studies) are deployed later by
`deploy_module` and added to the same record, with their constructor arguments, under the same
resumption rules (their pending file is deployments/<chainId>.<Contract>.pending.json).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from medledger.chain.accounts import Signer
from medledger.chain.artifacts import Artifact, load_artifact
from medledger.chain.connection import Chain
from medledger.chain.errors import DeploymentCodeMissingError, DeploymentError
from medledger.chain.reverts import RevertDecoder
from medledger.chain.transactions import (
    GasQuote,
    OnSigned,
    Receipt,
    SentTransaction,
    TransactionSender,
    TxPolicy,
    TxStatus,
)

LEDGER_CONTRACT = "MedLedger"

log = logging.getLogger(__name__)


DAY = 24 * 3600
YEAR = 365 * DAY


@dataclass(frozen=True)
class EmergencyPolicy:
    """Break-glass settings fixed at deployment (they can never be widened afterwards). The
    bounds are the contract's: a window of 1 s .. 7 days, a cool-down of 1 s .. 30 days."""

    window_seconds: int = DAY
    provider_kinds: int = (1 << 1) | (1 << 2)  # clinicians and organisations
    default_categories: int = (1 << 3) | (1 << 4) | (1 << 12)  # medications, allergies, emergency summary
    cooldown_seconds: int = 3600  # after a patient's or guardian's close, before the provider may break glass again

    def __post_init__(self) -> None:
        if not 0 < self.window_seconds <= 7 * DAY:
            raise DeploymentError("the break-glass window must be between 1 second and 7 days")
        if not 0 < self.cooldown_seconds <= 30 * DAY:
            raise DeploymentError("the break-glass cool-down must be between 1 second and 30 days")
        if not 0 <= self.provider_kinds < 2**8 or self.provider_kinds & ~0x3E:
            raise DeploymentError("break-glass provider kinds are a bitmask of ProviderKind values 1..5")
        if not 0 < self.default_categories < 2**64:
            raise DeploymentError("break-glass default categories must be a non-empty 64-bit mask")


@dataclass(frozen=True)
class LedgerSettings:
    """Every MedLedger constructor parameter besides the admin, checked as the contract checks them.

    `admin_delay_seconds` is how long an admin transfer, and a key-release service-set change,
    waits (1 s .. 30 days); consents may run at most `max_consent_seconds` from their grant, and
    guardianships at most `max_guardian_term_seconds` (no guardianship is unlimited)."""

    admin_delay_seconds: int = 2 * DAY
    emergency: EmergencyPolicy = EmergencyPolicy()
    max_consent_seconds: int = 5 * YEAR
    max_guardian_term_seconds: int = 21 * YEAR

    def __post_init__(self) -> None:
        if not 0 < self.admin_delay_seconds <= 30 * DAY:
            raise DeploymentError("the admin delay must be between 1 second and 30 days")
        if not isinstance(self.emergency, EmergencyPolicy):
            raise DeploymentError("emergency settings must be an EmergencyPolicy")
        if not 0 < self.max_consent_seconds < 2**40:
            raise DeploymentError("the maximum consent duration must be positive (and below 2**40 seconds)")
        if not 0 < self.max_guardian_term_seconds < 2**40:
            raise DeploymentError("the maximum guardian term must be positive (and below 2**40 seconds)")

    def constructor_settings(self) -> tuple[int, int, int, int, int, int, int]:
        """The contract's `Settings` tuple, in its field order."""
        e = self.emergency
        return (
            self.admin_delay_seconds,
            e.window_seconds,
            e.cooldown_seconds,
            e.provider_kinds,
            e.default_categories,
            self.max_consent_seconds,
            self.max_guardian_term_seconds,
        )


@dataclass(frozen=True)
class DeployedContract:
    address: str
    tx_hash: str
    block: int
    artifact_digest: str
    compiler: str
    gas_used: int
    # A module's constructor arguments as deployed (JSON values), compared when a run is repeated.
    arguments: list[Any] | None = None


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    deployer: str
    admin: str
    contracts: dict[str, DeployedContract]

    @property
    def ledger_address(self) -> str:
        return self.contracts[LEDGER_CONTRACT].address

    def module(self, name: str) -> DeployedContract:
        """The module contract `name` deployed beside the ledger (see `deploy_module`)."""
        try:
            return self.contracts[name]
        except KeyError:
            raise DeploymentError(
                f"the deployment on chain {self.chain_id} has no {name} contract; deploy it first "
                f"(`medledger deploy {name.lower()}`)"
            ) from None

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "deployer": self.deployer,
            "admin": self.admin,
            "contracts": {
                name: {key: value for key, value in asdict(entry).items() if value is not None}
                for name, entry in self.contracts.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployment:
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


@dataclass(frozen=True)
class PendingDeployment:
    """A deployment transaction signed (and perhaps broadcast) but not yet seen mined."""

    chain_id: int
    tx_hash: str
    nonce: int
    deployer: str
    admin: str
    artifact_digest: str
    arguments: list[Any] | None = None  # a module's constructor arguments (see deploy_module)

    @property
    def sent(self) -> SentTransaction:
        return SentTransaction(tx_hash=self.tx_hash, sender=self.deployer, nonce=self.nonce, chain_id=self.chain_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "txHash": self.tx_hash,
            "nonce": self.nonce,
            "deployer": self.deployer,
            "admin": self.admin,
            "artifactDigest": self.artifact_digest,
            **({"arguments": self.arguments} if self.arguments is not None else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingDeployment:
        try:
            return cls(
                chain_id=int(data["chainId"]),
                tx_hash=str(data["txHash"]),
                nonce=int(data["nonce"]),
                deployer=to_checksum_address(data["deployer"]),
                admin=to_checksum_address(data["admin"]),
                artifact_digest=str(data["artifactDigest"]),
                arguments=list(data["arguments"]) if data.get("arguments") is not None else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DeploymentError(f"malformed pending deployment record: {exc}") from exc


def deployment_path(directory: str | Path, chain_id: int) -> Path:
    return Path(directory) / f"{chain_id}.json"


def pending_path(directory: str | Path, chain_id: int, contract: str = LEDGER_CONTRACT) -> Path:
    """Where a deployment transaction is recorded between signing and its receipt."""
    if contract == LEDGER_CONTRACT:
        return Path(directory) / f"{chain_id}.pending.json"
    return Path(directory) / f"{chain_id}.{contract}.pending.json"


def load_pending(directory: str | Path, chain_id: int, contract: str = LEDGER_CONTRACT) -> PendingDeployment | None:
    """The deployment transaction an interrupted run left pending on chain `chain_id`, if any."""
    path = pending_path(directory, chain_id, contract)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DeploymentError(f"{path} is not valid JSON") from exc
    if not isinstance(data, dict):
        raise DeploymentError(f"malformed pending deployment record {path}: not an object")
    return PendingDeployment.from_json(data)


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
        raise DeploymentError(
            f"{path} records chain {deployment.chain_id}, but the endpoint serves chain {chain.chain_id}"
        )
    address = deployment.ledger_address
    if not chain.w3.eth.get_code(to_checksum_address(address)):
        raise DeploymentCodeMissingError(
            f"no contract code at {address} on chain {chain.chain_id}; the chain was reset, deploy again"
        )
    return deployment


def save_deployment(directory: str | Path, deployment: Deployment) -> Path:
    """Write atomically, so a crash never leaves half a deployment record."""
    path = deployment_path(directory, deployment.chain_id)
    _write_atomically(path, deployment.to_json())
    return path


def _write_atomically(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o644)  # a public record (mkstemp creates 0600)
    os.replace(tmp, path)


def deploy(
    chain: Chain,
    deployer: Signer,
    *,
    admin: str | None = None,
    directory: str | Path | None = None,
    policy: TxPolicy | None = None,
    emergency: EmergencyPolicy | None = None,
    settings: LedgerSettings | None = None,
) -> Deployment:
    """Deploy MedLedger, or resume: reuse a recorded deployment of the same artifact, or wait for
    the deployment transaction an interrupted run left pending (see the module docstring)."""
    artifact = load_artifact(LEDGER_CONTRACT)
    admin = to_checksum_address(admin or deployer.address)
    if directory is not None and deployment_path(directory, chain.chain_id).exists():
        existing = _reusable(directory, chain, artifact)
        if existing is not None:
            if existing.admin != admin:
                raise DeploymentError(
                    f"chain {chain.chain_id} already has a deployment administered by {existing.admin}, not {admin}; "
                    f"move {deployment_path(directory, chain.chain_id)} aside to deploy anew"
                )
            _discard_pending(directory, chain.chain_id, existing.contracts[LEDGER_CONTRACT].tx_hash)
            return existing
    if directory is not None:
        resumed = _resume_pending(
            directory, chain, TransactionSender(chain, RevertDecoder(artifact.abi), policy), artifact, admin
        )
        if resumed is not None:
            return resumed
    contract = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    sender = TransactionSender(
        chain,
        RevertDecoder(artifact.abi),
        policy,
        on_signed=_pending_writer(directory, artifact, admin) if directory is not None else None,
    )
    settings = settings or LedgerSettings()
    if emergency is not None:  # `emergency=` alone keeps the other defaults
        settings = replace(settings, emergency=emergency)
    receipt = sender.deploy(deployer, contract.constructor(admin, settings.constructor_settings()))
    deployment = _deployment_from(chain, deployer.address, admin, artifact, receipt)
    if directory is not None:
        save_deployment(directory, deployment)
        _discard_pending(directory, chain.chain_id, receipt.tx_hash)
    return deployment


def deploy_module(
    chain: Chain,
    deployer: Signer,
    directory: str | Path,
    name: str,
    constructor_args: Sequence[Any],
    *,
    policy: TxPolicy | None = None,
) -> Deployment:
    """Deploy the shipped contract `name` (a module such as Claims) beside the MedLedger recorded
    for this chain in `directory`, and add it to that deployment record.

    Resumable like `deploy`: a recorded module of the same build and arguments with code on chain is
    returned as is, one with other arguments is refused (a deployed module's settings never change),
    and a transaction an interrupted run left pending is waited for, never sent twice."""
    if name == LEDGER_CONTRACT:
        raise DeploymentError(f"{LEDGER_CONTRACT} is deployed by `deploy`, not as a module")
    try:
        artifact = load_artifact(name)
    except FileNotFoundError:
        raise DeploymentError(f"no contract named {name!r} ships with medledger") from None
    deployment = load_deployment(directory, chain)
    arguments = _json_values(constructor_args)
    record = deployment_path(directory, chain.chain_id)
    existing = deployment.contracts.get(name)
    if existing is not None:
        code = bytes(chain.w3.eth.get_code(to_checksum_address(existing.address)))
        if code:
            if existing.artifact_digest != artifact.digest or not _same_build(
                code, bytes.fromhex(artifact.deployed_bytecode.removeprefix("0x"))
            ):
                raise DeploymentError(
                    f"chain {chain.chain_id} has another build of {name} at {existing.address}; "
                    f"remove its entry from {record} to deploy this build beside it"
                )
            if existing.arguments != arguments:
                raise DeploymentError(
                    f"chain {chain.chain_id} already has {name} at {existing.address} with settings "
                    f"{existing.arguments}, not {arguments}; a deployed module's settings never change: "
                    f"remove its entry from {record} to deploy another"
                )
            return deployment
    path = pending_path(directory, chain.chain_id, name)
    receipt = _resume_module(chain, load_pending(directory, chain.chain_id, name), path, artifact, arguments, policy)
    if receipt is None:
        writer = _pending_writer(directory, artifact, deployer.address, contract=name, arguments=arguments)
        sender = TransactionSender(chain, RevertDecoder(artifact.abi), policy, on_signed=writer)
        factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = sender.deploy(deployer, factory.constructor(*constructor_args))
    entry = _deployed(artifact, receipt, arguments)
    updated = replace(deployment, contracts={**deployment.contracts, name: entry})
    save_deployment(directory, updated)
    path.unlink(missing_ok=True)
    return updated


def _resume_module(
    chain: Chain,
    pending: PendingDeployment | None,
    path: Path,
    artifact: Artifact,
    arguments: list[Any],
    policy: TxPolicy | None,
) -> Receipt | None:
    """The receipt of a module deployment an interrupted run left pending; None to send anew."""
    if pending is None:
        return None
    if pending.chain_id != chain.chain_id:
        raise DeploymentError(
            f"{path} records chain {pending.chain_id}, but the endpoint serves chain {chain.chain_id}"
        )
    if pending.artifact_digest != artifact.digest or pending.arguments != arguments:
        raise DeploymentError(
            f"transaction {pending.tx_hash} deploying {artifact.name} with settings {pending.arguments} (or another "
            f"build) is pending on chain {chain.chain_id}; wait for it, or move {path} aside to deploy these settings"
        )
    sender = TransactionSender(chain, RevertDecoder(artifact.abi), policy)
    status = sender.status(pending.sent)
    if status in (TxStatus.DROPPED, TxStatus.REVERTED):
        log.warning(
            "deployment transaction %s of %s %s; sending a new one", pending.tx_hash, artifact.name, status.value
        )
        path.unlink(missing_ok=True)
        return None
    if status is TxStatus.REPLACED:
        raise DeploymentError(
            f"deployment transaction {pending.tx_hash} is unknown to the node, but nonce {pending.nonce} of "
            f"{pending.deployer} was used by another transaction; check that account's transactions for a "
            f"{artifact.name} deployment, then move {path} aside to deploy anew"
        )
    return sender.wait_for(pending.tx_hash)


def _json_values(values: Sequence[Any]) -> list[Any]:
    """Constructor arguments as JSON values (bytes as 0x hex), to record and compare them."""

    def plain(value: Any) -> Any:
        if isinstance(value, bytes | bytearray):
            return "0x" + bytes(value).hex()
        if isinstance(value, list | tuple):
            return [plain(item) for item in value]
        if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
            return to_checksum_address(value)
        return value

    return [plain(value) for value in values]


@dataclass(frozen=True)
class DeploymentQuote:
    """What `deploy` would send for a fresh deployment, estimated and sent nowhere."""

    chain_id: int
    deployer: str
    admin: str
    settings: LedgerSettings
    gas: GasQuote
    deployer_balance: int  # wei

    @property
    def affordable(self) -> bool:
        """Whether the deployer holds the largest possible cost."""
        return self.deployer_balance >= self.gas.max_cost_wei


def quote_deployment(
    chain: Chain,
    deployer: str,
    *,
    admin: str | None = None,
    policy: TxPolicy | None = None,
    settings: LedgerSettings | None = None,
) -> DeploymentQuote:
    """A dry run of `deploy`: eth_estimateGas on the constructor with these settings and the fees
    `policy` would pay now. Signs nothing, sends nothing, writes no file."""
    artifact = load_artifact(LEDGER_CONTRACT)
    deployer = to_checksum_address(deployer)
    admin = to_checksum_address(admin or deployer)
    settings = settings or LedgerSettings()
    contract = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    sender = TransactionSender(chain, RevertDecoder(artifact.abi), policy)
    gas = sender.quote_deploy(deployer, contract.constructor(admin, settings.constructor_settings()))
    return DeploymentQuote(
        chain_id=chain.chain_id,
        deployer=deployer,
        admin=admin,
        settings=settings,
        gas=gas,
        deployer_balance=int(chain.w3.eth.get_balance(deployer)),
    )


def _deployment_from(chain: Chain, deployer: str, admin: str, artifact: Artifact, receipt: Receipt) -> Deployment:
    return Deployment(
        chain_id=chain.chain_id,
        deployer=deployer,
        admin=admin,
        contracts={LEDGER_CONTRACT: _deployed(artifact, receipt)},
    )


def _deployed(artifact: Artifact, receipt: Receipt, arguments: list[Any] | None = None) -> DeployedContract:
    return DeployedContract(
        address=to_checksum_address(receipt.raw["contractAddress"]),
        tx_hash=receipt.tx_hash,
        block=receipt.block_number,
        artifact_digest=artifact.digest,
        compiler=artifact.compiler,
        gas_used=receipt.gas_used,
        arguments=arguments,
    )


def _pending_writer(
    directory: str | Path,
    artifact: Artifact,
    admin: str,
    *,
    contract: str = LEDGER_CONTRACT,
    arguments: list[Any] | None = None,
) -> OnSigned:
    """Record the deployment transaction once signed, before it is broadcast."""

    def record(sent: SentTransaction) -> None:
        pending = PendingDeployment(
            chain_id=sent.chain_id,
            tx_hash=sent.tx_hash,
            nonce=sent.nonce,
            deployer=sent.sender,
            admin=admin,
            artifact_digest=artifact.digest,
            arguments=arguments,
        )
        _write_atomically(pending_path(directory, sent.chain_id, contract), pending.to_json())

    return record


def _discard_pending(directory: str | Path, chain_id: int, tx_hash: str) -> None:
    """Remove the pending record once the deployment it names is recorded."""
    pending = load_pending(directory, chain_id)
    if pending is not None and pending.tx_hash == tx_hash:
        pending_path(directory, chain_id).unlink(missing_ok=True)


def _resume_pending(
    directory: str | Path, chain: Chain, sender: TransactionSender, artifact: Artifact, admin: str
) -> Deployment | None:
    """Finish the deployment an interrupted run left pending; None when there is none to finish
    (no pending record, or its transaction can never be mined: then it is sent anew)."""
    pending = load_pending(directory, chain.chain_id)
    if pending is None:
        return None
    path = pending_path(directory, chain.chain_id)
    if pending.chain_id != chain.chain_id:
        raise DeploymentError(
            f"{path} records chain {pending.chain_id}, but the endpoint serves chain {chain.chain_id}"
        )
    if pending.artifact_digest != artifact.digest:
        raise DeploymentError(
            f"transaction {pending.tx_hash} deploying another build of {LEDGER_CONTRACT} is pending on chain "
            f"{chain.chain_id}; wait for it, or move {path} aside to deploy this build"
        )
    if pending.admin != admin:
        raise DeploymentError(
            f"transaction {pending.tx_hash} deploying {LEDGER_CONTRACT} administered by {pending.admin}, not {admin}, "
            f"is pending on chain {chain.chain_id}; wait for it, or move {path} aside to deploy anew"
        )
    status = sender.status(pending.sent)
    if status in (TxStatus.DROPPED, TxStatus.REVERTED):
        log.warning(
            "deployment transaction %s %s; sending a new one",
            pending.tx_hash,
            "was dropped by the node" if status is TxStatus.DROPPED else "reverted",
        )
        path.unlink(missing_ok=True)
        return None
    if status is TxStatus.REPLACED:
        raise DeploymentError(
            f"deployment transaction {pending.tx_hash} is unknown to the node, but nonce {pending.nonce} of "
            f"{pending.deployer} was used by another transaction; check that account's transactions for a "
            f"{LEDGER_CONTRACT} deployment, then move {path} aside to deploy anew"
        )
    receipt = sender.wait_for(pending.tx_hash)  # pending or mined: wait for it (and its confirmations)
    deployment = _deployment_from(chain, pending.deployer, admin, artifact, receipt)
    save_deployment(directory, deployment)
    path.unlink(missing_ok=True)
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
