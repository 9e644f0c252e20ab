"""Signed (EIP-712, relayed) consent: a patient signs off line, anyone relays and pays the gas.

A message works once, on this chain, at this contract, before its deadline and for the nonce of
its (patient, counterparty) pair; every replayed, stale, foreign, forged or tampered message is
refused by name and changes nothing. Contract-wallet patients sign through ERC-1271. Digests and
signatures are checked against Foundry's cast, an EIP-712 implementation independent of
eth-account.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from typing import Any

import pytest
from eth_account import Account
from eth_keys import keys
from eth_utils import keccak, to_checksum_address

from medledger.chain.accounts import Signer
from medledger.chain.deploy import deploy
from medledger.chain.errors import ContractRevertError
from medledger.ledger import MedLedger, ProviderKind
from medledger.ledger.base import InvalidArgumentError
from medledger.ledger.signatures import (
    MAX_SIGNATURE_LIFETIME,
    TYPES,
    SignedMessage,
    SignedMessageError,
    grant_message,
    sign,
    typed_data,
)
from medledger.scopes import Category, Permission, Purpose, mask

from .helpers import LABS_MASK, TREAT_MASK, grant_labs

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
MONTH = 30 * 86400
KINDS = ["Grant", "Revoke", "AppointGuardian", "RemoveGuardian"]


# -- builders --------------------------------------------------------------------------------


def _refusal(call) -> ContractRevertError:
    with pytest.raises(ContractRevertError) as caught:
        call()
    return caught.value


def _now(world) -> int:
    return world.chain.now()


def _grant_data(
    world,
    *,
    patient: str | None = None,
    grantee: str | None = None,
    categories: int = LABS_MASK,
    valid_for: int = 3600,
) -> dict[str, Any]:
    a = world.actors
    return world.ledger().signed.grant_data(
        patient or a.patient.address,
        grantee or a.provider.address,
        categories=categories,
        purposes=TREAT_MASK,
        permissions=Permission.READ,
        expiry=_now(world) + MONTH,
        valid_for=valid_for,
    )


def _signed_grant(world, signer: Signer | None = None, **kwargs: Any) -> SignedMessage:
    return sign(signer or world.actors.patient, _grant_data(world, **kwargs))


def _prepare(world, kind: str, guardian: Signer) -> SignedMessage:
    """A fresh patient signature of `kind`, after setting up what the message needs to succeed."""
    a = world.actors
    patient = world.ledger(a.patient)
    reader = world.ledger().signed
    if kind == "Grant":
        return _signed_grant(world)
    if kind == "Revoke":
        grant_labs(patient, a.provider.address)
        return sign(a.patient, reader.revoke_data(a.patient.address, a.provider.address))
    if kind == "AppointGuardian":
        return sign(
            a.patient, reader.appoint_guardian_data(a.patient.address, guardian.address, until=_now(world) + MONTH)
        )
    patient.guardians.appoint(a.patient.address, guardian.address, until=_now(world) + MONTH)
    return sign(a.patient, reader.remove_guardian_data(a.patient.address, guardian.address))


def _pair_state(world, signed: SignedMessage) -> tuple:
    """What a message of this kind would change: the consent or guardianship slot of its pair."""
    m = signed.message
    reader = world.ledger()
    if signed.kind in ("Grant", "Revoke"):
        return reader.consent.get(m["patient"], m["grantee"])
    return reader.guardians.get(m["patient"], m["guardian"])


def _raw_call(ledger: MedLedger, signed: SignedMessage):
    """The *BySig call built straight from the message, bypassing the client's own checks."""
    m, sig = signed.message, signed.signature
    f = ledger.contract.functions
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
    return f.removeGuardianBySig(m["patient"], m["guardian"], validity, sig)


def _relay_raw(world, signed: SignedMessage, *, ledger: MedLedger | None = None):
    relayer = ledger or world.ledger(world.actors.stranger)
    return relayer.sender.send(relayer.signer, _raw_call(relayer, signed))


def _with_signature(signed: SignedMessage, signature: bytes) -> SignedMessage:
    return replace(signed, signature=signature)


def _split(signature: bytes) -> tuple[int, int, int]:
    return int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big"), signature[64]


def _join(r: int, s: int, v: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])


# -- relaying works, and the relayer pays ------------------------------------------------------


