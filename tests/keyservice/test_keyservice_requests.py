"""The signed release request: EIP-712 as eth-account computes it, recovery, and body parsing."""

from __future__ import annotations

import os

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from medledger.chain.accounts import anvil_account
from medledger.keyservice.errors import ReleaseRefusedError
from medledger.keyservice.requests import ReleaseDomain, ReleaseRequest, SignedRelease, parse_release_body

READER = anvil_account(3)
SERVICE = anvil_account(5).address
DOMAIN = ReleaseDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")


def a_request(**changes: object) -> ReleaseRequest:
    fields: dict[str, object] = dict(
        service=SERVICE,
        patient=anvil_account(4).address,
        digest=os.urandom(32),
        purpose=0,
        access_tx=os.urandom(32),
        reader_key=os.urandom(32),
        deadline=1_900_000_000,
    )
    fields.update(changes)
    return ReleaseRequest(**fields)  # type: ignore[arg-type]


def test_signing_hash_is_the_eip712_hash_eth_account_computes() -> None:
    request = a_request()
    signable = encode_typed_data(full_message=request.typed_data(DOMAIN))
    expected = b"\x19" + signable.version + signable.header + signable.body
    from eth_utils import keccak

    assert request.signing_hash(DOMAIN) == keccak(expected)


def test_a_signature_made_by_eth_account_recovers_the_reader() -> None:
    request = a_request()
    signed = Account.sign_typed_data(READER.private_key_bytes(), full_message=request.typed_data(DOMAIN))
    assert request.recover(bytes(signed.signature), DOMAIN) == READER.address


def test_the_readers_own_signature_recovers_the_reader() -> None:
    request = a_request()
    assert request.recover(request.sign(READER, DOMAIN), DOMAIN) == READER.address


def test_changing_any_signed_field_changes_the_recovered_account() -> None:
    request = a_request()
    signature = request.sign(READER, DOMAIN)
    for change in (
        dict(purpose=1),
        dict(deadline=request.deadline + 1),
        dict(service=READER.address),
        dict(access_tx=os.urandom(32)),
        dict(reader_key=os.urandom(32)),
        dict(digest=os.urandom(32)),
    ):
        altered = ReleaseRequest(**{**request.__dict__, **change})
        assert altered.recover(signature, DOMAIN) != READER.address


def test_a_signature_for_another_ledger_or_chain_does_not_recover_the_reader() -> None:
    request = a_request()
    signature = request.sign(READER, DOMAIN)
    assert request.recover(signature, ReleaseDomain(1, DOMAIN.ledger)) != READER.address
    assert request.recover(signature, ReleaseDomain(31337, SERVICE)) != READER.address


def test_a_garbled_signature_is_refused_as_bad_signature() -> None:
    with pytest.raises(ReleaseRefusedError) as refused:
        a_request().recover(b"\x01" * 64, DOMAIN)
    assert refused.value.code == "bad-signature" and refused.value.status == 401


def test_a_body_round_trips_through_json() -> None:
    request = a_request()
    body = SignedRelease(request, request.sign(READER, DOMAIN), (b"block0", b"block1")).to_json()
    parsed = parse_release_body(body)
    assert parsed.request == request and parsed.proof == (b"block0", b"block1")


@pytest.mark.parametrize(
    "breakage",
    [
        lambda body: body.pop("request"),
        lambda body: body["request"].update(digest="0x1234"),
        lambda body: body["request"].update(service="not an address"),
        lambda body: body["request"].update(purpose="treatment"),
        lambda body: body.update(signature="deadbeef"),
        lambda body: body.update(proof=[]),
        lambda body: body.update(proof=["not base64!"]),
        lambda body: body.update(proof=["AA=="] * 9),
    ],
)
def test_a_malformed_body_is_refused_as_bad_request_naming_the_problem(breakage) -> None:  # type: ignore[no-untyped-def]
    request = a_request()
    body = SignedRelease(request, request.sign(READER, DOMAIN), (b"x",)).to_json()
    breakage(body)
    with pytest.raises(ReleaseRefusedError) as refused:
        parse_release_body(body)
    assert refused.value.code == "bad-request" and refused.value.status == 400
    assert "\n" not in refused.value.message


def test_addresses_are_checksummed_as_eth_utils_does() -> None:
    from eth_utils import to_checksum_address

    from medledger.keyservice.requests import checksum_address

    for _ in range(50):
        address = "0x" + os.urandom(20).hex()
        assert checksum_address(address) == to_checksum_address(address)
        assert checksum_address(address.upper().replace("0X", "0x")) == to_checksum_address(address)


def test_a_mixed_case_address_with_a_bad_checksum_is_refused() -> None:
    from medledger.keyservice.requests import checksum_address

    good = checksum_address("0x" + "ab" * 20)
    bad = good[:2] + good[2:].swapcase()  # still mixed case, every letter's case wrong
    with pytest.raises(ValueError, match="checksum"):
        checksum_address(bad)


def test_a_signature_whose_r_is_zero_is_refused_as_out_of_range() -> None:
    request = a_request()
    signature = request.sign(READER, DOMAIN)
    with pytest.raises(ReleaseRefusedError, match="out of range"):
        request.recover(b"\x00" * 32 + signature[32:], DOMAIN)
