"""Every way a container can be wrong is reported as its own error."""

from __future__ import annotations

import io
import os
import struct

import pytest

from medledger.crypto import (
    BindingMismatchError,
    ContainerBinding,
    ContainerError,
    DataKey,
    MalformedContainerError,
    NotARecipientError,
    TamperedContainerError,
    TruncatedContainerError,
    UnsupportedVersionError,
    WrongKeyError,
    decrypt_stream,
    read_header,
)
from medledger.crypto.container import MAGIC

from .conftest import new_keyring

SMALL_CHUNK = 4096  # the conftest seal_bytes default
THREE_CHUNKS = 3 * SMALL_CHUNK - 10
# Offsets in the fixed part of the header (see the container module docstring).
VERSION_AT = 8
CHUNK_SIZE_AT = 9
COMMITMENT_AT = 9 + 4 + 32
COUNT_AT = COMMITMENT_AT + 32
FIRST_STANZA_AT = COUNT_AT + 2


def chunk_spans(container: bytes) -> list[tuple[int, int]]:
    """(start, end) of each length-prefixed chunk, prefix included."""
    position = len(read_header(io.BytesIO(container)).raw)
    spans = []
    while position < len(container):
        (length,) = struct.unpack_from(">I", container, position)
        spans.append((position, position + 4 + length))
        position += 4 + length
    return spans


def flip(container: bytes, at: int) -> bytes:
    edited = bytearray(container)
    edited[at] ^= 0x01
    return bytes(edited)


def test_every_error_is_a_container_error():
    for error in (
        MalformedContainerError,
        UnsupportedVersionError,
        BindingMismatchError,
        WrongKeyError,
        NotARecipientError,
        TamperedContainerError,
        TruncatedContainerError,
    ):
        assert issubclass(error, ContainerError)
    assert issubclass(NotARecipientError, WrongKeyError)


