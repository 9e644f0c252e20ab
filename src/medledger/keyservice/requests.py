"""The release request a reader signs (EIP-712) and a key-release service verifies.

Typed data::

    domain  EIP712Domain(name "medledger key release", version "1", chainId, verifyingContract = the ledger)
    ReleaseRequest(address service, address patient, bytes32 digest, uint8 purpose, bytes32 accessTx,
                   bytes32 readerKey, uint256 deadline)

`service` pins the request to one service, `accessTx` to one confirmed `logAccess` transaction,
`readerKey` to the reader's one-time X25519 key (the share is sealed to it, so a request copied
off the wire is useless to anyone else), and `deadline` (unix time, chain clock) bounds its life.

Every field is a static ABI type, so the struct hash is computed here directly (one keccak over
eight 32-byte words) rather than through a generic typed-data encoder, and the signer is recovered
with libsecp256k1 (coincurve) directly: a service verifies hundreds of these a second.
tests/keyservice checks hashes, signatures and addresses against eth-account's implementation.
"""

from __future__ import annotations

import base64
import binascii
import functools
from dataclasses import dataclass
from typing import Any

from coincurve import PrivateKey, PublicKey
from Crypto.Hash import keccak as keccak_hash
from eth_utils import keccak

from medledger.chain.accounts import Signer

from .errors import ReleaseRefusedError

__all__ = [
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "RELEASE_TYPES",
    "ReleaseDomain",
    "ReleaseRequest",
    "SignedRelease",
    "parse_release_body",
]

DOMAIN_NAME = "medledger key release"
DOMAIN_VERSION = "1"
RELEASE_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "ReleaseRequest": [
        {"name": "service", "type": "address"},
        {"name": "patient", "type": "address"},
        {"name": "digest", "type": "bytes32"},
        {"name": "purpose", "type": "uint8"},
        {"name": "accessTx", "type": "bytes32"},
        {"name": "readerKey", "type": "bytes32"},
        {"name": "deadline", "type": "uint256"},
    ],
}
_DOMAIN_TYPEHASH = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
_REQUEST_TYPEHASH = keccak(
    text="ReleaseRequest(address service,address patient,bytes32 digest,uint8 purpose,bytes32 accessTx,"
    "bytes32 readerKey,uint256 deadline)"
)
MAX_PROOF_BLOCKS = 8


_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HEX = frozenset("0123456789abcdefABCDEF")


def _keccak(data: bytes) -> bytes:
    return keccak_hash.new(digest_bits=256, data=data).digest()


@functools.lru_cache(maxsize=4096)
def _eip55(lowered: str) -> str:
    """The EIP-55 form of 40 lowercase hex digits (cached: a service sees the same few addresses,
    its own, its patients', its readers', over and over)."""
    digest = _keccak(lowered.encode()).hex()
    return "0x" + "".join(c.upper() if int(d, 16) >= 8 else c for c, d in zip(lowered, digest, strict=False))


def checksum_address(value: object) -> str:
    """EIP-55 form of a 0x-prefixed 20-byte hex address (a mixed-case input must carry a valid
    checksum); ValueError otherwise. The hot path of every request, so done directly."""
    if (
        not isinstance(value, str)
        or len(value) != 42
        or value[:2] not in ("0x", "0X")
        or not _HEX.issuperset(value[2:])
    ):
        raise ValueError("not a 0x-prefixed 20-byte hex address")
    checksummed = _eip55(value[2:].lower())
    body = value[2:]
    if body != body.lower() and body != body.upper() and "0x" + body != checksummed:
        raise ValueError("a mixed-case address with a bad EIP-55 checksum")
    return checksummed


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _address_word(address: str) -> bytes:
    return b"\x00" * 12 + bytes.fromhex(address[2:])


@dataclass(frozen=True)
class ReleaseDomain:
    """The EIP-712 domain: one chain, one ledger contract."""

    chain_id: int
    ledger: str

    def separator(self) -> bytes:
        return keccak(
            _DOMAIN_TYPEHASH
            + keccak(text=DOMAIN_NAME)
            + keccak(text=DOMAIN_VERSION)
            + _word(self.chain_id)
            + _address_word(checksum_address(self.ledger))
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": self.chain_id,
            "verifyingContract": checksum_address(self.ledger),
        }


