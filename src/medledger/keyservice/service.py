"""What one key-release service decides: release its share of a record's data key, or refuse.

`ReleaseService.release` runs the checks below, in this order; the first that fails is the
refusal (a stable code, one line, an HTTP status), and nothing is released:

 1. the body is a well-formed request (`bad-request`, 400)
 2. the EIP-712 signature recovers the reader (`bad-signature`, 401); then the reader's rate
    limit (`rate-limited`, 429)
 3. the request names this service (`wrong-service`, 400) and a known purpose (`bad-request`, 400)
 4. its deadline is in the future and at most `max_request_lifetime` ahead, by the chain's clock
    (`request-expired`, `deadline-too-far`, 400)
 5. the ledger is not paused (`paused`, 503)
 6. the record exists (`unknown-record`, 404) and is not erased (`record-erased`, 410)
 7. the `accessTx` receipt succeeded and holds, emitted by the ledger, `AccessLogged` with exactly
    (patient, digest, reader, purpose) (`access-not-logged`, 403); it is `confirmations` deep
    (`access-unconfirmed`, 425) and its block at most `max_access_age` old (`access-stale`, 403)
 8. `hasAccess(patient, reader, category, purpose, READ)` holds now: consent, guardianship or an
    open break-glass, and an active provider (`no-access`, 403)
 9. the header proof verifies against the on-chain digest and codec (`bad-proof`, 400)
10. the header is bound to this chain, ledger, patient, the record's category and the record's
    on-chain author (`wrong-binding`, 400). A header that binds no author (format versions 1 and
    2) is refused the same way: the patient re-encrypts such a record (`medledger record
    reencrypt`). The author check is what stops a decoy record, registered by another writer,
    from reusing a header (and so the data key) of a record it did not write (see 15).
11. this service is member `index` of the header's set version and holds that version's key
    (`not-a-member`, `set-inactive`, `key-mismatch`, 409)
12. the header's threshold section is that set's: its k is the set's k, and it holds one stanza
    per member, in the set's order, sealed to the key the set registers for it (`bad-header`, 409);
    a header claiming k=1 under a 3-of-5 set would let one service, or one careless reader, suffice
13. the (accessTx, digest, reader) triple was never released (`replayed`, 409)
14. this service's own stanza opens to a share that matches its commitment (`no-share`, 409)
15. the header's key commitment was never released under another record (`header-reused`, 409),
    defence in depth behind 10. The binding names no single record, only its patient, category
    and author, so after 10 a decoy can reuse a header only under a record registered by that
    header's own author (who holds the key anyway), or by the patient after a takeover. The release
    log remembers the commitment of every header it allowed, with the record's on-chain creation
    time: the record registered first owns it, for good (releaselog.py), so even such a copy does
    not open a key already released under another record.

Then it re-seals its share to the reader's one-time key. A chain that does not answer in time is
`chain-unavailable` (503). Every decision after step 2 is appended to the release log; no share or key is ever logged.

The chain is read in one JSON-RPC batch per request in the common case (chainview.py): the
latest block, `paused`, `recordOf`, the receipt (which carries its block's time on anvil and
recent geth) and `hasAccess` for the record's category, cached once seen (a record's category
never changes). Otherwise a second batch asks what is missing. Active service sets are cached
(they cannot change once active). `hasAccess`, `paused` and the record are asked every time.
"""

from __future__ import annotations

import base64
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_utils import keccak, to_checksum_address

if TYPE_CHECKING:
    from medledger.chain.accounts import Signer
    from medledger.chain.connection import Chain
from medledger.crypto.container import (
    ContainerBinding,
    ContainerHeader,
    ThresholdSection,
    open_service_share,
    read_header_bytes,
)
from medledger.crypto.errors import CryptoError
from medledger.crypto.keys import EncryptionKeyPair, derive_encryption_keypair
from medledger.crypto.sealing import seal
from medledger.crypto.shares import KeyShare, encode_share
from medledger.ledger.values import ServiceSetInfo
from medledger.scopes import Permission, Purpose
from medledger.storage.errors import StorageError
from medledger.storage.proof import verify_header_proof

from .chainview import CallRevertedError, ChainUnavailableError, ChainView, RpcCall
from .config import ServiceConfig
from .errors import KeyServiceError, ReleaseRefusedError
from .ratelimit import RateLimiter
from .releaselog import ReleaseLog
from .requests import ReleaseDomain, ReleaseRequest, SignedRelease, parse_release_body

