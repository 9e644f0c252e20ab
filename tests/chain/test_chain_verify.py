"""Comparing runtime code with the shipped build: immutables masked, everything else byte for byte."""

from __future__ import annotations

import re

from medledger.chain.artifacts import load_artifact
from medledger.chain.verify import compare_code

BUILT = bytes.fromhex(load_artifact("MedLedger").deployed_bytecode.removeprefix("0x"))
PLACEHOLDER = next(re.finditer(rb"\x00{32}", BUILT)).start()  # an immutable's zero word
METADATA = int.from_bytes(BUILT[-2:], "big") + 2


def _changed(at: int, code: bytes = BUILT) -> bytes:
    changed = bytearray(code)
    changed[at] ^= 0x5A
    return bytes(changed)


def test_the_build_matches_itself() -> None:
    assert compare_code(BUILT, BUILT).matches


def test_values_written_into_an_immutables_zero_word_are_masked() -> None:
    written = bytearray(BUILT)
    written[PLACEHOLDER : PLACEHOLDER + 32] = bytes(range(1, 33))
    assert compare_code(bytes(written), BUILT).matches


def test_one_byte_changed_outside_the_immutables_is_another_build() -> None:
    first_code_byte = next(i for i, b in enumerate(BUILT) if b and not PLACEHOLDER <= i < PLACEHOLDER + 32)
    result = compare_code(_changed(first_code_byte), BUILT)
    assert not result.matches and result.differing_bytes == 1


def test_a_changed_metadata_hash_is_another_source() -> None:
    result = compare_code(_changed(len(BUILT) - METADATA + 8), BUILT)
    assert not result.matches and not result.metadata_matches and "metadata" in result.reason


def test_code_of_another_length_or_none_at_all_is_not_the_build() -> None:
    assert not compare_code(BUILT + b"\x00", BUILT).matches
    assert compare_code(b"", BUILT).reason == "no code at the address"


def test_with_the_compilers_immutable_references_only_those_ranges_are_masked() -> None:
    references = {"7": [{"start": PLACEHOLDER, "length": 32}]}
    written = bytearray(BUILT)
    written[PLACEHOLDER : PLACEHOLDER + 32] = b"\x01" * 32
    assert compare_code(bytes(written), BUILT, references).matches
    other = next(m.start() for m in re.finditer(rb"\x00{32}", BUILT) if m.start() >= PLACEHOLDER + 32)
    assert not compare_code(_changed(other), BUILT, references).matches
