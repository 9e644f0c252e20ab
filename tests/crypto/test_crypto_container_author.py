"""Format version 3 binds the record's author: a header reused under another author's record no
longer verifies, and containers written before (versions 1 and 2) still open for the patient."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from pathlib import Path

import pytest

from medledger.crypto import (
    AccountRecipient,
    BindingMismatchError,
    ContainerBinding,
    EncryptionKeyPair,
    ServiceRecipient,
    TamperedContainerError,
    TamperedShareError,
    ThresholdPolicy,
    binding_of,
    data_key_from_shares,
    decrypt_stream,
    decrypt_stream_with_key,
    encrypt_stream,
    open_service_share,
    read_header,
    rewrap,
)

DATA = b"labs 2026-12-01: potassium 4.1 mmol/L\n" * 50
W1 = b"\x33" * 20
W2 = b"\x44" * 20
AUTHOR_AT = 79  # right after the fixed fields (magic .. recipient_count)
DATA_DIR = Path(__file__).parent / "data"
V2_PLAINTEXT = b"version-2 container written before the author was bound, kept as a compatibility fixture.\n" * 3
V3_PLAINTEXT = b"version-3 container, its author bound, kept as a format fixture.\n" * 3


def _fixture_key(label: str) -> EncryptionKeyPair:
    return EncryptionKeyPair.from_secret(hashlib.sha256(label.encode()).digest())


@pytest.fixture(scope="module")
def services() -> list[EncryptionKeyPair]:
    # The keys the v2 and v3 fixtures were sealed to: sha256(b"medledger test service i v2 fixture").
    return [_fixture_key(f"medledger test service {i} v2 fixture") for i in (1, 2, 3)]


@pytest.fixture(scope="module")
def policy(services) -> ThresholdPolicy:
    return ThresholdPolicy(1, 2, tuple(ServiceRecipient(i + 1, keys.public) for i, keys in enumerate(services)))


@pytest.fixture
def by_w1(binding: ContainerBinding) -> ContainerBinding:
    return replace(binding, author=W1)


def _seal(binding: ContainerBinding, patient: EncryptionKeyPair, policy: ThresholdPolicy | None) -> bytes:
    out = io.BytesIO()
    encrypt_stream(
        io.BytesIO(DATA), out, binding=binding, recipients=[AccountRecipient(patient.public)], threshold_policy=policy
    )
    return out.getvalue()


def _open(container: bytes, binding: ContainerBinding, identity: EncryptionKeyPair) -> bytes:
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(container), out, binding=binding, identity=identity)
    return out.getvalue()


def _header(container: bytes):
    return read_header(io.BytesIO(container))


# --- the binding ------------------------------------------------------------------------


def test_a_binding_with_an_author_encodes_it_after_the_category(by_w1, binding):
    assert by_w1.encode() == binding.encode() + W1


def test_a_binding_with_an_author_has_another_digest_than_without(by_w1, binding):
    assert by_w1.digest() != binding.digest()
    assert by_w1.without_author() == binding and by_w1.without_author().digest() == binding.digest()


def test_an_author_that_is_not_an_address_is_refused(binding):
    with pytest.raises(ValueError, match="author address must be 20 bytes"):
        replace(binding, author=b"\x33" * 19)


# --- version 3 ----------------------------------------------------------------------------


def test_a_container_bound_to_its_author_round_trips(by_w1, patient, policy):
    container = _seal(by_w1, patient, policy)
    assert _header(container).author == W1
    assert _open(container, by_w1, patient) == DATA


def test_the_header_names_the_author_and_the_digest_binds_it(by_w1, patient, policy):
    header = _header(_seal(by_w1, patient, policy))
    assert (header.version, header.author, header.binding_digest) == (3, W1, by_w1.digest())


def test_a_threshold_container_needs_an_author(binding, patient, policy):
    with pytest.raises(ValueError, match="binds its author"):
        _seal(binding, patient, policy)


def test_opening_under_another_author_is_a_binding_mismatch(by_w1, patient, policy):
    container = _seal(by_w1, patient, policy)
    with pytest.raises(BindingMismatchError, match=f"binds author 0x{W1.hex()}, not the record's author 0x{W2.hex()}"):
        _open(container, replace(by_w1, author=W2), patient)


def test_opening_a_version_3_container_without_an_author_is_a_binding_mismatch(by_w1, binding, patient, policy):
    container = _seal(by_w1, patient, policy)
    with pytest.raises(BindingMismatchError, match="names no author"):
        _open(container, binding, patient)


def test_a_header_whose_author_was_changed_no_longer_carries_its_binding(by_w1, patient, policy):
    # The decoy writer W2 rewrites the author field of W1's header to its own address.
    container = bytearray(_seal(by_w1, patient, policy))
    container[AUTHOR_AT : AUTHOR_AT + 20] = W2
    header = _header(bytes(container))
    assert header.author == W2 and header.binding_digest != replace(by_w1, author=W2).digest()
    with pytest.raises(BindingMismatchError, match="made for another"):
        _open(bytes(container), replace(by_w1, author=W2), patient)


def test_a_header_whose_author_and_digest_were_changed_fails_authentication(by_w1, patient, policy):
    as_w2 = replace(by_w1, author=W2)
    container = bytearray(_seal(by_w1, patient, policy))
    container[AUTHOR_AT : AUTHOR_AT + 20] = W2
    container[13:45] = as_w2.digest()  # binding_digest, after magic, version and chunk_size
    with pytest.raises(TamperedContainerError, match="chunk 0"):
        _open(bytes(container), as_w2, patient)


def test_share_commitments_bind_the_author(by_w1, patient, policy, services):
    # Shares are committed under the binding digest, which now covers the author.
    container = bytearray(_seal(by_w1, patient, policy))
    container[13:45] = replace(by_w1, author=W2).digest()
    with pytest.raises(TamperedShareError, match="does not match its commitment"):
        open_service_share(_header(bytes(container)), 1, services[0])


def test_version_1_binds_no_author_whatever_the_binding_names(by_w1, binding, patient):
    container = _seal(by_w1, patient, None)
    header = _header(container)
    assert (header.version, header.author, header.binding_digest) == (1, None, binding.digest())
    assert _open(container, replace(by_w1, author=W2), patient) == DATA


def test_binding_of_drops_the_author_for_versions_1_and_2(by_w1, binding, patient):
    assert binding_of(_header(_seal(by_w1, patient, None)), by_w1) == binding


# --- format fixtures ------------------------------------------------------------------------


@pytest.fixture
def v2_container() -> bytes:
    return bytes.fromhex((DATA_DIR / "container_v2_b168c28.hex").read_text().strip())


@pytest.fixture
def v3_container() -> bytes:
    return bytes.fromhex((DATA_DIR / "container_v3.hex").read_text().strip())


def test_a_version_2_container_written_before_the_author_binding_decrypts_for_the_patient(v2_container, by_w1, patient):
    assert _header(v2_container).version == 2 and _header(v2_container).author is None
    assert _open(v2_container, by_w1, patient) == V2_PLAINTEXT


def test_a_version_2_container_still_decrypts_with_its_shares(v2_container, by_w1, services):
    header = _header(v2_container)
    key = data_key_from_shares(header, [open_service_share(header, i, services[i - 1]) for i in (1, 3)])
    out = io.BytesIO()
    decrypt_stream_with_key(io.BytesIO(v2_container), out, by_w1, key)
    assert out.getvalue() == V2_PLAINTEXT


def test_the_version_3_fixture_decrypts_for_the_patient_under_its_author(v3_container, by_w1, patient):
    assert (_header(v3_container).version, _header(v3_container).author) == (3, W1)
    assert _open(v3_container, by_w1, patient) == V3_PLAINTEXT


def test_the_version_3_fixture_decrypts_with_its_shares(v3_container, by_w1, services):
    header = _header(v3_container)
    key = data_key_from_shares(header, [open_service_share(header, i, services[i - 1]) for i in (2, 3)])
    out = io.BytesIO()
    decrypt_stream_with_key(io.BytesIO(v3_container), out, by_w1, key)
    assert out.getvalue() == V3_PLAINTEXT


def test_rewrap_moves_a_version_2_container_to_version_3_under_a_new_author(
    v2_container, binding, patient, policy, services
):
    as_patient = replace(binding, author=binding.patient)
    out = io.BytesIO()
    info = rewrap(
        io.BytesIO(v2_container),
        out,
        binding=binding,
        identity=patient,
        recipients=[AccountRecipient(patient.public)],
        threshold_policy=policy,
        output_binding=as_patient,
    )
    assert (info.version, info.author) == (3, binding.patient)
    assert _open(out.getvalue(), as_patient, patient) == V2_PLAINTEXT
