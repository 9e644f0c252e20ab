"""Client for the Studies contract: paid research studies beside MedLedger.

Studies is its own contract, deployed after the ledger (`medledger deploy studies`) and recorded
in the same deployment record (`deployment.contracts["Studies"]`). A researcher registers a study
and escrows `max_participants x reward` of an ERC-20 token; a patient enrols (research consent to
the researcher on MedLedger, then `enrol` here naming their de-identified study records, directly
or by an EIP-712 signature anyone relays); the researcher logs each read of study data; the first
logged read of a participant's data earns their reward, which anyone may then pay out to them
(`claim`); after the end, `close` refunds the places never earned.

Relayed enrolments and withdrawals are signed EIP-712 messages in the domain ("MedLedger Studies",
"1", chain id, the Studies contract), with the patient's nonce in Studies and a deadline:

    Enrol(uint256 studyId, address patient, bytes32 digests, uint256 nonce, uint256 deadline)
    Withdraw(uint256 studyId, address patient, uint256 nonce, uint256 deadline)

where `digests` is keccak256 of the record digests concatenated (abi.encodePacked(bytes32[])).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_utils import keccak, to_checksum_address
from web3.logs import DISCARD

from medledger.chain.accounts import Signer
from medledger.chain.artifacts import load_artifact
from medledger.chain.connection import Chain
from medledger.chain.deploy import LEDGER_CONTRACT, Deployment
from medledger.chain.reverts import RevertDecoder
from medledger.chain.transactions import Receipt, TransactionSender, TxPolicy
from medledger.ledger.base import InvalidArgumentError, ModuleClient, checked_address
from medledger.ledger.records import SUPPORTED_CODECS
from medledger.ledger.signatures import SignedMessage, SignedMessageError, sign, typed_data
from medledger.scopes import CATEGORY_COUNT

STUDIES_CONTRACT = "Studies"
DOMAIN_NAME = "MedLedger Studies"
DOMAIN_VERSION = "1"
MAX_RECORDS = 32  # Studies.MAX_RECORDS
MAX_SIGNATURE_LIFETIME = 30 * 24 * 3600  # what the clients sign for at most (the contract checks the deadline)

STUDY_TYPES: dict[str, list[dict[str, str]]] = {
    "Enrol": [
        {"name": "studyId", "type": "uint256"},
        {"name": "patient", "type": "address"},
        {"name": "digests", "type": "bytes32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "Withdraw": [
        {"name": "studyId", "type": "uint256"},
        {"name": "patient", "type": "address"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
}


class StudyStatus(IntEnum):
    NONE = 0
    OPEN = 1
    SUSPENDED = 2
    CLOSED = 3

    @property
    def label(self) -> str:
        return self.name.lower()


class ParticipantStatus(IntEnum):
    NONE = 0
    ENROLLED = 1
    WITHDRAWN = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class StudyTerms:
    """What a researcher registers; amounts in the token's smallest unit, times in unix seconds."""

    token: str
    reward: int
    max_participants: int
    categories: int
    enrolment_end: int
    end: int
    protocol_digest: bytes
    protocol_codec: int
    approval_digest: bytes
    approval_codec: int

    @property
    def deposit(self) -> int:
        return self.reward * self.max_participants

    def check(self) -> StudyTerms:
        """The contract's rules that need no chain state, with clear messages."""
        checked_address(self.token, "token")
        if not 0 < self.max_participants < 2**32:
            raise InvalidArgumentError(f"a study has 1..{2**32 - 1} places, not {self.max_participants}")
        if self.reward <= 0 or self.deposit >= 2**256:
            raise InvalidArgumentError("the reward per participant must be positive (and the escrow below 2**256)")
        if not 0 < self.categories < 2**CATEGORY_COUNT:
            raise InvalidArgumentError("a study asks for at least one record category")
        if not 0 < self.enrolment_end < self.end < 2**40:
            raise InvalidArgumentError("enrolment must close before the study ends")
        for what, digest, codec in (
            ("protocol", self.protocol_digest, self.protocol_codec),
            ("approval", self.approval_digest, self.approval_codec),
        ):
            if len(digest) != 32 or not any(digest):
                raise InvalidArgumentError(f"the {what} document's digest must be a non-zero 32-byte sha2-256 digest")
            if codec not in SUPPORTED_CODECS:
                raise InvalidArgumentError(f"the {what} document's codec {codec:#x} is not raw (0x55) or dag-pb (0x70)")
        return self

    def as_tuple(self) -> tuple[Any, ...]:
        # The order of IStudies.StudyTerms.
        return (
            self.token,
            self.max_participants,
            self.enrolment_end,
            self.end,
            self.categories,
            self.protocol_codec,
            self.approval_codec,
            self.reward,
            self.protocol_digest,
            self.approval_digest,
        )


