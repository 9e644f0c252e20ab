"""EIP-712 signed consent: build and sign Grant / Revoke / guardian / CancelNonces messages off
line, and relay them from any account (which pays the gas).

Every message binds when it was issued (`issuedAt`) and its deadline; the contract accepts it only
while issuedAt <= now <= deadline and deadline - issuedAt <= 30 days, so a signature's whole
lifetime is bounded, not only the wait for a relay. A patient cancels every unrelayed message for
a pair by bumping the pair's nonces (`cancel_nonces`, directly or as a signed CancelNonces).

A signed message is a plain JSON document (`SignedMessage.to_json`) so a patient can sign on an
offline machine and hand the file to a relayer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import to_checksum_address
from web3.contract.contract import ContractFunction

from medledger.chain.accounts import Signer
from medledger.chain.transactions import Receipt
from medledger.ledger.base import InvalidArgumentError, ModuleClient, checked_address

DOMAIN_NAME = "MedLedger"
DOMAIN_VERSION = "1"
MAX_SIGNATURE_LIFETIME = 30 * 24 * 3600

_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
TYPES: dict[str, list[dict[str, str]]] = {
    "Grant": [
        {"name": "patient", "type": "address"},
        {"name": "grantee", "type": "address"},
        {"name": "categories", "type": "uint64"},
        {"name": "purposes", "type": "uint16"},
        {"name": "permissions", "type": "uint8"},
        {"name": "expiry", "type": "uint40"},
        {"name": "nonce", "type": "uint64"},
        {"name": "issuedAt", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "Revoke": [
        {"name": "patient", "type": "address"},
        {"name": "grantee", "type": "address"},
        {"name": "nonce", "type": "uint64"},
        {"name": "issuedAt", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "AppointGuardian": [
        {"name": "patient", "type": "address"},
        {"name": "guardian", "type": "address"},
        {"name": "until", "type": "uint40"},
        {"name": "canAppoint", "type": "bool"},
        {"name": "nonce", "type": "uint64"},
        {"name": "issuedAt", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "RemoveGuardian": [
        {"name": "patient", "type": "address"},
        {"name": "guardian", "type": "address"},
        {"name": "nonce", "type": "uint64"},
        {"name": "issuedAt", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "CancelNonces": [
        {"name": "patient", "type": "address"},
        {"name": "counterparty", "type": "address"},
        {"name": "consentNonce", "type": "uint64"},
        {"name": "guardianNonce", "type": "uint64"},
        {"name": "issuedAt", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
}


class SignedMessageError(InvalidArgumentError):
    """A signed-message file that is malformed, or whose signature is not the patient's."""