@dataclass(frozen=True)
class ReleaseRequest:
    """What a reader asks one service for: its share of one record's data key."""

    service: str
    patient: str
    digest: bytes
    purpose: int
    access_tx: bytes
    reader_key: bytes
    deadline: int

    def __post_init__(self) -> None:
        for name in ("service", "patient"):
            try:
                object.__setattr__(self, name, checksum_address(getattr(self, name)))
            except ValueError:
                raise ValueError(f"{name} is not an Ethereum address") from None
        for name in ("digest", "access_tx", "reader_key"):
            value = getattr(self, name)
            if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
                raise ValueError(f"{name} must be 32 bytes")
            object.__setattr__(self, name, bytes(value))
        if isinstance(self.purpose, bool) or not isinstance(self.purpose, int) or not 0 <= self.purpose < 256:
            raise ValueError("purpose must be an integer 0..255")
        if isinstance(self.deadline, bool) or not isinstance(self.deadline, int) or not 0 <= self.deadline < 2**256:
            raise ValueError("deadline must be a unix time")

    def struct_hash(self) -> bytes:
        return _keccak(
            _REQUEST_TYPEHASH
            + _address_word(self.service)
            + _address_word(self.patient)
            + self.digest
            + _word(self.purpose)
            + self.access_tx
            + self.reader_key
            + _word(self.deadline)
        )

    def signing_hash(self, domain: ReleaseDomain, separator: bytes | None = None) -> bytes:
        """keccak256(0x1901 || domainSeparator || hashStruct(request))."""
        return _keccak(b"\x19\x01" + (separator or domain.separator()) + self.struct_hash())

    def sign(self, signer: Signer, domain: ReleaseDomain, separator: bytes | None = None) -> bytes:
        """The reader's 65-byte signature (r || s || v, v = 27/28): RFC 6979 deterministic ECDSA
        by libsecp256k1 (coincurve), the same bytes eth-account's `unsafe_sign_hash` makes."""
        signature = PrivateKey(signer.private_key_bytes()).sign_recoverable(
            self.signing_hash(domain, separator), hasher=None
        )
        return signature[:64] + bytes([signature[64] + 27])

    def recover(self, signature: bytes, domain: ReleaseDomain, separator: bytes | None = None) -> str:
        """The address that signed this request, or a `bad-signature` refusal."""
        if len(signature) != 65 or signature[64] not in (0, 1, 27, 28):
            raise ReleaseRefusedError("bad-signature", "the signature is not 65 bytes r || s || v", 401)
        recovery = signature[64] - 27 if signature[64] >= 27 else signature[64]
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big")
        if not (0 < r < _SECP256K1_N and 0 < s < _SECP256K1_N):
            raise ReleaseRefusedError("bad-signature", "the signature's r or s is out of range", 401)
        try:
            public = PublicKey.from_signature_and_message(
                signature[:64] + bytes([recovery]), self.signing_hash(domain, separator), hasher=None
            )
        except (ValueError, TypeError):
            raise ReleaseRefusedError("bad-signature", "the signature does not recover an account", 401) from None
        return checksum_address("0x" + _keccak(public.format(compressed=False)[1:])[-20:].hex())

    def typed_data(self, domain: ReleaseDomain) -> dict[str, Any]:
        """The full EIP-712 document (for wallets and independent verifiers)."""
        return {
            "types": RELEASE_TYPES,
            "primaryType": "ReleaseRequest",
            "domain": domain.to_json(),
            "message": {
                "service": self.service,
                "patient": self.patient,
                "digest": self.digest,
                "purpose": self.purpose,
                "accessTx": self.access_tx,
                "readerKey": self.reader_key,
                "deadline": self.deadline,
            },
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "patient": self.patient,
            "digest": "0x" + self.digest.hex(),
            "purpose": self.purpose,
            "accessTx": "0x" + self.access_tx.hex(),
            "readerKey": "0x" + self.reader_key.hex(),
            "deadline": self.deadline,
        }

    @classmethod
    def from_json(cls, data: Any) -> ReleaseRequest:
        if not isinstance(data, dict):
            raise ValueError("request must be a JSON object")
        try:
            return cls(
                service=data["service"],
                patient=data["patient"],
                digest=_hex32(data["digest"], "digest"),
                purpose=data["purpose"],
                access_tx=_hex32(data["accessTx"], "accessTx"),
                reader_key=_hex32(data["readerKey"], "readerKey"),
                deadline=data["deadline"],
            )
        except KeyError as exc:
            raise ValueError(f"request has no field {exc.args[0]}") from None


@dataclass(frozen=True)
class SignedRelease:
    """A request body: the request, the reader's signature, and the header proof blocks."""

    request: ReleaseRequest
    signature: bytes
    proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "request": self.request.to_json(),
            "signature": "0x" + self.signature.hex(),
            "proof": [base64.b64encode(block).decode() for block in self.proof],
        }


def parse_release_body(data: Any) -> SignedRelease:
    """A SignedRelease from decoded JSON, or a `bad-request` refusal naming the field."""
    try:
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        request = ReleaseRequest.from_json(data.get("request"))
        signature = _hex(data.get("signature"), "signature")
        proof = data.get("proof")
        if not isinstance(proof, list) or not 1 <= len(proof) <= MAX_PROOF_BLOCKS:
            raise ValueError(f"proof must be a list of 1..{MAX_PROOF_BLOCKS} base64 blocks")
        blocks = tuple(base64.b64decode(block, validate=True) for block in proof)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ReleaseRefusedError("bad-request", f"malformed release request: {exc}", 400) from None
    return SignedRelease(request, signature, blocks)


def _hex(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError(f"{what} must be a 0x-prefixed hex string")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise ValueError(f"{what} is not valid hex") from None


def _hex32(value: Any, what: str) -> bytes:
    raw = _hex(value, what)
    if len(raw) != 32:
        raise ValueError(f"{what} must be 32 bytes")
    return raw