def test_relayed_grant_gives_the_signed_access(world):
    a = world.actors
    world.ledger(a.stranger).signed.relay(_signed_grant(world))
    assert world.ledger().consent.has_access(
        a.patient.address, a.provider.address, Category.LABS, Purpose.TREAT, Permission.READ
    )


@pytest.mark.parametrize("kind", KINDS)
def test_relayer_pays_the_gas_and_the_patient_pays_nothing(world, guardian, kind):
    a = world.actors
    w3 = world.chain.w3
    signed = _prepare(world, kind, guardian)
    patient_before, relayer_before = w3.eth.get_balance(a.patient.address), w3.eth.get_balance(a.stranger.address)
    receipt = world.ledger(a.stranger).signed.relay(signed)
    fee = receipt.raw["gasUsed"] * receipt.raw["effectiveGasPrice"]
    assert fee > 0
    assert w3.eth.get_balance(a.patient.address) == patient_before
    assert w3.eth.get_balance(a.stranger.address) == relayer_before - fee


def test_relayed_grant_emits_the_signed_terms_and_no_key_material(world):
    a = world.actors
    ledger = world.ledger(a.stranger)
    signed = _signed_grant(world)
    receipt = ledger.signed.relay(signed)
    (event,) = ledger.contract.events.ConsentGranted().process_receipt(receipt.raw)
    m = signed.message
    assert dict(event.args) == {
        "patient": a.patient.address,
        "grantee": a.provider.address,
        "categories": m["categories"],
        "purposes": m["purposes"],
        "permissions": m["permissions"],
        "expiry": m["expiry"],
    }


def test_relayed_grant_advances_the_pair_nonce(world):
    a = world.actors
    world.ledger(a.stranger).signed.relay(_signed_grant(world))
    assert world.ledger().consent.get(a.patient.address, a.provider.address).nonce == 1


def test_relayed_revoke_ends_access(world, guardian):
    a = world.actors
    world.ledger(a.stranger).signed.relay(_prepare(world, "Revoke", guardian))
    consent = world.ledger().consent
    assert not consent.get(a.patient.address, a.provider.address).exists
    assert not consent.has_access(a.patient.address, a.provider.address, Category.LABS, Purpose.TREAT, Permission.READ)


def test_relayed_guardian_appointment_makes_a_guardian(world, guardian):
    a = world.actors
    world.ledger(a.stranger).signed.relay(_prepare(world, "AppointGuardian", guardian))
    assert world.ledger().guardians.is_guardian(a.patient.address, guardian.address)


def test_relayed_guardian_removal_ends_guardianship(world, guardian):
    a = world.actors
    world.ledger(a.stranger).signed.relay(_prepare(world, "RemoveGuardian", guardian))
    assert not world.ledger().guardians.is_guardian(a.patient.address, guardian.address)


def test_relayed_guardian_appointment_names_the_patient_not_the_relayer(world, guardian):
    a = world.actors
    ledger = world.ledger(a.stranger)
    receipt = ledger.signed.relay(_prepare(world, "AppointGuardian", guardian))
    (event,) = ledger.contract.events.GuardianAppointed().process_receipt(receipt.raw)
    assert event.args.appointedBy == a.patient.address


def test_relayed_guardian_removal_names_the_patient_not_the_relayer(world, guardian):
    a = world.actors
    ledger = world.ledger(a.stranger)
    receipt = ledger.signed.relay(_prepare(world, "RemoveGuardian", guardian))
    (event,) = ledger.contract.events.GuardianRemoved().process_receipt(receipt.raw)
    assert event.args.removedBy == a.patient.address


def test_a_signed_message_survives_its_json_file(world):
    a = world.actors
    signed = SignedMessage.from_json(_signed_grant(world).to_json())
    world.ledger(a.stranger).signed.relay(signed)
    assert world.ledger().consent.get(a.patient.address, a.provider.address).exists


# -- replays: refused by name, nothing changes -------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_relaying_the_same_message_twice_is_refused_as_invalid_nonce(world, guardian, kind):
    signed = _prepare(world, kind, guardian)
    relayer = world.ledger(world.actors.stranger).signed
    relayer.relay(signed)
    after_first = _pair_state(world, signed)
    error = _refusal(lambda: relayer.relay(signed))
    assert error.error == "InvalidNonce"
    assert (error.arguments["expected"], error.arguments["given"]) == (
        signed.message["nonce"] + 1,
        signed.message["nonce"],
    )
    assert _pair_state(world, signed) == after_first


