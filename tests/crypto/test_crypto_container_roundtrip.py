"""A container decrypts to exactly what was encrypted, for every size and reader."""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medledger.crypto import (
    DEFAULT_CHUNK_SIZE,
    AccountRecipient,
    ContainerBinding,
    DataKey,
    EncryptionKeyPair,
    NotARecipientError,
    WrongKeyError,
    decrypt_stream,
    encrypt_stream,
    read_header,
    rewrap,
    unwrap_data_key,
)
from medledger.crypto.container import MAX_CHUNK_SIZE, MIN_CHUNK_SIZE

from .conftest import new_keyring

CATEGORY = 3  # the category of the conftest binding
SMALL_CHUNK = 4096  # the conftest seal_bytes default


@pytest.mark.parametrize(
    "size",
    [0, 1, SMALL_CHUNK - 1, SMALL_CHUNK, SMALL_CHUNK + 1, 3 * SMALL_CHUNK],
    ids=["0B", "1B", "chunk-1", "chunk", "chunk+1", "3chunks"],
)
def test_round_trip_at_chunk_boundaries(size, seal_bytes, open_bytes):
    data = os.urandom(size)
    assert open_bytes(seal_bytes(data)) == data


def test_round_trip_of_5_mib_with_the_default_chunk_size(seal_bytes, open_bytes):
    data = os.urandom(5 * 1024 * 1024)
    assert open_bytes(seal_bytes(data, chunk_size=DEFAULT_CHUNK_SIZE)) == data


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.binary(max_size=3000), chunk_size=st.integers(MIN_CHUNK_SIZE, 1024))
def test_round_trip_for_any_size_and_chunk_size(data, chunk_size, seal_bytes, open_bytes):
    assert open_bytes(seal_bytes(data, chunk_size=chunk_size)) == data


@pytest.mark.parametrize(
    ("size", "chunks"),
    [(0, 1), (1, 1), (SMALL_CHUNK, 1), (SMALL_CHUNK + 1, 2), (3 * SMALL_CHUNK, 3)],
)
def test_content_is_split_into_full_chunks_and_one_final_chunk(size, chunks, binding, patient):
    out = io.BytesIO()
    info = encrypt_stream(
        io.BytesIO(bytes(size)),
        out,
        binding=binding,
        recipients=[AccountRecipient(patient.public)],
        chunk_size=SMALL_CHUNK,
    )
    assert info.chunks == chunks
    assert info.plaintext_bytes == size
    assert info.container_bytes == len(out.getvalue())
    header = read_header(io.BytesIO(out.getvalue()))
    assert len(out.getvalue()) == len(header.raw) + size + chunks * (4 + 17)


def test_decrypt_reports_what_it_read(seal_bytes, binding, patient):
    container = seal_bytes(b"x" * 10_000)
    info = decrypt_stream(io.BytesIO(container), io.BytesIO(), binding=binding, identity=patient)
    assert (info.plaintext_bytes, info.chunks, info.container_bytes) == (10_000, 3, len(container))
    assert info.binding_digest == binding.digest()


def test_patient_and_keyring_both_decrypt(seal_bytes, open_bytes, patient, keyring):
    container = seal_bytes(b"blood panel")
    assert open_bytes(container, identity=patient) == b"blood panel"
    assert open_bytes(container, identity=keyring) == b"blood panel"


def test_unwrapped_data_key_decrypts(seal_bytes, open_bytes, keyring):
    container = seal_bytes(b"imaging report")
    key = unwrap_data_key(read_header(io.BytesIO(container)), keyring)
    assert isinstance(key, DataKey)
    assert open_bytes(container, identity=key) == b"imaging report"


def test_several_identities_are_tried_in_order(seal_bytes, open_bytes, keyring, stranger):
    container = seal_bytes(b"note")
    assert open_bytes(container, identity=[stranger, new_keyring(CATEGORY, 7), keyring]) == b"note"


def test_header_lists_recipients_by_kind_without_decrypting(seal_bytes, patient, keyring):
    header = read_header(io.BytesIO(seal_bytes(b"x")))
    assert header.recipients == (AccountRecipient(patient.public), keyring.recipient)


def test_each_container_has_a_fresh_data_key(seal_bytes, patient):
    first, second = seal_bytes(b"same"), seal_bytes(b"same")
    assert first != second
    key_1 = unwrap_data_key(read_header(io.BytesIO(first)), patient)
    key_2 = unwrap_data_key(read_header(io.BytesIO(second)), patient)
    assert key_1 != key_2