@pytest.mark.parametrize("chunk", [0, 1, 2])
def test_flipped_ciphertext_bit_names_the_failing_chunk(chunk, seal_bytes, open_bytes):
    container = seal_bytes(os.urandom(THREE_CHUNKS))
    start, end = chunk_spans(container)[chunk]
    with pytest.raises(TamperedContainerError, match=f"chunk {chunk}") as caught:
        open_bytes(flip(container, (start + 4 + end) // 2))
    assert caught.value.chunk_index == chunk


def test_no_plaintext_of_a_failing_chunk_is_released(seal_bytes, binding, patient):
    data = os.urandom(THREE_CHUNKS)
    container = seal_bytes(data)
    _, end = chunk_spans(container)[1]
    out = io.BytesIO()
    with pytest.raises(TamperedContainerError):
        decrypt_stream(io.BytesIO(flip(container, end - 1)), out, binding=binding, identity=patient)
    assert out.getvalue() == data[:SMALL_CHUNK]  # chunk 0 only, which did authenticate


def test_edited_header_fails_the_first_chunk(seal_bytes, open_bytes):
    container = seal_bytes(b"x" * 100)
    # The keyring stanza's epoch label: not used to open as the patient, yet authenticated.
    keyring_epoch_at = FIRST_STANZA_AT + 1 + 32 + 80 + 1 + 1 + 3
    with pytest.raises(TamperedContainerError, match="chunk 0"):
        open_bytes(flip(container, keyring_epoch_at))


def test_reordered_chunks_fail(seal_bytes, open_bytes):
    container = seal_bytes(os.urandom(THREE_CHUNKS))
    # Chunks 0 and 1 are both full, so swapping them keeps every length field valid.
    (s0, e0), (s1, e1), (s2, _) = chunk_spans(container)
    swapped = container[:s0] + container[s1:e1] + container[s0:e0] + container[s2:]
    with pytest.raises(TamperedContainerError, match="chunk 0"):
        open_bytes(swapped)


def test_dropped_middle_chunk_fails(seal_bytes, open_bytes):
    container = seal_bytes(os.urandom(THREE_CHUNKS))
    _, (s1, e1), _ = chunk_spans(container)
    with pytest.raises(TamperedContainerError, match="chunk 1"):
        open_bytes(container[:s1] + container[e1:])


def test_swapped_stream_header_from_another_container_fails(seal_bytes, open_bytes):
    first, second = seal_bytes(b"a" * 100), seal_bytes(b"a" * 100)
    header_end = len(read_header(io.BytesIO(first)).raw)
    stream_header_of_second = second[header_end - 24 : header_end]
    forged = first[: header_end - 24] + stream_header_of_second + first[header_end:]
    with pytest.raises(TamperedContainerError, match="chunk 0"):
        open_bytes(forged)


def test_dropped_final_chunk_is_truncation(seal_bytes, open_bytes):
    container = seal_bytes(os.urandom(THREE_CHUNKS))
    start, _ = chunk_spans(container)[-1]
    with pytest.raises(TruncatedContainerError, match="no final chunk"):
        open_bytes(container[:start])


@pytest.mark.parametrize("cut", [1, 10, 4 + 17])
def test_stream_ending_inside_a_chunk_is_truncation(cut, seal_bytes, open_bytes):
    container = seal_bytes(os.urandom(THREE_CHUNKS))
    start, _ = chunk_spans(container)[1]
    with pytest.raises(TruncatedContainerError):
        open_bytes(container[: start + cut])


def test_stream_ending_inside_the_header_is_truncation(seal_bytes, open_bytes):
    container = seal_bytes(b"x")
    with pytest.raises(TruncatedContainerError, match="header"):
        open_bytes(container[: FIRST_STANZA_AT + 10])


def test_trailing_data_after_the_final_chunk_is_malformed(seal_bytes, open_bytes):
    with pytest.raises(MalformedContainerError, match="trailing"):
        open_bytes(seal_bytes(b"x" * 10) + b"\x00")


def test_a_key_that_fails_the_key_commitment_is_a_wrong_key(seal_bytes, open_bytes):
    with pytest.raises(WrongKeyError, match="commitment") as caught:
        open_bytes(seal_bytes(b"x"), identity=DataKey.generate())
    assert not isinstance(caught.value, NotARecipientError)


def test_edited_key_commitment_is_reported_as_wrong_key(seal_bytes, open_bytes):
    with pytest.raises(WrongKeyError, match="commitment"):
        open_bytes(flip(seal_bytes(b"x"), COMMITMENT_AT))


def test_addressed_stanza_that_does_not_open_is_a_wrong_key(seal_bytes, open_bytes):
    sealed_key_at = FIRST_STANZA_AT + 1 + 32
    with pytest.raises(WrongKeyError, match="stanza 0 did not open"):
        open_bytes(flip(seal_bytes(b"x"), sealed_key_at + 40))


def test_account_that_is_not_a_recipient_is_told_so(seal_bytes, open_bytes, stranger):
    with pytest.raises(NotARecipientError):
        open_bytes(seal_bytes(b"x"), identity=stranger)


def test_keyring_of_another_epoch_is_not_a_recipient(seal_bytes, open_bytes, keyring):
    with pytest.raises(NotARecipientError):
        open_bytes(seal_bytes(b"x"), identity=new_keyring(keyring.category, keyring.epoch + 1))


@pytest.mark.parametrize(
    "change",
    [{"chain_id": 1}, {"registry": b"\x33" * 20}, {"patient": b"\x44" * 20}, {"category": 4}],
    ids=["chain", "registry", "patient", "category"],
)
def test_container_opened_under_another_binding_is_refused(change, binding, seal_bytes, open_bytes):
    other = ContainerBinding(**{**binding.__dict__, **change})
    with pytest.raises(BindingMismatchError):
        open_bytes(seal_bytes(b"x"), binding_=other)


def test_header_binding_digest_swapped_for_another_binding_fails_authentication(binding, seal_bytes, open_bytes):
    # An attacker rewrites the digest to pass the binding check: the chunk AD still differs.
    other = ContainerBinding(**{**binding.__dict__, "patient": b"\x44" * 20})
    container = seal_bytes(b"x")
    forged = container[:13] + other.digest() + container[45:]
    with pytest.raises(TamperedContainerError, match="chunk 0"):
        open_bytes(forged, binding_=other)


@pytest.mark.parametrize("prefix", [b"", b"MEDL", b"NOTMEDLG" + bytes(100)])
def test_bad_magic_is_malformed(prefix, open_bytes):
    with pytest.raises(MalformedContainerError, match="magic"):
        open_bytes(prefix)


@pytest.mark.parametrize("version", [0, 4, 255])
def test_unknown_version_is_unsupported(version, seal_bytes, open_bytes):
    container = bytearray(seal_bytes(b"x"))
    container[VERSION_AT] = version
    with pytest.raises(UnsupportedVersionError, match=f"version {version}"):
        open_bytes(bytes(container))


def _with(container: bytes, at: int, fmt: str, value: int) -> bytes:
    edited = bytearray(container)
    struct.pack_into(fmt, edited, at, value)
    return bytes(edited)


@pytest.mark.parametrize("chunk_size", [0, 15, 16 * 1024 * 1024 + 1, 2**32 - 1])
def test_absurd_chunk_size_in_header_is_malformed(chunk_size, seal_bytes, open_bytes):
    with pytest.raises(MalformedContainerError, match="chunk size"):
        open_bytes(_with(seal_bytes(b"x"), CHUNK_SIZE_AT, ">I", chunk_size))


@pytest.mark.parametrize("count", [0, 1025, 65535])
def test_absurd_recipient_count_is_malformed(count, seal_bytes, open_bytes):
    with pytest.raises(MalformedContainerError, match="recipient count"):
        open_bytes(_with(seal_bytes(b"x"), COUNT_AT, ">H", count))


def test_unknown_stanza_kind_is_malformed(seal_bytes, open_bytes):
    with pytest.raises(MalformedContainerError, match="unknown kind"):
        open_bytes(_with(seal_bytes(b"x"), FIRST_STANZA_AT, ">B", 0x7F))


class _CountingReader(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.largest_read = 0

    def read(self, n: int = -1) -> bytes:
        self.largest_read = max(self.largest_read, n)
        return super().read(n)


@pytest.mark.parametrize("length", [0, 16, SMALL_CHUNK + 18, 2**32 - 1])
def test_absurd_chunk_length_is_rejected_before_reading_it(length, seal_bytes, binding, patient):
    container = seal_bytes(b"x" * 100)
    start, _ = chunk_spans(container)[0]
    source = _CountingReader(_with(container, start, ">I", length))
    with pytest.raises(MalformedContainerError, match="chunk 0 length"):
        decrypt_stream(source, io.BytesIO(), binding=binding, identity=patient)
    assert source.largest_read <= SMALL_CHUNK + 17


def test_magic_is_checked_before_anything_else(open_bytes):
    with pytest.raises(MalformedContainerError):
        open_bytes(b"%PDF-1.7" + MAGIC)