def test_a_signed_grant_is_void_once_a_direct_grant_changed_the_pair(world):
    a = world.actors
    signed = _signed_grant(world, categories=mask([Category.MENTAL_HEALTH]))
    grant_labs(world.ledger(a.patient), a.provider.address)
    before = world.ledger().consent.get(a.patient.address, a.provider.address)
    assert _refusal(lambda: world.ledger(a.stranger).signed.relay(signed)).error == "InvalidNonce"
    assert world.ledger().consent.get(a.patient.address, a.provider.address) == before


def test_a_signed_appointment_is_void_once_the_guardianship_changed(world, guardian):
    a = world.actors
    signed = _prepare(world, "AppointGuardian", guardian)
    world.ledger(a.patient).guardians.appoint(a.patient.address, guardian.address, until=_now(world) + MONTH)
    world.ledger(a.patient).guardians.remove(a.patient.address, guardian.address)
    assert _refusal(lambda: world.ledger(a.stranger).signed.relay(signed)).error == "InvalidNonce"
    assert not world.ledger().guardians.is_guardian(a.patient.address, guardian.address)


def test_an_old_signed_grant_stays_dead_after_revoke_and_regrant(world):
    """Nonces are never reset: revocation keeps counting, so a grant cannot come back to life."""
    a = world.actors
    signed = _signed_grant(world, categories=mask([Category.GENOMICS]))
    relayer = world.ledger(a.stranger).signed
    relayer.relay(signed)
    world.ledger(a.patient).consent.revoke(a.provider.address)
    assert _refusal(lambda: relayer.relay(signed)).error == "InvalidNonce"
    assert not world.ledger().consent.get(a.patient.address, a.provider.address).exists


def test_nonces_are_per_pair_so_other_pairs_do_not_void_a_message(world):
    a = world.actors
    signed = _signed_grant(world)
    grant_labs(world.ledger(a.patient), a.researcher.address)
    world.ledger(a.stranger).signed.relay(signed)
    assert world.ledger().consent.get(a.patient.address, a.provider.address).exists


def test_a_message_signed_for_another_chain_is_refused_by_the_contract(world):
    a = world.actors
    data = _grant_data(world)
    data["domain"]["chainId"] = world.chain.chain_id + 1
    signed = sign(a.patient, data)
    error = _refusal(lambda: _relay_raw(world, signed))
    assert (error.error, error.arguments["signer"]) == ("InvalidSignature", a.patient.address)
    assert not world.ledger().consent.get(a.patient.address, a.provider.address).exists


def test_the_client_refuses_to_relay_a_message_for_another_chain(world):
    data = _grant_data(world)
    data["domain"]["chainId"] = 1
    with pytest.raises(SignedMessageError, match="chain"):
        world.ledger(world.actors.stranger).signed.relay(sign(world.actors.patient, data))


@pytest.fixture
def second_ledger(world) -> MedLedger:
    """A second MedLedger on the same chain, with the same providers registered."""
    a = world.actors
    deployment = deploy(world.chain, a.admin)
    ledger = MedLedger.from_deployment(world.chain, deployment, signer=a.admin)
    ledger.providers.add_registrar(a.registrar.address)
    ledger.as_signer(a.registrar).providers.register(a.provider.address, ProviderKind.CLINICIAN)
    assert ledger.address != world.deployment.ledger_address
    return ledger.as_signer(a.stranger)


def test_a_message_for_one_contract_is_refused_by_another(world, second_ledger):
    a = world.actors
    signed = _signed_grant(world)
    error = _refusal(lambda: _relay_raw(world, signed, ledger=second_ledger))
    assert (error.error, error.arguments["signer"]) == ("InvalidSignature", a.patient.address)
    assert not second_ledger.consent.get(a.patient.address, a.provider.address).exists


def test_the_client_refuses_to_relay_a_message_for_another_contract(world, second_ledger):
    with pytest.raises(SignedMessageError, match="contract"):
        second_ledger.signed.relay(_signed_grant(world))