__all__ = ["ACCESS_LOGGED_TOPIC", "Health", "ReleaseService"]


def _quantity(value: Any) -> int:
    """A JSON-RPC quantity: a 0x-hex string (some nodes send a plain number)."""
    return value if isinstance(value, int) else int(str(value), 16)


ACCESS_LOGGED_TOPIC = keccak(text="AccessLogged(address,bytes32,address,uint8)")
RELEASED = "released"


@dataclass(frozen=True)
class Health:
    ok: bool
    chain: bool
    chain_id: int | None
    block: int | None
    service: str
    current_set: int | None
    member_index: int
    holds_key: bool
    paused: bool | None
    log_writable: bool
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "chain": self.chain,
            "chainId": self.chain_id,
            "block": self.block,
            "service": self.service,
            "currentSet": self.current_set,
            "memberIndex": self.member_index,
            "holdsKey": self.holds_key,
            "paused": self.paused,
            "logWritable": self.log_writable,
            "detail": self.detail,
        }


class ReleaseService:
    """One service: its account and X25519 key, its view of the chain, its log and limits.

    With `chain` (e.g. the embedded in-process chain of the demo) reads go through that web3
    connection one at a time; otherwise they are JSON-RPC batches to `config.rpc_url`."""

    def __init__(
        self,
        config: ServiceConfig,
        *,
        signer: Signer | None = None,
        chain: Chain | None = None,
        log: ReleaseLog | None = None,
    ):
        self.config = config
        signer = signer or config.signer()
        self.address = signer.address
        self._keypair: EncryptionKeyPair = derive_encryption_keypair(signer.private_key_bytes())
        self.public_key = self._keypair.public
        self.view = ChainView(
            config.rpc_url, config.ledger, timeout=config.chain_timeout, w3=chain.w3 if chain is not None else None
        )
        self.domain = ReleaseDomain(config.chain_id, config.ledger)
        self._separator = self.domain.separator()
        self._ledger_bytes = bytes.fromhex(config.ledger[2:])
        self.log = log or ReleaseLog(config.database)
        self.limiter = RateLimiter(config.rate_limit, config.rate_burst)
        self._sets: dict[int, ServiceSetInfo] = {}  # active sets only: they never change again
        self._block_times: OrderedDict[str, int] = OrderedDict()
        self._categories: OrderedDict[tuple[str, bytes], int] = OrderedDict()
        self._cache_lock = threading.Lock()

    # -- the release -------------------------------------------------------------------------

    def release(self, body: Any) -> dict[str, Any]:
        """Decide on one decoded request body; the reply, or ReleaseRefusedError."""
        signed = parse_release_body(body)
        request = signed.request
        reader = request.recover(signed.signature, self.domain, self._separator)
        if not self.limiter.allow(reader):
            raise ReleaseRefusedError("rate-limited", f"too many requests from {reader}; slow down", 429)
        context: dict[str, Any] = {"set_version": None}
        try:
            reply = self._checked_release(signed, reader, context)
        except ReleaseRefusedError as refusal:
            self._record(request, reader, context["set_version"], refusal.code)
            raise
        self._record(request, reader, context["set_version"], RELEASED)
        return reply

    def _checked_release(self, signed: SignedRelease, reader: str, context: dict[str, Any]) -> dict[str, Any]:
        request = signed.request
        if request.service != self.address:
            raise ReleaseRefusedError(
                "wrong-service", f"this request is for service {request.service}, this is {self.address}", 400
            )
        if request.purpose >= len(Purpose):
            raise ReleaseRefusedError(
                "bad-request", f"purpose {request.purpose} is not an HL7 PurposeOfUse bit 0..{len(Purpose) - 1}", 400
            )
        view = self.view
        # One batch in the common case: a record's category never changes, so once known it is
        # asked for together with everything else; a block time comes with the receipt on nodes
        # that include it (anvil, recent geth). Refusals below are still decided in the order above.
        known_category = self._known_category(request.patient, request.digest)
        calls = [
            view.request("eth_getBlockByNumber", "latest", False),
            view.call("paused"),
            view.call("recordOf", request.patient, request.digest),
            view.request("eth_getTransactionReceipt", "0x" + request.access_tx.hex()),
        ]
        if known_category is not None:
            calls.append(
                view.call("hasAccess", request.patient, reader, known_category, request.purpose, int(Permission.READ))
            )
        latest, paused, record, receipt, *access = self._batch(calls)
        now, head = int(latest["timestamp"], 16), int(latest["number"], 16)
        if request.deadline <= now:
            raise ReleaseRefusedError(
                "request-expired", f"the request expired at {request.deadline} (chain time is {now})", 400
            )
        if request.deadline > now + self.config.max_request_lifetime:
            raise ReleaseRefusedError(
                "deadline-too-far",
                f"the request's deadline is more than {self.config.max_request_lifetime} s ahead",
                400,
            )
        if paused:
            raise ReleaseRefusedError("paused", "the ledger is paused: no key is released until it resumes", 503)
        author, codec, category, created_at, _, erased = record
        if int(author, 16) == 0:
            raise ReleaseRefusedError(
                "unknown-record", f"{request.patient} has no record 0x{request.digest.hex()}", 404
            )
        self._remember_category(request.patient, request.digest, category)
        if erased:
            raise ReleaseRefusedError("record-erased", f"record 0x{request.digest.hex()} was erased", 410)
        block_hash = self._check_access_logged(request, reader, receipt, head)
        block_time = (
            _quantity(receipt["blockTimestamp"])
            if receipt.get("blockTimestamp") is not None
            else self._cached_block_time(block_hash)
        )
        need_access = not access or known_category != category
        more = []
        if need_access:
            more.append(
                view.call("hasAccess", request.patient, reader, category, request.purpose, int(Permission.READ))
            )
        if block_time is None:
            more.append(view.request("eth_getBlockByHash", block_hash, False))
        answers = self._batch(more) if more else []
        if need_access:
            access = [answers[0]]
        if block_time is None:
            block_time = self._remember_block_time(block_hash, int(answers[-1]["timestamp"], 16))
        age = now - block_time
        if age > self.config.max_access_age:
            raise ReleaseRefusedError(
                "access-stale",
                f"the logged access is {age} s old (at most {self.config.max_access_age} s); log the access again",
                403,
            )
        if not access[0]:
            raise ReleaseRefusedError(
                "no-access",
                f"{reader} may not read this record's category for purpose {Purpose(request.purpose).name} now",
                403,
            )
        header = self._verified_header(signed, request.digest, codec)
        self._check_binding(header, request.patient, category, author)
        if header.threshold is None:
            raise ReleaseRefusedError("no-share", "the record has no threshold section (a keyring-era container)", 409)
        context["set_version"] = header.threshold.set_version
        service_set, index = self._member_index(header.threshold.set_version, now)
        self._check_threshold_section(header.threshold, service_set)
        if self.log.was_claimed(request.access_tx, request.digest, reader):
            raise ReleaseRefusedError("replayed", "this logged access was already released to this reader", 409)
        share = self._share_for(header, index)
        owner = self.log.bind_header(header.key_commitment, request.patient, request.digest, int(created_at))
        if owner is not None:
            raise ReleaseRefusedError(
                "header-reused",
                f"record 0x{request.digest.hex()} reuses the header (and data key) of record 0x{owner.hex()}",
                409,
            )
        if not self.log.claim(request.access_tx, request.digest, reader):
            raise ReleaseRefusedError("replayed", "this logged access was already released to this reader", 409)
        sealed = seal(encode_share(share), request.reader_key)
        return {"sealedShare": base64.b64encode(sealed).decode(), "index": index}

    def _check_binding(self, header: ContainerHeader, patient: str, category: int, author: str) -> None:
        """The header is bound to this chain, ledger, patient, the record's category and its
        on-chain author (else `wrong-binding`). A header that binds no author (formats 1 and 2)
        is refused: any writer of the patient's category could reuse it under a decoy record."""
        if header.author is None:
            raise ReleaseRefusedError(
                "wrong-binding",
                f"the container (format version {header.version}) does not bind its author, so its key is not "
                "released; the patient must re-encrypt the record (`medledger record reencrypt`)",
                400,
            )
        if header.author != bytes.fromhex(author[2:]):
            raise ReleaseRefusedError(
                "wrong-binding",
                f"the container binds author {to_checksum_address(header.author)}, but the record was "
                f"registered by {to_checksum_address(author)}",
                400,
            )
        binding = ContainerBinding(
            chain_id=self.config.chain_id,
            registry=self._ledger_bytes,
            patient=bytes.fromhex(patient[2:]),
            category=category,
            author=header.author,
        )
        if header.binding_digest != binding.digest():
            raise ReleaseRefusedError(
                "wrong-binding", "the container is not bound to this chain, ledger, patient, category and author", 400
            )

    def _share_for(self, header: ContainerHeader, index: int) -> KeyShare:
        """This service's share of the record's key, checked against its commitment."""
        try:
            return open_service_share(header, index, self._keypair)
        except CryptoError as exc:
            raise ReleaseRefusedError("no-share", f"this service's share stanza does not open: {exc}", 409) from None

    # -- the checks ----------------------------------------------------------------------------

    def _check_access_logged(self, request: ReleaseRequest, reader: str, receipt: Any, head: int) -> str:
        """The receipt's block hash, once it shows exactly this access, logged by the ledger, deep enough."""
        tx = "0x" + request.access_tx.hex()
        if receipt is None:
            raise ReleaseRefusedError("access-not-logged", f"transaction {tx} is not mined on this chain", 403)
        if int(receipt["status"], 16) != 1:
            raise ReleaseRefusedError("access-not-logged", f"transaction {tx} failed", 403)
        expected = [
            "0x" + ACCESS_LOGGED_TOPIC.hex(),
            "0x" + request.patient[2:].lower().rjust(64, "0"),
            "0x" + request.digest.hex(),
            "0x" + reader[2:].lower().rjust(64, "0"),
        ]
        purpose = "0x" + request.purpose.to_bytes(32, "big").hex()
        ledger = self.config.ledger.lower()
        if not any(
            str(log["address"]).lower() == ledger
            and [str(t).lower() for t in log["topics"]] == expected
            and str(log["data"]).lower() == purpose
            for log in receipt["logs"]
        ):
            raise ReleaseRefusedError(
                "access-not-logged",
                f"transaction {tx} logs no access by {reader} to this record "
                f"for purpose {Purpose(request.purpose).name}",
                403,
            )
        depth = head - int(receipt["blockNumber"], 16) + 1
        if depth < self.config.confirmations:
            raise ReleaseRefusedError(
                "access-unconfirmed",
                f"the logged access has {depth} of {self.config.confirmations} confirmations; retry shortly",
                425,
            )
        return str(receipt["blockHash"])

    def _verified_header(self, signed: SignedRelease, digest: bytes, codec: int) -> ContainerHeader:
        try:
            prefix = verify_header_proof(digest, codec, list(signed.proof))
        except (StorageError, ValueError) as exc:
            raise ReleaseRefusedError("bad-proof", f"the header proof does not verify: {exc}", 400) from None
        try:
            return read_header_bytes(prefix)
        except (CryptoError, ValueError) as exc:
            raise ReleaseRefusedError("bad-proof", f"the proven blob has no readable header: {exc}", 400) from None

    @staticmethod
    def _check_threshold_section(section: ThresholdSection, service_set: ServiceSetInfo) -> None:
        """The header's k and share stanzas are exactly the on-chain set's (else `bad-header`)."""
        version = service_set.version
        if section.threshold != service_set.threshold:
            raise ReleaseRefusedError(
                "bad-header",
                f"the header asks for {section.threshold} shares but service set {version} needs "
                f"{service_set.threshold}",
                409,
            )
        if section.share_count != len(service_set.members):
            raise ReleaseRefusedError(
                "bad-header",
                f"the header holds {section.share_count} shares but service set {version} has "
                f"{len(service_set.members)} members",
                409,
            )
        for position, (stanza, key) in enumerate(zip(section.stanzas, service_set.encryption_keys, strict=True)):
            if stanza.index != position + 1 or stanza.public != key:
                raise ReleaseRefusedError(
                    "bad-header",
                    f"the header's share {position + 1} is not sealed to member {position + 1} of set {version}",
                    409,
                )

    def _member_index(self, version: int, now: int) -> tuple[ServiceSetInfo, int]:
        view = self.service_set(version)
        if view is None:
            raise ReleaseRefusedError("not-a-member", f"service set {version} does not exist", 409)
        if view.cancelled or view.activates_at > now:
            raise ReleaseRefusedError("set-inactive", f"service set {version} is cancelled or not yet active", 409)
        index = view.index_of(self.address)
        if index == 0:
            raise ReleaseRefusedError("not-a-member", f"{self.address} is not a member of service set {version}", 409)
        if view.encryption_keys[index - 1] != self.public_key:
            raise ReleaseRefusedError(
                "key-mismatch", f"service set {version} registers another key for {self.address}", 409
            )
        return view, index

    # -- chain reads ---------------------------------------------------------------------------

    def service_set(self, version: int) -> ServiceSetInfo | None:
        """Set `version` as the chain has it (cached once active), None if there is none."""
        with self._cache_lock:
            cached = self._sets.get(version)
        if cached is not None:
            return cached
        count, latest = self._batch(
            lambda: [
                self.view.services_call("serviceSetCount"),
                self.view.request("eth_getBlockByNumber", "latest", False),
            ]
        )
        if not 1 <= version <= count:
            return None
        members, keys, threshold, activates_at, cancelled = self._batch(
            lambda: [self.view.services_call("serviceSet", version)]
        )[0]
        view = ServiceSetInfo(
            version,
            tuple(to_checksum_address(m) for m in members),
            tuple(bytes(k) for k in keys),
            int(threshold),
            int(activates_at),
            bool(cancelled),
        )
        if not view.cancelled and view.activates_at <= int(latest["timestamp"], 16):  # active: fixed for ever
            with self._cache_lock:
                self._sets[version] = view
        return view

    def _known_category(self, patient: str, digest: bytes) -> int | None:
        with self._cache_lock:
            return self._categories.get((patient, digest))

    def _remember_category(self, patient: str, digest: bytes, category: int) -> None:
        """A record's category is fixed when it is added: cached (bounded)."""
        with self._cache_lock:
            self._categories[(patient, digest)] = category
            while len(self._categories) > 65536:
                self._categories.popitem(last=False)

    def _cached_block_time(self, block_hash: str) -> int | None:
        with self._cache_lock:
            return self._block_times.get(block_hash)

    def _remember_block_time(self, block_hash: str, timestamp: int) -> int:
        """Cached by hash: a reorganised block has another hash."""
        with self._cache_lock:
            self._block_times[block_hash] = timestamp
            while len(self._block_times) > 4096:
                self._block_times.popitem(last=False)
        return timestamp

    def _batch(self, calls: list[RpcCall] | Callable[[], list[RpcCall]]) -> list[Any]:
        """The batch's results; any chain failure as a refusal (`calls` may be built lazily, since
        building a services call may itself ask the chain)."""
        try:
            return self.view.batch(calls() if callable(calls) else calls)
        except CallRevertedError as exc:
            raise ReleaseRefusedError("bad-request", f"the ledger refuses this request: {exc}", 400) from None
        except ChainUnavailableError as exc:
            raise ReleaseRefusedError("chain-unavailable", str(exc), 503) from None

    def _record(self, request: ReleaseRequest, reader: str, set_version: int | None, outcome: str) -> None:
        self.log.append(
            reader=reader,
            patient=request.patient,
            digest=request.digest,
            purpose=request.purpose,
            access_tx=request.access_tx,
            set_version=set_version,
            outcome=outcome,
        )

    # -- health --------------------------------------------------------------------------------

    def health(self) -> Health:
        """Chain reachable, this service a member of the current set with its key, log writable."""
        writable = self.log.writable()
        try:
            chain_id, block, paused, version = self.view.batch(
                [
                    self.view.request("eth_chainId"),
                    self.view.request("eth_blockNumber"),
                    self.view.call("paused"),
                    self.view.services_call("currentServiceSet"),
                ]
            )
            chain_id, block = int(chain_id, 16), int(block, 16)
            view = self.service_set(version) if version else None
        except (KeyServiceError, ReleaseRefusedError) as exc:
            return Health(False, False, None, None, self.address, None, 0, False, None, writable, str(exc))
        index = view.index_of(self.address) if view else 0
        holds = view is not None and index > 0 and view.encryption_keys[index - 1] == self.public_key
        problems = [
            text
            for bad, text in (
                (chain_id != self.config.chain_id, f"the RPC serves chain {chain_id}, not {self.config.chain_id}"),
                (version == 0, "no service set is active"),
                (version != 0 and index == 0, f"not a member of the current set {version}"),
                (index > 0 and not holds, f"the current set {version} registers another key for this service"),
                (bool(paused), "the ledger is paused"),
                (not writable, "the release log is not writable"),
            )
            if bad
        ]
        return Health(
            not problems,
            chain_id == self.config.chain_id,
            chain_id,
            block,
            self.address,
            version or None,
            index,
            holds,
            bool(paused),
            writable,
            "; ".join(problems),
        )

    def close(self) -> None:
        self.view.close()
        self.log.close()