class _Trickle(io.RawIOBase):
    """A pipe-like source that returns at most 7 bytes per read."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(7, len(buffer), len(self._data))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def test_short_reads_from_pipes_are_handled_both_ways(binding, patient):
    data = os.urandom(5000)
    sealed = io.BytesIO()
    encrypt_stream(
        _Trickle(data),
        sealed,
        binding=binding,
        recipients=[AccountRecipient(patient.public)],
        chunk_size=1024,
    )
    opened = io.BytesIO()
    decrypt_stream(_Trickle(sealed.getvalue()), opened, binding=binding, identity=patient)
    assert opened.getvalue() == data


def test_keyring_recipient_must_match_the_binding_category(binding):
    with pytest.raises(ValueError, match="category"):
        encrypt_stream(
            io.BytesIO(b"x"),
            io.BytesIO(),
            binding=binding,
            recipients=[new_keyring(CATEGORY + 1).recipient],
        )


def test_a_container_needs_at_least_one_recipient(binding):
    with pytest.raises(ValueError, match="recipients"):
        encrypt_stream(io.BytesIO(b"x"), io.BytesIO(), binding=binding, recipients=[])


@pytest.mark.parametrize("chunk_size", [0, MIN_CHUNK_SIZE - 1, MAX_CHUNK_SIZE + 1])
def test_chunk_size_out_of_bounds_is_refused(chunk_size, binding, patient):
    with pytest.raises(ValueError, match="chunk_size"):
        encrypt_stream(
            io.BytesIO(b"x"),
            io.BytesIO(),
            binding=binding,
            recipients=[AccountRecipient(patient.public)],
            chunk_size=chunk_size,
        )


def test_data_key_repr_never_shows_the_key():
    key = DataKey.generate()
    assert key.secret.hex() not in repr(key) and repr(key.secret) not in repr(key)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"chain_id": 0},
        {"chain_id": 2**64},
        {"registry": b"\x00" * 19},
        {"patient": b"\x00" * 21},
        {"category": 256},
        {"category": -1},
    ],
)
def test_binding_fields_are_validated(kwargs):
    fields = {"chain_id": 1, "registry": b"\x00" * 20, "patient": b"\x00" * 20, "category": 0}
    with pytest.raises(ValueError):
        ContainerBinding(**{**fields, **kwargs})


def test_binding_encoding_is_49_bytes_and_canonical():
    binding = ContainerBinding(1, b"\xaa" * 20, b"\xbb" * 20, 255)
    assert binding.encode() == (1).to_bytes(8, "big") + b"\xaa" * 20 + b"\xbb" * 20 + b"\xff"


# --- re-encryption after revocation -------------------------------------------------------


def test_rewrap_reseals_to_the_new_epoch_and_shuts_out_the_old_keyring(
    seal_bytes, open_bytes, binding, patient, keyring
):
    data = os.urandom(3 * SMALL_CHUNK + 5)
    old = seal_bytes(data)
    rotated = new_keyring(CATEGORY, keyring.epoch + 1)
    new = io.BytesIO()
    info = rewrap(
        io.BytesIO(old),
        new,
        binding=binding,
        identity=patient,
        recipients=[AccountRecipient(patient.public), rotated.recipient],
    )
    assert info.chunks == 4 and info.plaintext_bytes == len(data)
    assert open_bytes(new.getvalue(), identity=rotated) == data
    assert open_bytes(new.getvalue(), identity=patient) == data
    with pytest.raises(NotARecipientError):
        open_bytes(new.getvalue(), identity=keyring)


def test_rewrap_uses_a_new_data_key(seal_bytes, binding, patient):
    old = seal_bytes(b"x" * 100)
    new = io.BytesIO()
    rewrap(
        io.BytesIO(old),
        new,
        binding=binding,
        identity=patient,
        recipients=[AccountRecipient(patient.public)],
    )
    old_key = unwrap_data_key(read_header(io.BytesIO(old)), patient)
    with pytest.raises(WrongKeyError):
        unwrap_data_key(read_header(io.BytesIO(new.getvalue())), old_key)


@pytest.mark.parametrize("new_chunk_size", [MIN_CHUNK_SIZE, 1000, SMALL_CHUNK, 3 * SMALL_CHUNK])
def test_rewrap_can_change_the_chunk_size(new_chunk_size, seal_bytes, open_bytes, binding, patient):
    data = os.urandom(2 * SMALL_CHUNK + 77)
    new = io.BytesIO()
    info = rewrap(
        io.BytesIO(seal_bytes(data)),
        new,
        binding=binding,
        identity=patient,
        recipients=[AccountRecipient(patient.public)],
        chunk_size=new_chunk_size,
    )
    assert info.chunk_size == new_chunk_size
    assert open_bytes(new.getvalue()) == data


def test_rewrap_by_a_keyring_holder_who_is_not_the_patient(seal_bytes, open_bytes, binding, keyring):
    other = EncryptionKeyPair.generate()
    new = io.BytesIO()
    rewrap(
        io.BytesIO(seal_bytes(b"abc")),
        new,
        binding=binding,
        identity=keyring,
        recipients=[AccountRecipient(other.public)],
    )
    assert open_bytes(new.getvalue(), identity=other) == b"abc"
