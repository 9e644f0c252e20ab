"""Client for the insurance-claims module (contracts/Claims.sol).

Claims is its own contract beside MedLedger, deployed after it (`medledger deploy claims`) and
recorded in the same deployment record under "Claims". Insurers register coverages and fund an
escrow per ERC-20; providers submit claims; insurers pend, adjudicate and pay; patients and
providers appeal; providers withdraw what they were paid. Amounts are integers in the token's
smallest unit (see `medledger.ledger.tokens` for parsing and formatting "120.50 USDC").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_abi import encode
from eth_utils import keccak, to_checksum_address
from web3.logs import DISCARD

from medledger.chain.accounts import Signer
from medledger.chain.artifacts import load_artifact
from medledger.chain.connection import Chain
from medledger.chain.deploy import LEDGER_CONTRACT, Deployment
from medledger.chain.errors import DeploymentError
from medledger.chain.reverts import RevertDecoder
from medledger.chain.transactions import Receipt, TransactionSender, TxPolicy
from medledger.ledger.base import InvalidArgumentError, ModuleClient, checked_address

CLAIMS_CONTRACT = "Claims"
MAX_AMOUNT = 2**96 - 1
MAX_TIME = 2**40 - 1
MAX_REASON = 2**16 - 1
ENCOUNTER_LABEL = "medledger.claims.encounter.v1"

# Every event of the module that names a claim, in the order a claim's history lists them.
CLAIM_EVENTS = (
    "ClaimSubmitted",
    "ClaimPended",
    "ClaimSupplemented",
    "ClaimAdjudicated",
    "ClaimPaid",
    "ClaimAppealed",
    "ClaimWithdrawn",
)


class ClaimStatus(IntEnum):
    NONE = 0
    SUBMITTED = 1
    PENDED = 2
    APPROVED = 3
    DENIED = 4
    PAID = 5
    APPEALED = 6
    WITHDRAWN = 7

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Coverage:
    coverage_id: bytes
    patient: str
    insurer: str
    token: str
    start: int
    end: int


@dataclass(frozen=True)
class Claim:
    """A claim as the contract stores it. Amounts are in the coverage token's smallest unit;
    `due` is the current step's deadline (0 when none)."""

    claim_id: bytes
    coverage_id: bytes
    provider: str
    service_date: int
    due: int
    status: ClaimStatus
    round: int
    pended: bool
    billed: int
    approved: int
    reason: int
    patient_share: int
    paid: int

    @property
    def owed(self) -> int:
        """What is approved and not yet paid to the provider."""
        return self.approved - self.paid if self.status in (ClaimStatus.APPROVED, ClaimStatus.APPEALED) else 0


@dataclass(frozen=True)
class ClaimEvent:
    """One step of a claim's history, as logged on chain."""

    name: str
    block: int
    log_index: int
    tx_hash: str
    timestamp: int
    args: dict[str, Any]


def coverage_id_of(insurer: str, patient: str, digest: bytes) -> bytes:
    """keccak256(abi.encode(insurer, patient, digest)), as the contract computes it."""
    return keccak(
        encode(["address", "address", "bytes32"], [checked_address(insurer), checked_address(patient), digest])
    )


def claim_id_of(coverage_id: bytes, provider: str, encounter: bytes) -> bytes:
    """keccak256(abi.encode(coverageId, provider, encounter)): one claim per encounter and coverage."""
    return keccak(encode(["bytes32", "address", "bytes32"], [coverage_id, checked_address(provider), encounter]))


def encounter_digest(patient: str, identifier: str) -> bytes:
    """The on-chain name of an encounter: a digest of the patient and the provider's own encounter
    identifier (e.g. `Encounter/2026-0412-17`), so the chain carries no identifier in clear and two
    claims for the same encounter collide."""
    if not identifier.strip():
        raise InvalidArgumentError("an encounter identifier is required")
    return keccak(encode(["string", "address", "string"], [ENCOUNTER_LABEL, checked_address(patient), identifier]))


def _bytes32(value: bytes | None, what: str, *, optional: bool = False) -> bytes:
    if value is None and optional:
        return b"\x00" * 32
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        raise InvalidArgumentError(f"{what} must be 32 bytes")
    if not any(value) and not optional:
        raise InvalidArgumentError(f"{what} must not be zero")
    return bytes(value)


def _amount(value: int, what: str, *, allow_zero: bool = True) -> int:
    if not isinstance(value, int) or not (0 if allow_zero else 1) <= value <= MAX_AMOUNT:
        floor = "0" if allow_zero else "1"
        raise InvalidArgumentError(f"{what} must be a whole number of token units in {floor}..2**96-1")
    return value


