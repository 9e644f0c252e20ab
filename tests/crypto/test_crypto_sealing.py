"""Sealed boxes carry data keys and keyring secrets to one recipient."""

from __future__ import annotations

import pytest

from medledger.crypto import EncryptionKeyPair, KeyFormatError, SealedBoxError, open_sealed, seal


def test_sealing_a_32_byte_secret_gives_80_bytes():
    assert len(seal(b"\x07" * 32, EncryptionKeyPair.generate().public)) == 80


def test_sealed_box_opens_with_the_recipient_pair():
    pair = EncryptionKeyPair.generate()
    assert open_sealed(seal(b"data key", pair.public), pair) == b"data key"


def test_sealed_box_does_not_open_with_another_pair():
    sealed = seal(b"data key", EncryptionKeyPair.generate().public)
    with pytest.raises(SealedBoxError):
        open_sealed(sealed, EncryptionKeyPair.generate())


def test_altered_sealed_box_does_not_open():
    pair = EncryptionKeyPair.generate()
    sealed = bytearray(seal(b"data key", pair.public))
    sealed[-1] ^= 1
    with pytest.raises(SealedBoxError):
        open_sealed(bytes(sealed), pair)


def test_too_short_sealed_box_is_rejected():
    with pytest.raises(SealedBoxError, match="at least 48"):
        open_sealed(b"\x00" * 47, EncryptionKeyPair.generate())


def test_recipient_key_must_be_32_bytes():
    with pytest.raises(KeyFormatError, match="32 bytes"):
        seal(b"x", b"\x01" * 33)


def test_low_order_recipient_key_is_refused():
    with pytest.raises(KeyFormatError, match="not a usable point"):
        seal(b"x", bytes(32))