def test_an_expired_message_is_refused(world, clock):
    a = world.actors
    signed = _signed_grant(world, valid_for=60)
    clock.warp(120)
    error = _refusal(lambda: world.ledger(a.stranger).signed.relay(signed))
    assert (error.error, error.arguments["deadline"]) == ("SignatureExpired", signed.message["deadline"])
    assert not world.ledger().consent.get(a.patient.address, a.provider.address).exists


def test_a_message_is_still_valid_in_the_block_of_its_deadline(world, clock):
    a = world.actors
    signed = _signed_grant(world, valid_for=60)
    clock.next_block_at(signed.message["deadline"])
    receipt = world.ledger(a.stranger).signed.relay(signed)
    assert world.chain.w3.eth.get_block(receipt.block_number)["timestamp"] == signed.message["deadline"]
    assert world.ledger().consent.get(a.patient.address, a.provider.address).exists


def test_a_deadline_beyond_the_maximum_lifetime_is_refused(world, clock):
    a = world.actors
    data = _grant_data(world)
    issued = data["message"]["issuedAt"]
    data["message"]["deadline"] = issued + MAX_SIGNATURE_LIFETIME + 1
    error = _refusal(lambda: world.ledger(a.stranger).signed.relay(sign(a.patient, data)))
    assert error.error == "SignatureLifetimeTooLong"
    assert (error.arguments["issuedAt"], error.arguments["deadline"]) == (issued, issued + MAX_SIGNATURE_LIFETIME + 1)
    assert not world.ledger().consent.get(a.patient.address, a.provider.address).exists


def _send_unestimated(ledger: MedLedger, call) -> dict:
    """Send without a gas estimate (which would run at the previous block's time); the receipt."""
    w3 = ledger.chain.w3
    tx = call.build_transaction(
        {
            "from": ledger.signer.address,
            "gas": 500_000,
            "chainId": ledger.chain.chain_id,
            "nonce": w3.eth.get_transaction_count(ledger.signer.address, "pending"),
        }
    )
    return w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(ledger.signer.sign_transaction(tx)))


def test_a_deadline_of_exactly_the_maximum_lifetime_is_accepted(world, clock):
    a = world.actors
    data = _grant_data(world)
    at = clock.now() + 10
    data["message"]["issuedAt"] = at
    data["message"]["deadline"] = at + MAX_SIGNATURE_LIFETIME
    relayer = world.ledger(a.stranger)
    call = relayer.signed.relay_call(sign(a.patient, data))
    clock.next_block_at(at)
    receipt = _send_unestimated(relayer, call)
    assert (receipt["status"], world.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]) == (1, at)
    assert world.ledger().consent.get(a.patient.address, a.provider.address).exists


def test_the_client_will_not_build_a_message_valid_beyond_the_maximum_lifetime(world):
    with pytest.raises(InvalidArgumentError):
        _grant_data(world, valid_for=MAX_SIGNATURE_LIFETIME + 1)


def test_a_signature_by_someone_else_is_refused(world):
    a = world.actors
    signed = sign(a.stranger, _grant_data(world))
    error = _refusal(lambda: world.ledger(a.stranger).signed.relay(signed))
    assert (error.error, error.arguments["signer"]) == ("InvalidSignature", a.patient.address)
    assert not world.ledger().consent.get(a.patient.address, a.provider.address).exists


def test_a_grantee_cannot_relay_its_own_signature_as_the_patients(world):
    a = world.actors
    signed = sign(a.provider, _grant_data(world))
    assert _refusal(lambda: world.ledger(a.provider).signed.relay(signed)).error == "InvalidSignature"


TAMPERS = {
    "categories": lambda m, a: m | {"categories": m["categories"] | mask([Category.MENTAL_HEALTH])},
    "purposes": lambda m, a: m | {"purposes": m["purposes"] | mask([Purpose.HRESCH])},
    "permissions": lambda m, a: m | {"permissions": int(Permission.READ | Permission.WRITE)},
    "expiry": lambda m, a: m | {"expiry": m["expiry"] + 86400},
    "grantee": lambda m, a: m | {"grantee": a.researcher.address},
    "deadline": lambda m, a: m | {"deadline": m["deadline"] + 60},
}


