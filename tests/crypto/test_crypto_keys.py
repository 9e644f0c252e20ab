"""Account encryption keys derive from the Ethereum key: one secret to back up."""

from __future__ import annotations

import pytest
from eth_account import Account
from nacl.bindings import crypto_scalarmult_base

from medledger.crypto import EncryptionKeyPair, KeyFormatError, derive_encryption_keypair
from medledger.crypto.keys import ENCRYPTION_KEY_INFO, ENCRYPTION_KEY_SALT, hkdf_sha256

ETH_KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def test_hkdf_matches_rfc5869_test_case_1():
    okm = hkdf_sha256(b"\x0b" * 22, salt=bytes(range(13)), info=bytes(range(0xF0, 0xFA)), length=42)
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")


def test_derivation_is_deterministic():
    assert derive_encryption_keypair(ETH_KEY) == derive_encryption_keypair(ETH_KEY)


def test_derivation_uses_the_medledger_label():
    expected = hkdf_sha256(ETH_KEY, salt=ENCRYPTION_KEY_SALT, info=ENCRYPTION_KEY_INFO)
    assert ENCRYPTION_KEY_INFO == b"medledger/v1/x25519-encryption-key"
    assert derive_encryption_keypair(ETH_KEY).secret == expected


def test_derivation_is_domain_separated_from_other_labels_and_the_raw_key():
    pair = derive_encryption_keypair(ETH_KEY)
    other_label = hkdf_sha256(ETH_KEY, salt=ENCRYPTION_KEY_SALT, info=b"medledger/v1/other")
    assert pair.secret != other_label
    assert pair.secret != ETH_KEY


def test_different_ethereum_keys_give_different_pairs():
    other = (int.from_bytes(ETH_KEY, "big") + 1).to_bytes(32, "big")
    assert derive_encryption_keypair(ETH_KEY).public != derive_encryption_keypair(other).public


def test_public_half_is_the_x25519_base_point_multiple_of_the_secret():
    pair = derive_encryption_keypair(ETH_KEY)
    assert len(pair.public) == 32 and len(pair.secret) == 32
    assert crypto_scalarmult_base(pair.secret) == pair.public


def test_accepts_an_eth_account_private_key():
    account = Account.create()
    assert derive_encryption_keypair(account.key) == derive_encryption_keypair(bytes(account.key))


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_wrong_length_ethereum_key_is_rejected_naming_32_bytes(length):
    with pytest.raises(KeyFormatError, match="32 bytes"):
        derive_encryption_keypair(b"\x01" * length)


@pytest.mark.parametrize("value", [0, SECP256K1_N, 2**256 - 1])
def test_ethereum_key_outside_the_secp256k1_range_is_rejected(value):
    with pytest.raises(KeyFormatError):
        derive_encryption_keypair(value.to_bytes(32, "big"))


def test_repr_never_shows_the_secret():
    pair = derive_encryption_keypair(ETH_KEY)
    text = repr(pair) + str(pair)
    assert "secret" not in text
    assert repr(pair.secret) not in text and pair.secret.hex() not in text


def test_key_pair_with_mismatched_halves_is_rejected():
    a, b = EncryptionKeyPair.generate(), EncryptionKeyPair.generate()
    with pytest.raises(KeyFormatError, match="does not match"):
        EncryptionKeyPair(public=a.public, secret=b.secret)


def test_key_pair_fields_must_be_32_bytes():
    with pytest.raises(KeyFormatError, match="32 bytes"):
        EncryptionKeyPair(public=b"\x00" * 31, secret=b"\x00" * 32)