@dataclass(frozen=True)
class Study:
    study_id: int
    researcher: str
    status: StudyStatus
    registered_at: int
    enrolment_end: int
    token: str
    end: int
    max_participants: int
    enrolled: int
    earned: int
    paid: int
    categories: int
    protocol_codec: int
    approval_codec: int
    reward: int
    protocol_digest: bytes
    approval_digest: bytes

    @property
    def deposit(self) -> int:
        return self.reward * self.max_participants

    @property
    def places_left(self) -> int:
        return self.max_participants - self.enrolled

    def phase(self, now: int) -> str:
        """What the study accepts at `now`: enrolling, running, ended, suspended or closed."""
        if self.status is StudyStatus.SUSPENDED:
            return "suspended"
        if self.status is StudyStatus.CLOSED:
            return "closed"
        if now < self.enrolment_end:
            return "enrolling"
        return "running" if now < self.end else "ended"


@dataclass(frozen=True)
class Participant:
    status: ParticipantStatus
    accessed: bool
    paid: bool
    enrolled_at: int
    records: int

    @property
    def claimable(self) -> bool:
        return self.accessed and not self.paid


def digests_hash(digests: Sequence[bytes]) -> bytes:
    """keccak256(abi.encodePacked(bytes32[])): what an Enrol message signs for its records."""
    return keccak(b"".join(_digest(d) for d in digests))


def _digest(value: bytes) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != 32 or not any(value):
        raise InvalidArgumentError("a record digest is a non-zero 32-byte sha2-256 digest")
    return bytes(value)


def study_typed_data(kind: str, *, chain_id: int, contract: str, message: dict[str, Any]) -> dict[str, Any]:
    return typed_data(
        kind,
        chain_id=chain_id,
        contract=contract,
        message=message,
        types=STUDY_TYPES,
        domain_name=DOMAIN_NAME,
        domain_version=DOMAIN_VERSION,
    )


def sign_study_message(signer: Signer, data: dict[str, Any]) -> SignedMessage:
    """Sign off line (needs only the chain id and the contract in `data`'s domain)."""
    return sign(signer, data)


def parse_study_message(text: str) -> SignedMessage:
    """A signed Enrol or Withdraw from its JSON file (as `SignedMessage.to_json` writes it)."""
    try:
        data = json.loads(text)
        typed = data["typedData"]
        kind = typed["primaryType"]
        signature = bytes.fromhex(data["signature"].removeprefix("0x"))
        fields = typed["types"].get(kind)
        domain = typed["domain"]
        typed["message"]["studyId"]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SignedMessageError(f"not a signed study message: {exc}") from None
    if kind not in STUDY_TYPES or fields != STUDY_TYPES[kind]:
        raise SignedMessageError(f"not a signed study Enrol or Withdraw (type {kind!r})")
    if domain.get("name") != DOMAIN_NAME or domain.get("version") != DOMAIN_VERSION:
        raise SignedMessageError("the message was signed for another contract than Studies")
    return SignedMessage(typed, signature)


def recovered_signer(signed: SignedMessage) -> str:
    return signed.recovered_signer()


