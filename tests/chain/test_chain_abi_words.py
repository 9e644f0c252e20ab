"""FunctionCodec encodes and decodes all-static functions word by word; the bytes and values are
exactly eth_abi's, and anything eth_abi would refuse is still refused (by eth_abi)."""

from __future__ import annotations

import os

import pytest
from eth_abi import decode, encode
from eth_abi.exceptions import DecodingError, EncodingError

from medledger.chain.abi import FunctionCodec
from medledger.chain.artifacts import load_artifact

ABI = load_artifact("MedLedger").abi
PATIENT = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


def test_static_calls_encode_to_eth_abis_bytes() -> None:
    add = FunctionCodec.of(ABI, "addRecord")
    args = (PATIENT, os.urandom(32), 0x55, 3, b"\x00" * 32)

    assert add.encode(*args) == add.selector + encode(list(add.inputs), list(args))
    assert add.encode(PATIENT.lower(), *args[1:]) == add.encode(*args)


def test_a_record_pointer_decodes_as_eth_abi_decodes_it() -> None:
    record_of = FunctionCodec.of(ABI, "recordOf")
    value = ("0x" + "ab" * 20, 0x70, 3, 1_700_000_000, True, False)
    data = encode(list(record_of.outputs), [value])

    assert record_of.decode(data) == decode(list(record_of.outputs), data)


def test_a_top_level_address_comes_back_checksummed() -> None:
    codec = FunctionCodec("f", b"\x00" * 4, (), ("address", "bool"))

    assert codec.decode(encode(["address", "bool"], [PATIENT.lower(), True])) == (PATIENT, True)


@pytest.mark.parametrize(
    "args",
    [
        ("0x12", os.urandom(32), 0x55, 3, b"\x00" * 32),  # not 20 bytes
        (PATIENT, os.urandom(32), 2**32, 3, b"\x00" * 32),  # uint32 overflow
        (PATIENT, os.urandom(32), 0x55, True, b"\x00" * 32),  # a bool for a uint8
    ],
)
def test_arguments_eth_abi_refuses_are_still_refused(args: tuple[object, ...]) -> None:
    with pytest.raises(EncodingError):
        FunctionCodec.of(ABI, "addRecord").encode(*args)


def test_a_non_canonical_word_is_left_to_eth_abi_which_refuses_it() -> None:
    codec = FunctionCodec("f", b"\x00" * 4, (), ("bool",))

    with pytest.raises(DecodingError):
        codec.decode((2).to_bytes(32, "big"))