@dataclass(frozen=True)
class SignedMessage:
    """One signed EIP-712 message: the typed data and the signature, nothing else (no message
    carries key material; readers get record keys from the key-release services)."""

    typed_data: dict[str, Any]
    signature: bytes

    @property
    def kind(self) -> str:
        return self.typed_data["primaryType"]

    @property
    def message(self) -> dict[str, Any]:
        return self.typed_data["message"]

    def to_json(self) -> str:
        return json.dumps(
            {
                "typedData": self.typed_data,
                "signature": "0x" + self.signature.hex(),
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> SignedMessage:
        try:
            data = json.loads(text)
            typed = data["typedData"]
            kind = typed["primaryType"]
            signature = bytes.fromhex(data["signature"].removeprefix("0x"))
            fields = typed["types"][kind] if kind in TYPES else None
            signed_fields = set(typed["message"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SignedMessageError(f"not a medledger signed message: {exc}") from None
        if kind not in TYPES:
            raise SignedMessageError(f"unknown signed message type {kind!r}; expected one of {sorted(TYPES)}")
        if "envelope" in data or "envelopeHash" in signed_fields:
            raise SignedMessageError(
                f"this signed {kind} carries a key envelope, which medledger no longer accepts "
                "(no key material goes on chain); ask the patient to sign the message again"
            )
        if fields != TYPES[kind]:
            raise SignedMessageError(
                f"the signed {kind} does not have this version's fields; ask the patient to sign it again"
            )
        return cls(typed, signature)

    def recovered_signer(self) -> str:
        """The account whose key made the signature (for EOAs; contract wallets use ERC-1271)."""
        try:
            return Account.recover_message(encode_typed_data(full_message=self.typed_data), signature=self.signature)
        except Exception as exc:  # eth-account raises several types for malformed signatures
            raise SignedMessageError(f"the signature does not verify: {exc}") from None


def typed_data(
    kind: str,
    *,
    chain_id: int,
    contract: str,
    message: dict[str, Any],
    types: Mapping[str, list[dict[str, str]]] = TYPES,
    domain_name: str = DOMAIN_NAME,
    domain_version: str = DOMAIN_VERSION,
) -> dict[str, Any]:
    """EIP-712 typed data of one message: the ledger's by default, another contract's (Studies)
    with its own `types` and domain name."""
    return {
        "types": {"EIP712Domain": _DOMAIN_FIELDS, kind: types[kind]},
        "primaryType": kind,
        "domain": {
            "name": domain_name,
            "version": domain_version,
            "chainId": int(chain_id),
            "verifyingContract": to_checksum_address(contract),
        },
        "message": message,
    }


def sign(signer: Signer, data: dict[str, Any]) -> SignedMessage:
    """Sign off line: needs no connection, only the chain id and contract in `data`'s domain."""
    signed = Account.sign_typed_data(signer.private_key_bytes(), full_message=data)
    return SignedMessage(data, bytes(signed.signature))


def grant_message(
    *,
    patient: str,
    grantee: str,
    categories: int,
    purposes: int,
    permissions: int,
    expiry: int,
    nonce: int,
    issued_at: int,
    deadline: int,
) -> dict[str, Any]:
    return {
        "patient": checked_address(patient, "patient"),
        "grantee": checked_address(grantee, "grantee"),
        "categories": int(categories),
        "purposes": int(purposes),
        "permissions": int(permissions),
        "expiry": int(expiry),
        "nonce": int(nonce),
        "issuedAt": int(issued_at),
        "deadline": int(deadline),
    }


def revoke_message(*, patient: str, grantee: str, nonce: int, issued_at: int, deadline: int) -> dict[str, Any]:
    return {
        "patient": checked_address(patient, "patient"),
        "grantee": checked_address(grantee, "grantee"),
        "nonce": int(nonce),
        "issuedAt": int(issued_at),
        "deadline": int(deadline),
    }


def appoint_guardian_message(
    *,
    patient: str,
    guardian: str,
    until: int,
    can_appoint: bool,
    nonce: int,
    issued_at: int,
    deadline: int,
) -> dict[str, Any]:
    return {
        "patient": checked_address(patient, "patient"),
        "guardian": checked_address(guardian, "guardian"),
        "until": int(until),
        "canAppoint": bool(can_appoint),
        "nonce": int(nonce),
        "issuedAt": int(issued_at),
        "deadline": int(deadline),
    }


def remove_guardian_message(
    *, patient: str, guardian: str, nonce: int, issued_at: int, deadline: int
) -> dict[str, Any]:
    return {
        "patient": checked_address(patient, "patient"),
        "guardian": checked_address(guardian, "guardian"),
        "nonce": int(nonce),
        "issuedAt": int(issued_at),
        "deadline": int(deadline),
    }


def cancel_nonces_message(
    *, patient: str, counterparty: str, consent_nonce: int, guardian_nonce: int, issued_at: int, deadline: int
) -> dict[str, Any]:
    return {
        "patient": checked_address(patient, "patient"),
        "counterparty": checked_address(counterparty, "counterparty"),
        "consentNonce": int(consent_nonce),
        "guardianNonce": int(guardian_nonce),
        "issuedAt": int(issued_at),
        "deadline": int(deadline),
    }


class SignedConsentClient(ModuleClient):
    """Builds messages with the chain's current nonce, and relays signed messages."""

    def domain_separator(self) -> bytes:
        return bytes(self._call(self.functions.DOMAIN_SEPARATOR()))

    def _typed(self, kind: str, message: dict[str, Any]) -> dict[str, Any]:
        return typed_data(kind, chain_id=self.contract.w3.eth.chain_id, contract=self.contract.address, message=message)

    def _validity(self, seconds: int) -> dict[str, int]:
        """issuedAt (chain time now) and deadline (`seconds` later)."""
        if not 0 < seconds <= MAX_SIGNATURE_LIFETIME:
            raise InvalidArgumentError(f"a signature may be valid for 1 s to {MAX_SIGNATURE_LIFETIME // 86400} days")
        now = self.sender.chain.now()
        return {"issued_at": now, "deadline": now + seconds}

    def _consent_nonce(self, patient: str, grantee: str) -> int:
        return int(
            self._call(
                self.functions.consentOf(checked_address(patient, "patient"), checked_address(grantee, "grantee"))
            )[4]
        )

    def _guardian_nonce(self, patient: str, guardian: str) -> int:
        return int(
            self._call(
                self.functions.guardianOf(checked_address(patient, "patient"), checked_address(guardian, "guardian"))
            )[4]
        )

    def grant_data(
        self,
        patient: str,
        grantee: str,
        *,
        categories: int,
        purposes: int,
        permissions: int,
        expiry: int,
        valid_for: int = 3600,
    ) -> dict[str, Any]:
        return self._typed(
            "Grant",
            grant_message(
                patient=patient,
                grantee=grantee,
                categories=categories,
                purposes=purposes,
                permissions=permissions,
                expiry=expiry,
                nonce=self._consent_nonce(patient, grantee),
                **self._validity(valid_for),
            ),
        )

    def revoke_data(self, patient: str, grantee: str, *, valid_for: int = 3600) -> dict[str, Any]:
        return self._typed(
            "Revoke",
            revoke_message(
                patient=patient,
                grantee=grantee,
                nonce=self._consent_nonce(patient, grantee),
                **self._validity(valid_for),
            ),
        )

    def appoint_guardian_data(
        self,
        patient: str,
        guardian: str,
        *,
        until: int,
        can_appoint: bool = False,
        valid_for: int = 3600,
    ) -> dict[str, Any]:
        return self._typed(
            "AppointGuardian",
            appoint_guardian_message(
                patient=patient,
                guardian=guardian,
                until=until,
                can_appoint=can_appoint,
                nonce=self._guardian_nonce(patient, guardian),
                **self._validity(valid_for),
            ),
        )

    def remove_guardian_data(self, patient: str, guardian: str, *, valid_for: int = 3600) -> dict[str, Any]:
        return self._typed(
            "RemoveGuardian",
            remove_guardian_message(
                patient=patient,
                guardian=guardian,
                nonce=self._guardian_nonce(patient, guardian),
                **self._validity(valid_for),
            ),
        )

    def cancel_nonces_data(self, patient: str, counterparty: str, *, valid_for: int = 3600) -> dict[str, Any]:
        """A CancelNonces message binding the pair's current nonces (so it works once)."""
        return self._typed(
            "CancelNonces",
            cancel_nonces_message(
                patient=patient,
                counterparty=counterparty,
                consent_nonce=self._consent_nonce(patient, counterparty),
                guardian_nonce=self._guardian_nonce(patient, counterparty),
                **self._validity(valid_for),
            ),
        )

    def cancel_nonces(self, counterparty: str) -> Receipt:
        """Void every message the signer signed for (signer, `counterparty`) and nobody relayed yet."""
        return self._send(self.functions.cancelNonces(checked_address(counterparty, "counterparty")))

    def relay_call(self, signed: SignedMessage) -> ContractFunction:
        """The unsent *BySig call for `signed`, after checking it targets this chain and contract."""
        domain = signed.typed_data.get("domain", {})
        if int(domain.get("chainId", -1)) != int(self.contract.w3.eth.chain_id):
            raise SignedMessageError(
                f"the message was signed for chain {domain.get('chainId')}, "
                f"this is chain {self.contract.w3.eth.chain_id}"
            )
        if to_checksum_address(domain.get("verifyingContract", "0x" + "00" * 20)) != self.contract.address:
            raise SignedMessageError(
                f"the message was signed for contract {domain.get('verifyingContract')}, not {self.contract.address}"
            )
        m, sig = signed.message, signed.signature
        f = self.functions
        if signed.kind == "CancelNonces":
            return f.cancelNoncesBySig(m["patient"], m["counterparty"], m["issuedAt"], m["deadline"], sig)
        validity = (m["nonce"], m["issuedAt"], m["deadline"])
        if signed.kind == "Grant":
            return f.grantBySig(
                m["patient"],
                m["grantee"],
                m["categories"],
                m["purposes"],
                m["permissions"],
                m["expiry"],
                validity,
                sig,
            )
        if signed.kind == "Revoke":
            return f.revokeBySig(m["patient"], m["grantee"], validity, sig)
        if signed.kind == "AppointGuardian":
            return f.appointGuardianBySig(m["patient"], m["guardian"], m["until"], m["canAppoint"], validity, sig)
        if signed.kind == "RemoveGuardian":
            return f.removeGuardianBySig(m["patient"], m["guardian"], validity, sig)
        raise SignedMessageError(f"unknown signed message type {signed.kind!r}")

    def relay(self, signed: SignedMessage) -> Receipt:
        """Submit `signed` from this client's signer, who pays the gas."""
        return self._send(self.relay_call(signed))