@pytest.mark.parametrize("field", TAMPERS)
def test_a_field_changed_after_signing_voids_the_signature(world, field):
    a = world.actors
    signed = _signed_grant(world)
    data = dict(signed.typed_data, message=TAMPERS[field](signed.message, a))
    error = _refusal(lambda: world.ledger(a.stranger).signed.relay(SignedMessage(data, signed.signature)))
    assert (error.error, error.arguments["signer"]) == ("InvalidSignature", a.patient.address)
    assert not world.ledger().consent.get(a.patient.address, a.researcher.address).exists
    assert not world.ledger().consent.get(a.patient.address, a.provider.address).exists


@pytest.mark.parametrize("kind", ["Grant", "AppointGuardian"])
def test_a_message_file_carrying_an_envelope_is_refused(world, guardian, kind):
    """A file from before key material left the chain is refused, not relayed without it."""
    document = json.loads(_prepare(world, kind, guardian).to_json())
    document["envelope"] = "0x" + b"sealed keyring".hex()
    with pytest.raises(SignedMessageError, match="envelope"):
        SignedMessage.from_json(json.dumps(document))


@pytest.mark.parametrize("kind", ["Grant", "AppointGuardian"])
def test_a_message_signed_with_an_envelope_hash_is_refused(world, guardian, kind):
    document = json.loads(_prepare(world, kind, guardian).to_json())
    typed = document["typedData"]
    typed["types"][kind].insert(-3, {"name": "envelopeHash", "type": "bytes32"})
    typed["message"]["envelopeHash"] = "0x" + keccak(b"").hex()
    with pytest.raises(SignedMessageError, match="envelope"):
        SignedMessage.from_json(json.dumps(document))


@pytest.mark.parametrize("kind", KINDS)
def test_a_message_with_other_fields_than_this_versions_is_refused(world, guardian, kind):
    document = json.loads(_prepare(world, kind, guardian).to_json())
    document["typedData"]["types"][kind].append({"name": "extra", "type": "uint256"})
    with pytest.raises(SignedMessageError, match="fields"):
        SignedMessage.from_json(json.dumps(document))


@pytest.mark.parametrize("kind", ["Grant", "AppointGuardian"])
def test_the_signed_types_carry_no_key_material(world, kind):
    abi = world.ledger().contract.abi
    (function,) = [item for item in abi if item.get("name") == f"{kind[0].lower()}{kind[1:]}BySig"]
    value_types = [i["type"] for i in function["inputs"]][:-2]  # the validity tuple and the signature
    assert "bytes" not in value_types
    assert "envelope" not in _type_string(kind)


def test_the_malleable_high_s_twin_of_a_valid_signature_is_refused(world):
    a = world.actors
    signed = _signed_grant(world)
    r, s, v = _split(signed.signature)
    high_s, flipped_v = SECP256K1_N - s, 55 - v  # 27 <-> 28
    twin = _join(r, high_s, flipped_v)
    # The twin is a genuine signature of the same digest by the patient's key...
    digest = Account.sign_typed_data(a.patient.private_key_bytes(), full_message=signed.typed_data).message_hash
    recovered = keys.Signature(vrs=(flipped_v - 27, r, high_s)).recover_public_key_from_msg_hash(digest)
    assert recovered.to_checksum_address() == a.patient.address
    # ... but only the low-s form is accepted.
    error = _refusal(lambda: world.ledger(a.stranger).signed.relay(_with_signature(signed, twin)))
    assert (error.error, error.arguments["signer"]) == ("InvalidSignature", a.patient.address)
    assert not world.ledger().consent.get(a.patient.address, a.provider.address).exists


def _compact(signature: bytes) -> bytes:
    """EIP-2098: r and (v - 27) << 255 | s in 64 bytes."""
    r, s, v = _split(signature)
    return _join(r, ((v - 27) << 255) | s, 0)[:64]


BAD_SIGNATURES = {
    "compact-64-bytes": _compact,
    "garbage-65-bytes": lambda sig: os.urandom(64) + bytes([27]),
    "v-as-0-or-1": lambda sig: sig[:64] + bytes([sig[64] - 27]),
    "one-byte-too-long": lambda sig: sig + b"\x00",
    "empty": lambda sig: b"",
}


@pytest.mark.parametrize("shape", BAD_SIGNATURES)
def test_a_malformed_signature_is_refused(world, shape):
    a = world.actors
    signed = _signed_grant(world)
    bad = _with_signature(signed, BAD_SIGNATURES[shape](signed.signature))
    error = _refusal(lambda: world.ledger(a.stranger).signed.relay(bad))
    assert (error.error, error.arguments["signer"]) == ("InvalidSignature", a.patient.address)
    assert not world.ledger().consent.get(a.patient.address, a.provider.address).exists