def _time(value: int, what: str) -> int:
    if not isinstance(value, int) or not 0 <= value <= MAX_TIME:
        raise InvalidArgumentError(f"{what} must be a unix time in 0..2**40-1")
    return value


def _reason(value: int) -> int:
    if not isinstance(value, int) or not 0 <= value <= MAX_REASON:
        raise InvalidArgumentError(f"a reason code is 0..{MAX_REASON}, not {value}")
    return value


class ClaimsClient(ModuleClient):
    """Typed access to a deployed Claims contract.

    >>> claims = ClaimsClient.from_deployment(chain, deployment, signer=insurer)
    >>> claims.adjudicate(claim_id, approved=12050, patient_share=1500)
    """

    def __init__(self, chain: Chain, address: str, *, signer: Signer | None = None, policy: TxPolicy | None = None):
        artifact = load_artifact(CLAIMS_CONTRACT)
        contract = chain.w3.eth.contract(address=to_checksum_address(address), abi=artifact.abi)
        # Refusals may come from the ledger it reads or the token it moves (OpenZeppelin's ERC-20 errors).
        decoder = RevertDecoder(
            artifact.abi + load_artifact(LEDGER_CONTRACT).abi + load_artifact("SettlementToken").abi
        )
        super().__init__(contract, TransactionSender(chain, decoder, policy), signer)
        self.chain = chain
        self.policy = policy

    @classmethod
    def from_deployment(
        cls, chain: Chain, deployment: Deployment, signer: Signer | None = None, *, policy: TxPolicy | None = None
    ) -> ClaimsClient:
        """The Claims module recorded in `deployment` (deployed by `medledger deploy claims`)."""
        chain.require_chain_id(deployment.chain_id)
        return cls(chain, deployment.module(CLAIMS_CONTRACT).address, signer=signer, policy=policy)

    def as_signer(self, signer: Signer) -> ClaimsClient:
        return ClaimsClient(self.chain, self.address, signer=signer, policy=self.policy)

    # -- settings --------------------------------------------------------------------------------

    @property
    def ledger_address(self) -> str:
        return to_checksum_address(self._call(self.functions.ledger()))

    def deadlines(self) -> dict[str, int]:
        """The windows fixed at deployment, in seconds."""
        return {
            "timelyFiling": int(self._call(self.functions.timelyFilingSeconds())),
            "adjudication": int(self._call(self.functions.adjudicationSeconds())),
            "appeal": int(self._call(self.functions.appealSeconds())),
        }

    # -- coverage --------------------------------------------------------------------------------

    def register_coverage_call(self, patient: str, digest: bytes, token: str, start: int, end: int) -> Any:
        return self.functions.registerCoverage(
            checked_address(patient, "patient"),
            _bytes32(digest, "the coverage digest"),
            checked_address(token, "token"),
            _time(start, "the coverage start"),
            _time(end, "the coverage end"),
        )

    def register_coverage(self, patient: str, digest: bytes, token: str, start: int, end: int) -> tuple[Receipt, bytes]:
        """The insurer registers the patient's coverage; (receipt, coverage id)."""
        receipt = self._send(self.register_coverage_call(patient, digest, token, start, end))
        return receipt, self._logged_id(receipt, "CoverageRegistered", "coverageId")

    def end_coverage(self, coverage_id: bytes, end: int) -> Receipt:
        return self._send(self.functions.endCoverage(_bytes32(coverage_id, "coverage id"), _time(end, "the end")))

    # -- claims ----------------------------------------------------------------------------------

    def submit_call(self, coverage_id: bytes, encounter: bytes, digest: bytes, service_date: int, billed: int) -> Any:
        return self.functions.submit(
            _bytes32(coverage_id, "coverage id"),
            _bytes32(encounter, "the encounter digest"),
            _bytes32(digest, "the claim digest"),
            _time(service_date, "the service date"),
            _amount(billed, "the billed amount", allow_zero=False),
        )

    def submit(
        self, coverage_id: bytes, encounter: bytes, digest: bytes, service_date: int, billed: int
    ) -> tuple[Receipt, bytes]:
        """The provider submits a claim; (receipt, claim id)."""
        receipt = self._send(self.submit_call(coverage_id, encounter, digest, service_date, billed))
        return receipt, self._logged_id(receipt, "ClaimSubmitted", "claimId")

    def pend_call(self, claim_id: bytes, reason: int, digest: bytes | None = None) -> Any:
        return self.functions.pend(
            _bytes32(claim_id, "claim id"), _reason(reason), _bytes32(digest, "digest", optional=True)
        )

    def pend(self, claim_id: bytes, reason: int, digest: bytes | None = None) -> Receipt:
        return self._send(self.pend_call(claim_id, reason, digest))

    def supplement_call(self, claim_id: bytes, digest: bytes) -> Any:
        return self.functions.supplement(_bytes32(claim_id, "claim id"), _bytes32(digest, "the supporting digest"))

    def supplement(self, claim_id: bytes, digest: bytes) -> Receipt:
        return self._send(self.supplement_call(claim_id, digest))

    def adjudicate_call(
        self, claim_id: bytes, approved: int, patient_share: int = 0, reason: int = 0, digest: bytes | None = None
    ) -> Any:
        return self.functions.adjudicate(
            _bytes32(claim_id, "claim id"),
            _amount(approved, "the approved amount"),
            _amount(patient_share, "the patient share"),
            _reason(reason),
            _bytes32(digest, "digest", optional=True),
        )

    def adjudicate(
        self, claim_id: bytes, approved: int, patient_share: int = 0, reason: int = 0, digest: bytes | None = None
    ) -> Receipt:
        """Approve `approved` (> 0), or deny (0, with a reason code)."""
        return self._send(self.adjudicate_call(claim_id, approved, patient_share, reason, digest))

    def pay_call(self, claim_id: bytes) -> Any:
        return self.functions.pay(_bytes32(claim_id, "claim id"))

    def pay(self, claim_id: bytes) -> Receipt:
        return self._send(self.pay_call(claim_id))

    def appeal_call(self, claim_id: bytes, digest: bytes | None = None) -> Any:
        return self.functions.appeal(_bytes32(claim_id, "claim id"), _bytes32(digest, "digest", optional=True))

    def appeal(self, claim_id: bytes, digest: bytes | None = None) -> Receipt:
        return self._send(self.appeal_call(claim_id, digest))

    def withdraw_claim_call(self, claim_id: bytes) -> Any:
        return self.functions.withdrawClaim(_bytes32(claim_id, "claim id"))

    def withdraw_claim(self, claim_id: bytes) -> Receipt:
        return self._send(self.withdraw_claim_call(claim_id))

    # -- settlement ------------------------------------------------------------------------------

    def fund_call(self, token: str, amount: int) -> Any:
        if not isinstance(amount, int) or amount <= 0:
            raise InvalidArgumentError("the amount to fund must be a positive number of token units")
        return self.functions.fund(checked_address(token, "token"), amount)

    def fund(self, token: str, amount: int) -> Receipt:
        """Deposit `amount` into the caller's escrow (the caller approved this contract first)."""
        return self._send(self.fund_call(token, amount))

    def withdraw_escrow_call(self, token: str, amount: int) -> Any:
        if not isinstance(amount, int) or amount <= 0:
            raise InvalidArgumentError("the amount to withdraw must be a positive number of token units")
        return self.functions.withdrawEscrow(checked_address(token, "token"), amount)

    def withdraw_escrow(self, token: str, amount: int) -> Receipt:
        return self._send(self.withdraw_escrow_call(token, amount))

    def withdraw_call(self, token: str) -> Any:
        return self.functions.withdraw(checked_address(token, "token"))

    def withdraw(self, token: str) -> tuple[Receipt, int]:
        """Take the caller's whole withdrawable balance in `token`; (receipt, amount)."""
        receipt = self._send(self.withdraw_call(token))
        events = self.contract.events.PaymentWithdrawn().process_receipt(receipt.raw, errors=DISCARD)
        return receipt, sum(int(event["args"]["amount"]) for event in events)

    # -- reads -----------------------------------------------------------------------------------

    def coverage(self, coverage_id: bytes) -> Coverage | None:
        patient, start, end, insurer, token = self._call(
            self.functions.coverageOf(_bytes32(coverage_id, "coverage id"))
        )
        if int(insurer, 16) == 0:
            return None
        return Coverage(
            bytes(coverage_id),
            to_checksum_address(patient),
            to_checksum_address(insurer),
            to_checksum_address(token),
            int(start),
            int(end),
        )

    def claim(self, claim_id: bytes) -> Claim | None:
        raw = self._call(self.functions.claimOf(_bytes32(claim_id, "claim id")))
        return None if int(raw[4]) == 0 else self._claim(bytes(claim_id), raw)

    def claims(self, claim_ids: list[bytes]) -> list[Claim | None]:
        """`claim` of many ids, in JSON-RPC batches."""
        answers = self.sender.call_many([self.functions.claimOf(_bytes32(c, "claim id")) for c in claim_ids])
        return [
            None if int(raw[4]) == 0 else self._claim(bytes(c), raw) for c, raw in zip(claim_ids, answers, strict=True)
        ]

    @staticmethod
    def _claim(claim_id: bytes, raw: Any) -> Claim:
        (coverage_id, provider, service_date, due, status, round_, pended, billed, approved, reason,
         patient_share, paid) = raw  # fmt: skip
        return Claim(
            claim_id=claim_id,
            coverage_id=bytes(coverage_id),
            provider=to_checksum_address(provider),
            service_date=int(service_date),
            due=int(due),
            status=ClaimStatus(int(status)),
            round=int(round_),
            pended=bool(pended),
            billed=int(billed),
            approved=int(approved),
            reason=int(reason),
            patient_share=int(patient_share),
            paid=int(paid),
        )

    def is_final(self, claim_id: bytes) -> bool:
        return bool(self._call(self.functions.isFinal(_bytes32(claim_id, "claim id"))))

    def escrow_of(self, insurer: str, token: str) -> int:
        return int(
            self._call(self.functions.escrowOf(checked_address(insurer, "insurer"), checked_address(token, "token")))
        )

    def withdrawable(self, account: str, token: str) -> int:
        return int(self._call(self.functions.withdrawable(checked_address(account), checked_address(token, "token"))))

    def events(self, name: str, *, from_block: int = 0, to_block: int | str = "latest", **filters: Any) -> list[Any]:
        """Decoded logs of event `name`, filtered on indexed arguments."""
        event = getattr(self.contract.events, name)
        return list(event.get_logs(from_block=from_block, to_block=to_block, argument_filters=filters or None))

    def history(self, claim_id: bytes, *, from_block: int = 0) -> list[ClaimEvent]:
        """Every logged step of a claim, in chain order, with its block time (straight from the node;
        the indexer answers the same from its database)."""
        claim_id = _bytes32(claim_id, "claim id")
        logs = [log for name in CLAIM_EVENTS for log in self.events(name, from_block=from_block, claimId=claim_id)]
        logs.sort(key=lambda log: (int(log["blockNumber"]), int(log["logIndex"])))
        times: dict[int, int] = {}
        steps = []
        for log in logs:
            block = int(log["blockNumber"])
            if block not in times:
                times[block] = int(self.chain.w3.eth.get_block(block)["timestamp"])
            steps.append(
                ClaimEvent(
                    name=str(log["event"]),
                    block=block,
                    log_index=int(log["logIndex"]),
                    tx_hash="0x" + bytes(log["transactionHash"]).hex(),
                    timestamp=times[block],
                    args=dict(log["args"]),
                )
            )
        return steps

    def _logged_id(self, receipt: Receipt, event_name: str, field: str) -> bytes:
        event = getattr(self.contract.events, event_name)()
        for log in event.process_receipt(receipt.raw, errors=DISCARD):
            return bytes(log["args"][field])
        raise DeploymentError(f"{event_name} missing from transaction {receipt.tx_hash}")  # pragma: no cover