class StudiesClient(ModuleClient):
    """Register and run studies, enrol and withdraw, log study reads, pay rewards and refunds."""

    def __init__(self, chain: Chain, address: str, *, signer: Signer | None = None, policy: TxPolicy | None = None):
        artifact = load_artifact(STUDIES_CONTRACT)
        contract = chain.w3.eth.contract(address=to_checksum_address(address), abi=artifact.abi)
        # Reverts may come from the ledger (read through) and from the token (SafeERC20 bubbles
        # OpenZeppelin's ERC20 errors up): decode all three.
        abi = artifact.abi + load_artifact(LEDGER_CONTRACT).abi + _erc20_errors()
        super().__init__(contract, TransactionSender(chain, RevertDecoder(abi), policy), signer)
        self.chain = chain
        self.policy = policy
        self.deployment_receipt: Receipt | None = None  # set by deploy_studies

    @classmethod
    def from_deployment(
        cls, chain: Chain, deployment: Deployment, signer: Signer | None = None, *, policy: TxPolicy | None = None
    ) -> StudiesClient:
        """The Studies module of `deployment` (DeploymentError when it was never deployed there)."""
        chain.require_chain_id(deployment.chain_id)
        return cls(chain, deployment.module(STUDIES_CONTRACT).address, signer=signer, policy=policy)

    def as_signer(self, signer: Signer) -> StudiesClient:
        return StudiesClient(self.chain, self.address, signer=signer, policy=self.policy)

    # -- reads ------------------------------------------------------------------------------

    def ledger_address(self) -> str:
        return to_checksum_address(self._call(self.functions.ledger()))

    def study_count(self) -> int:
        return int(self._call(self.functions.studyCount()))

    def study(self, study_id: int) -> Study | None:
        """Study `study_id`, or None when there is no such study."""
        if not 0 < int(study_id) < 2**256:
            return None
        values = self._call(self.functions.studyOf(int(study_id)))
        (
            researcher,
            status,
            registered_at,
            enrolment_end,
            token,
            end,
            max_participants,
            enrolled,
            earned,
            paid,
            categories,
            protocol_codec,
            approval_codec,
            reward,
            protocol_digest,
            approval_digest,
        ) = values
        if int(researcher, 16) == 0:
            return None
        return Study(
            int(study_id),
            to_checksum_address(researcher),
            StudyStatus(int(status)),
            int(registered_at),
            int(enrolment_end),
            to_checksum_address(token),
            int(end),
            int(max_participants),
            int(enrolled),
            int(earned),
            int(paid),
            int(categories),
            int(protocol_codec),
            int(approval_codec),
            int(reward),
            bytes(protocol_digest),
            bytes(approval_digest),
        )

    def participant(self, study_id: int, patient: str) -> Participant:
        status, accessed, paid, enrolled_at, records = self._call(
            self.functions.participantOf(int(study_id), checked_address(patient, "patient"))
        )
        return Participant(ParticipantStatus(int(status)), bool(accessed), bool(paid), int(enrolled_at), int(records))

    def is_study_record(self, study_id: int, patient: str, digest: bytes) -> bool:
        return bool(
            self._call(
                self.functions.isStudyRecord(int(study_id), checked_address(patient, "patient"), _digest(digest))
            )
        )

    def nonce(self, patient: str) -> int:
        return int(self._call(self.functions.nonces(checked_address(patient, "patient"))))

    def domain_separator(self) -> bytes:
        return bytes(self._call(self.functions.DOMAIN_SEPARATOR()))

    def token_balance(self, token: str) -> int:
        """The escrow this contract holds in `token` (all studies together)."""
        erc20 = self.chain.w3.eth.contract(
            address=to_checksum_address(checked_address(token, "token")), abi=_erc20_balance_abi()
        )
        return int(self.sender.call(erc20.functions.balanceOf(self.address)))

    # -- researchers ------------------------------------------------------------------------

    def register(self, terms: StudyTerms) -> tuple[int, Receipt]:
        """Register a study (the deposit must be approved to this contract first); its id."""
        receipt = self._send(self.functions.registerStudy(terms.check().as_tuple()))
        events = self.contract.events.StudyRegistered().process_receipt(receipt.raw, errors=DISCARD)
        return int(events[0]["args"]["studyId"]), receipt

    def log_access(self, study_id: int, patient: str, digest: bytes) -> tuple[bool, Receipt]:
        """Log the researcher's read of a study record; whether it was the participant's first (earning)."""
        receipt = self._send(
            self.functions.logStudyAccess(int(study_id), checked_address(patient, "patient"), _digest(digest))
        )
        events = self.contract.events.StudyDataAccessed().process_receipt(receipt.raw, errors=DISCARD)
        return bool(events[0]["args"]["first"]), receipt

    def close(self, study_id: int) -> tuple[int, Receipt]:
        """Close an ended study; the refund sent to its researcher."""
        receipt = self._send(self.functions.closeStudy(int(study_id)))
        events = self.contract.events.StudyClosed().process_receipt(receipt.raw, errors=DISCARD)
        return int(events[0]["args"]["refund"]), receipt

    # -- registrars -------------------------------------------------------------------------

    def suspend(self, study_id: int) -> Receipt:
        return self._send(self.functions.suspendStudy(int(study_id)))

    def reinstate(self, study_id: int) -> Receipt:
        return self._send(self.functions.reinstateStudy(int(study_id)))

    # -- participants -----------------------------------------------------------------------

    def enrol(self, study_id: int, digests: Sequence[bytes]) -> Receipt:
        return self._send(self.functions.enrol(int(study_id), _digests(digests)))

    def withdraw(self, study_id: int) -> Receipt:
        return self._send(self.functions.withdraw(int(study_id)))

    def cancel_signatures(self) -> Receipt:
        """Void the signer's signed Enrol or Withdraw that no relayer has sent yet."""
        return self._send(self.functions.cancelSignatures())

    def claim(self, study_id: int, patient: str) -> tuple[int, Receipt]:
        """Pay `patient` the reward they earned (anyone may send this); the amount paid."""
        receipt = self._send(self.functions.claimReward(int(study_id), checked_address(patient, "patient")))
        events = self.contract.events.RewardPaid().process_receipt(receipt.raw, errors=DISCARD)
        return int(events[0]["args"]["amount"]), receipt

    # -- signed enrolment and withdrawal --------------------------------------------------------

    def _deadline(self, valid_for: int) -> int:
        if not 0 < valid_for <= MAX_SIGNATURE_LIFETIME:
            raise InvalidArgumentError(f"a signature may be valid for 1 s to {MAX_SIGNATURE_LIFETIME // 86400} days")
        return self.chain.now() + int(valid_for)

    def _typed(self, kind: str, message: dict[str, Any]) -> dict[str, Any]:
        return study_typed_data(kind, chain_id=self.chain.w3.eth.chain_id, contract=self.address, message=message)

    def enrol_data(
        self, study_id: int, patient: str, digests: Sequence[bytes], *, valid_for: int = 3600
    ) -> dict[str, Any]:
        """The Enrol message for `patient` to sign, with their current nonce here."""
        patient = checked_address(patient, "patient")
        message = {
            "studyId": int(study_id),
            "patient": patient,
            "digests": "0x" + digests_hash(_digests(digests)).hex(),
            "nonce": self.nonce(patient),
            "deadline": self._deadline(valid_for),
        }
        data = self._typed("Enrol", message)
        data["recordDigests"] = ["0x" + d.hex() for d in _digests(digests)]  # not signed: the relayer needs them
        return data

    def withdraw_data(self, study_id: int, patient: str, *, valid_for: int = 3600) -> dict[str, Any]:
        patient = checked_address(patient, "patient")
        message = {
            "studyId": int(study_id),
            "patient": patient,
            "nonce": self.nonce(patient),
            "deadline": self._deadline(valid_for),
        }
        return self._typed("Withdraw", message)

    def relay(self, signed: SignedMessage) -> Receipt:
        """Send a signed Enrol or Withdraw (the relayer pays the gas)."""
        message = signed.message
        authorization = (int(message["nonce"]), int(message["deadline"]))
        patient = checked_address(message["patient"], "patient")
        study_id = int(message["studyId"])
        if signed.kind == "Enrol":
            digests = [bytes.fromhex(str(d).removeprefix("0x")) for d in signed.typed_data.get("recordDigests", [])]
            signed_hash = message["digests"]
            signed_hash = bytes.fromhex(signed_hash.removeprefix("0x")) if isinstance(signed_hash, str) else signed_hash
            if digests_hash(_digests(digests)) != bytes(signed_hash):
                raise SignedMessageError("the message's record digests do not match what the patient signed")
            function = self.functions.enrolBySig(study_id, patient, digests, authorization, signed.signature)
        elif signed.kind == "Withdraw":
            function = self.functions.withdrawBySig(study_id, patient, authorization, signed.signature)
        else:
            raise SignedMessageError(f"not a study message: {signed.kind}")
        return self._send(function)