# -- contract-wallet patients (ERC-1271) -----------------------------------------------------


@pytest.fixture
def wallet_owner() -> Signer:
    """The key behind the contract wallet; it never holds ether or sends a transaction."""
    return Signer.from_private_key(keccak(text="medledger test wallet owner"))


@pytest.fixture
def wallet(world, wallets, wallet_owner):
    return wallets.deploy(wallet_owner, world.actors.admin)


def test_a_contract_wallet_patient_grants_by_its_owners_signature(world, wallet, wallet_owner):
    a = world.actors
    signed = sign(wallet_owner, _grant_data(world, patient=wallet.address))
    world.ledger(a.stranger).signed.relay(signed)
    assert world.ledger().consent.has_access(
        wallet.address, a.provider.address, Category.LABS, Purpose.TREAT, Permission.READ
    )


def test_a_contract_wallet_patient_appoints_a_guardian_by_its_owners_signature(world, wallet, wallet_owner, guardian):
    a = world.actors
    data = world.ledger().signed.appoint_guardian_data(wallet.address, guardian.address, until=_now(world) + MONTH)
    world.ledger(a.stranger).signed.relay(sign(wallet_owner, data))
    assert world.ledger().guardians.is_guardian(wallet.address, guardian.address)


def test_a_contract_wallet_refuses_a_signature_by_another_key(world, wallet):
    a = world.actors
    signed = sign(a.stranger, _grant_data(world, patient=wallet.address))
    error = _refusal(lambda: world.ledger(a.stranger).signed.relay(signed))
    assert (error.error, error.arguments["signer"]) == ("InvalidSignature", wallet.address)
    assert not world.ledger().consent.get(wallet.address, a.provider.address).exists


def test_a_contract_wallet_signature_is_single_use_too(world, wallet, wallet_owner):
    signed = sign(wallet_owner, _grant_data(world, patient=wallet.address))
    relayer = world.ledger(world.actors.stranger).signed
    relayer.relay(signed)
    assert _refusal(lambda: relayer.relay(signed)).error == "InvalidNonce"


def test_a_contract_wallets_direct_grant_voids_its_pending_signed_grant(world, wallets, guardian):
    """The wallet acts as a patient directly too (through `execute`), and shares the pair's nonce."""
    a = world.actors
    wallet = wallets.deploy(guardian, a.admin)  # owned by a funded key, which sends `execute`
    signed = sign(guardian, _grant_data(world, patient=wallet.address, categories=mask([Category.GENOMICS])))
    ledger = world.ledger()
    direct = ledger.contract.encode_abi(
        "grant", args=[a.provider.address, LABS_MASK, TREAT_MASK, 1, _now(world) + MONTH]
    )
    wallets.execute(wallet, guardian, ledger.address, bytes.fromhex(direct[2:]))
    assert ledger.consent.get(wallet.address, a.provider.address).categories == LABS_MASK
    assert _refusal(lambda: world.ledger(a.stranger).signed.relay(signed)).error == "InvalidNonce"


# -- an independent EIP-712 implementation: Foundry's cast -----------------------------------


def _cast(cast_binary, *args: str) -> str:
    completed = subprocess.run([str(cast_binary), *args], capture_output=True, text=True, check=False, timeout=60)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


def _cast_sign(cast_binary, signer: Signer, data: dict[str, Any]) -> bytes:
    out = _cast(
        cast_binary,
        "wallet",
        "sign",
        "--private-key",
        "0x" + signer.private_key_bytes().hex(),
        "--data",
        json.dumps(data),
    )
    return bytes.fromhex(out.removeprefix("0x"))


def _type_string(kind: str) -> str:
    fields = ",".join(f"{field['type']} {field['name']}" for field in TYPES[kind])
    return f"{kind}({fields})"


@pytest.mark.parametrize("kind", KINDS)
def test_cast_and_eth_account_make_the_same_signature(world, guardian, cast_binary, kind):
    """RFC 6979 signatures are deterministic: equal bytes mean equal EIP-712 digests."""
    signed = _prepare(world, kind, guardian)
    assert _cast_sign(cast_binary, world.actors.patient, signed.typed_data) == signed.signature