DAY = 86400


@dataclass(frozen=True)
class ClaimsSettings:
    """The Claims constructor's deadlines, in seconds, checked as the contract checks them (each
    positive and below 2**32): timely filing after the service date, adjudication after a
    submission, a supplement or an appeal, and the appeal window after a decision."""

    timely_filing_seconds: int = 90 * DAY
    adjudication_seconds: int = 30 * DAY
    appeal_seconds: int = 60 * DAY

    def __post_init__(self) -> None:
        for name, value in (
            ("timely filing", self.timely_filing_seconds),
            ("adjudication", self.adjudication_seconds),
            ("appeal", self.appeal_seconds),
        ):
            if not isinstance(value, int) or not 0 < value < 2**32:
                raise InvalidArgumentError(f"the {name} window must be between 1 second and about 136 years")

    def constructor_args(self, ledger: str) -> list[Any]:
        """The constructor's arguments: (ledger, timelyFilingSeconds, adjudicationSeconds, appealSeconds)."""
        return [
            checked_address(ledger, "ledger"),
            self.timely_filing_seconds,
            self.adjudication_seconds,
            self.appeal_seconds,
        ]


def deploy_claims_contract(
    chain: Chain, deployer: Signer, ledger: str, settings: ClaimsSettings, *, policy: TxPolicy | None = None
) -> ClaimsClient:
    """Deploy a Claims contract for `ledger` without recording it anywhere (tests, benchmarks);
    `medledger deploy claims` records it in the deployment instead."""
    artifact = load_artifact(CLAIMS_CONTRACT)
    factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    sender = TransactionSender(chain, RevertDecoder(artifact.abi), policy)
    receipt = sender.deploy(deployer, factory.constructor(*settings.constructor_args(ledger)))
    return ClaimsClient(chain, receipt.raw["contractAddress"], signer=deployer, policy=policy)