def _digests(digests: Sequence[bytes]) -> list[bytes]:
    values = [_digest(d) for d in digests]
    if not values:
        raise InvalidArgumentError("an enrolment names at least one de-identified study record")
    if len(values) > MAX_RECORDS:
        raise InvalidArgumentError(f"an enrolment names at most {MAX_RECORDS} study records, not {len(values)}")
    if len(set(values)) != len(values):
        raise InvalidArgumentError("an enrolment names each study record once")
    return values


def _erc20_balance_abi() -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "name": "balanceOf",
            "stateMutability": "view",
            "inputs": [{"name": "account", "type": "address"}],
            "outputs": [{"name": "", "type": "uint256"}],
        }
    ]


def _erc20_errors() -> list[dict[str, Any]]:
    """OpenZeppelin 5's ERC-6093 errors, which a token's refusal carries through SafeERC20."""

    def error(name: str, *inputs: tuple[str, str]) -> dict[str, Any]:
        return {"type": "error", "name": name, "inputs": [{"name": n, "type": t} for n, t in inputs]}

    return [
        error("ERC20InsufficientBalance", ("sender", "address"), ("balance", "uint256"), ("needed", "uint256")),
        error("ERC20InsufficientAllowance", ("spender", "address"), ("allowance", "uint256"), ("needed", "uint256")),
        error("ERC20InvalidReceiver", ("receiver", "address")),
        error("ERC20InvalidSender", ("sender", "address")),
        error("SafeERC20FailedOperation", ("token", "address")),
    ]


def deploy_studies(chain: Chain, signer: Signer, ledger: str, *, policy: TxPolicy | None = None) -> StudiesClient:
    """Deploy a Studies contract reading the MedLedger at `ledger`, unrecorded (tests, scripts);
    `medledger deploy studies` records it in the deployment record instead (chain.deploy.deploy_module)."""
    artifact = load_artifact(STUDIES_CONTRACT)
    factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = TransactionSender(chain, RevertDecoder(artifact.abi), policy).deploy(
        signer, factory.constructor(checked_address(ledger, "ledger"))
    )
    client = StudiesClient(chain, str(receipt.raw["contractAddress"]), signer=signer, policy=policy)
    client.deployment_receipt = receipt
    return client