@pytest.mark.parametrize("kind", KINDS)
def test_a_cast_signature_relays(world, guardian, cast_binary, kind):
    signed = _prepare(world, kind, guardian)
    by_cast = _with_signature(signed, _cast_sign(cast_binary, world.actors.patient, signed.typed_data))
    before = _pair_state(world, signed)
    world.ledger(world.actors.stranger).signed.relay(by_cast)
    assert _pair_state(world, signed).nonce == before.nonce + 1


def test_cast_verifies_an_eth_account_signature(world, cast_binary):
    signed = _signed_grant(world)
    out = _cast(
        cast_binary,
        "wallet",
        "verify",
        "--data",
        "--address",
        world.actors.patient.address,
        json.dumps(signed.typed_data),
        "0x" + signed.signature.hex(),
    )
    assert "valid" in out.lower() and "invalid" not in out.lower()


def test_the_domain_separator_matches_an_independent_computation(world, cast_binary):
    ledger = world.ledger()
    domain_type = _cast(
        cast_binary, "keccak", "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    encoded = _cast(
        cast_binary,
        "abi-encode",
        "f(bytes32,bytes32,bytes32,uint256,address)",
        domain_type,
        _cast(cast_binary, "keccak", "MedLedger"),
        _cast(cast_binary, "keccak", "1"),
        str(world.chain.chain_id),
        ledger.address,
    )
    assert bytes.fromhex(_cast(cast_binary, "keccak", encoded)[2:]) == ledger.signed.domain_separator()


@pytest.mark.parametrize(
    ("kind", "constant"),
    [
        ("Grant", "GRANT_TYPEHASH"),
        ("Revoke", "REVOKE_TYPEHASH"),
        ("AppointGuardian", "APPOINT_GUARDIAN_TYPEHASH"),
        ("RemoveGuardian", "REMOVE_GUARDIAN_TYPEHASH"),
        ("CancelNonces", "CANCEL_NONCES_TYPEHASH"),
    ],
)
def test_the_client_types_hash_to_the_contracts_type_hashes(world, cast_binary, kind, constant):
    on_chain = bytes(getattr(world.ledger().contract.functions, constant)().call())
    assert bytes.fromhex(_cast(cast_binary, "keccak", _type_string(kind))[2:]) == on_chain


def test_the_grant_digest_matches_an_independent_computation(world, cast_binary):
    """keccak256(0x1901 || domainSeparator || keccak256(abi.encode(GRANT_TYPEHASH, fields...)))."""
    a = world.actors
    signed = _signed_grant(world)
    m = signed.message
    encoded = _cast(
        cast_binary,
        "abi-encode",
        "f(bytes32,address,address,uint64,uint16,uint8,uint40,uint64,uint256,uint256)",
        _cast(cast_binary, "keccak", _type_string("Grant")),
        m["patient"],
        m["grantee"],
        str(m["categories"]),
        str(m["purposes"]),
        str(m["permissions"]),
        str(m["expiry"]),
        str(m["nonce"]),
        str(m["issuedAt"]),
        str(m["deadline"]),
    )
    struct_hash = _cast(cast_binary, "keccak", encoded)
    separator = "0x" + world.ledger().signed.domain_separator().hex()
    digest = _cast(cast_binary, "keccak", _cast(cast_binary, "concat-hex", "0x1901", separator, struct_hash))
    ours = Account.sign_typed_data(a.patient.private_key_bytes(), full_message=signed.typed_data).message_hash
    assert bytes.fromhex(digest[2:]) == bytes(ours)
    assert Account._recover_hash(bytes(ours), signature=signed.signature) == a.patient.address


def test_grant_message_builder_checksums_and_carries_no_envelope(world):
    a = world.actors
    message = grant_message(
        patient=a.patient.address.lower(),
        grantee=a.provider.address.lower(),
        categories=2,
        purposes=1,
        permissions=1,
        expiry=10,
        nonce=0,
        issued_at=15,
        deadline=20,
    )
    assert message["patient"] == to_checksum_address(a.patient.address)
    assert "envelopeHash" not in message


def test_typed_data_binds_chain_and_contract(world):
    data = typed_data("Revoke", chain_id=5, contract=world.deployment.ledger_address.lower(), message={})
    assert data["domain"]["chainId"] == 5
    assert data["domain"]["verifyingContract"] == world.deployment.ledger_address
