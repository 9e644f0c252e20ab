"""Format version 3 (version 2's threshold section, with the author bound): the data key sealed
to the patient and the author, and split k-of-n over the key-release services; version-1
containers keep decrypting. The author binding itself: test_crypto_container_author.py."""

from __future__ import annotations

import io
import itertools
import os
import struct
from pathlib import Path

import pytest

from medledger.crypto import (
    AccountRecipient,
    BindingMismatchError,
    ContainerBinding,
    DataKey,
    EncryptionKeyPair,
    InsufficientSharesError,
    KeyShare,
    MalformedContainerError,
    NotARecipientError,
    NotAServiceError,
    ServiceRecipient,
    ShareError,
    TamperedContainerError,
    TamperedShareError,
    ThresholdPolicy,
    TruncatedContainerError,
    WrongKeyError,
    data_key_from_shares,
    decrypt_stream,
    decrypt_stream_with_key,
    encrypt_stream,
    open_service_share,
    read_header,
    read_header_bytes,
    rewrap,
    verify_share,
)
from medledger.crypto.container import (
    _encode_threshold_section,
    _make_threshold_section,
)

from .conftest import Keyring, keyring_from_secret

K, N = 3, 5
SET_VERSION = 7
CHUNK = 4096
FIXED_HEAD = 79  # magic .. recipient_count
AUTHOR = 20  # version 3: the author's address after the fixed fields
ACCOUNT_STANZA = 113
SECTION_HEAD = 6  # set_version u32, threshold u8, share_count u8
SHARE_STANZA = 146  # index 1, public 32, commitment 32, sealed share 81
DATA = os.urandom(3 * CHUNK + 123)


# --- fixtures -------------------------------------------------------------------------


@pytest.fixture
def binding() -> ContainerBinding:
    """The crypto suite's binding, with the record's author (threshold containers need one)."""
    return ContainerBinding(
        chain_id=31337, registry=b"\x11" * 20, patient=b"\x22" * 20, category=3, author=b"\x33" * 20
    )


@pytest.fixture(scope="module")
def services() -> list[EncryptionKeyPair]:
    return [EncryptionKeyPair.generate() for _ in range(N)]


@pytest.fixture(scope="module")
def author() -> EncryptionKeyPair:
    return EncryptionKeyPair.generate()


@pytest.fixture(scope="module")
def policy(services) -> ThresholdPolicy:
    return ThresholdPolicy(
        set_version=SET_VERSION,
        threshold=K,
        services=tuple(ServiceRecipient(i + 1, keys.public) for i, keys in enumerate(services)),
    )


def _seal(data: bytes, binding: ContainerBinding, recipients, policy: ThresholdPolicy | None) -> bytes:
    out = io.BytesIO()
    encrypt_stream(
        io.BytesIO(data), out, binding=binding, recipients=recipients, chunk_size=CHUNK, threshold_policy=policy
    )
    return out.getvalue()


@pytest.fixture
def container(binding, patient, author, policy) -> bytes:
    return _seal(DATA, binding, [AccountRecipient(patient.public), AccountRecipient(author.public)], policy)


def _header(container: bytes):
    return read_header(io.BytesIO(container))


def _share_of(container: bytes, services, index: int) -> KeyShare:
    return open_service_share(_header(container), index, services[index - 1])


def _decrypt_with_shares(container: bytes, binding, shares) -> bytes:
    key = data_key_from_shares(_header(container), shares)
    out = io.BytesIO()
    decrypt_stream_with_key(io.BytesIO(container), out, binding, key)
    return out.getvalue()


def _section_at() -> int:
    return FIXED_HEAD + AUTHOR + 2 * ACCOUNT_STANZA


def _stanza_at(index: int) -> int:
    return _section_at() + SECTION_HEAD + (index - 1) * SHARE_STANZA


def _edited(container: bytes, at: int, value: bytes) -> bytes:
    edited = bytearray(container)
    edited[at : at + len(value)] = value
    return bytes(edited)


def _open_as(container: bytes, binding, identity) -> bytes:
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(container), out, binding=binding, identity=identity)
    return out.getvalue()


# --- writing --------------------------------------------------------------------------


def test_a_threshold_policy_writes_format_version_3(binding, patient, policy):
    out = io.BytesIO()
    info = encrypt_stream(
        io.BytesIO(b"x"), out, binding=binding, recipients=[AccountRecipient(patient.public)], threshold_policy=policy
    )
    assert info.version == 3 and out.getvalue()[8] == 3
    assert info.threshold is not None and info.threshold.set_version == SET_VERSION


def test_without_a_policy_format_version_1_is_written(binding, patient):
    container = _seal(b"x", binding, [AccountRecipient(patient.public)], None)
    assert container[8] == 1 and _header(container).threshold is None


def test_the_header_lists_one_share_stanza_per_service_in_index_order(container, services):
    section = _header(container).threshold
    assert (section.set_version, section.threshold, section.share_count) == (SET_VERSION, K, N)
    assert [s.index for s in section.stanzas] == [1, 2, 3, 4, 5]
    assert [s.public for s in section.stanzas] == [keys.public for keys in services]


def test_policy_services_given_in_any_order_are_stored_by_index(services):
    reversed_policy = ThresholdPolicy(
        SET_VERSION, 2, tuple(ServiceRecipient(i + 1, keys.public) for i, keys in reversed(list(enumerate(services))))
    )
    assert [s.index for s in reversed_policy.services] == [1, 2, 3, 4, 5]


# --- direct readers -------------------------------------------------------------------


def test_the_patient_decrypts_a_version_3_container_directly(container, binding, patient):
    assert _open_as(container, binding, patient) == DATA


def test_the_author_decrypts_a_version_3_container_directly(container, binding, author):
    assert _open_as(container, binding, author) == DATA


def test_a_service_key_is_not_a_direct_recipient(container, binding, services):
    with pytest.raises(NotARecipientError):
        _open_as(container, binding, services[0])


# --- service shares -------------------------------------------------------------------


def test_every_k_services_shares_decrypt_the_container(container, binding, services):
    for indexes in itertools.combinations(range(1, N + 1), K):
        shares = [_share_of(container, services, i) for i in indexes]
        assert _decrypt_with_shares(container, binding, shares) == DATA


def test_all_n_shares_decrypt_the_container(container, binding, services):
    shares = [_share_of(container, services, i) for i in range(1, N + 1)]
    assert _decrypt_with_shares(container, binding, shares) == DATA


def test_k_minus_1_shares_are_not_enough(container, services):
    shares = [_share_of(container, services, i) for i in (1, 2)]
    with pytest.raises(InsufficientSharesError, match="2 shares given, the container needs 3"):
        data_key_from_shares(_header(container), shares)


def test_k_minus_1_shares_and_a_forged_one_are_caught_before_combining(container, services):
    shares = [_share_of(container, services, i) for i in (1, 2)]
    with pytest.raises(TamperedShareError, match="share 5 does not match its commitment") as caught:
        data_key_from_shares(_header(container), [*shares, KeyShare(5, os.urandom(32))])
    assert caught.value.index == 5


def test_a_wrong_share_fails_verification(container, services):
    genuine = _share_of(container, services, 2)
    wrong = KeyShare(2, bytes([genuine.value[0] ^ 1]) + genuine.value[1:])
    header = _header(container)
    assert verify_share(header, genuine)
    assert not verify_share(header, wrong)


def test_a_wrong_share_among_k_is_named_by_its_index(container, services):
    shares = [_share_of(container, services, i) for i in (1, 3, 4)]
    shares[1] = KeyShare(3, os.urandom(32))
    with pytest.raises(TamperedShareError, match="share 3") as caught:
        data_key_from_shares(_header(container), shares)
    assert caught.value.index == 3


def test_a_share_under_another_services_index_fails_verification(container, services):
    share = _share_of(container, services, 1)
    assert not verify_share(_header(container), KeyShare(2, share.value))


def test_duplicate_shares_are_refused(container, services):
    share = _share_of(container, services, 1)
    with pytest.raises(ShareError, match="more than once"):
        data_key_from_shares(_header(container), [share, share, _share_of(container, services, 2)])


def test_shares_consistent_with_their_commitments_but_not_the_key_are_a_wrong_key(
    binding, patient, author, policy, services
):
    # An author who splits some other key: each share matches its commitment, yet the
    # combined key fails the container's key commitment.
    container = _seal(DATA, binding, [AccountRecipient(patient.public), AccountRecipient(author.public)], policy)
    header = _header(container)
    other = _encode_threshold_section(_make_threshold_section(policy, DataKey.generate(), binding.digest()))
    at = _section_at()
    forged = _header(_edited(container, at, other))
    assert len(forged.raw) == len(header.raw)
    shares = [open_service_share(forged, i, services[i - 1]) for i in (1, 2, 3)]
    with pytest.raises(WrongKeyError, match="key commitment"):
        data_key_from_shares(forged, shares)


def test_a_service_opens_only_the_stanza_sealed_to_its_key(container, services):
    with pytest.raises(NotAServiceError, match="share stanza 2 is sealed to another X25519 key"):
        open_service_share(_header(container), 2, services[0])


def test_an_index_outside_the_set_has_no_stanza(container, services):
    with pytest.raises(NotAServiceError, match="no share stanza for service index 6"):
        open_service_share(_header(container), 6, services[0])


def test_a_version_1_container_has_no_share_for_any_service(binding, patient, services):
    header = _header(_seal(b"x", binding, [AccountRecipient(patient.public)], None))
    with pytest.raises(NotAServiceError, match="format version 1"):
        open_service_share(header, 1, services[0])
    with pytest.raises(NotAServiceError, match="no threshold section"):
        data_key_from_shares(header, [KeyShare(1, bytes(32))])


def test_a_sealed_share_that_does_not_open_is_tampered(container, services):
    sealed_at = _stanza_at(2) + 1 + 32 + 32
    edited = _edited(container, sealed_at + 40, bytes([container[sealed_at + 40] ^ 1]))
    with pytest.raises(TamperedShareError, match="share 2 did not open"):
        open_service_share(_header(edited), 2, services[1])


def test_an_edited_share_commitment_makes_the_service_refuse(container, services):
    commitment_at = _stanza_at(4) + 1 + 32
    edited = _edited(container, commitment_at, bytes([container[commitment_at] ^ 1]))
    with pytest.raises(TamperedShareError, match="share 4 does not match its commitment"):
        open_service_share(_header(edited), 4, services[3])


def test_a_share_stanza_pasted_from_another_patients_container_is_refused(binding, patient, author, policy, services):
    # Mallory copies the share stanzas of Alice's record into a container bound to herself,
    # to have the services release Alice's shares under her own access rights.
    alice = _seal(DATA, binding, [AccountRecipient(patient.public), AccountRecipient(author.public)], policy)
    mallory_binding = ContainerBinding(
        chain_id=binding.chain_id,
        registry=binding.registry,
        patient=b"\x66" * 20,
        category=binding.category,
        author=binding.author,
    )
    recipients = [AccountRecipient(patient.public), AccountRecipient(author.public)]
    mallory = _seal(b"decoy", mallory_binding, recipients, policy)
    section = slice(_section_at(), _stanza_at(N + 1))
    spliced = mallory[: section.start] + alice[section] + mallory[section.stop :]
    header = _header(spliced)
    assert header.binding_digest == mallory_binding.digest()
    for index in range(1, N + 1):
        with pytest.raises(TamperedShareError, match="does not match its commitment"):
            open_service_share(header, index, services[index - 1])


def test_a_sealed_share_alone_pasted_into_another_container_is_refused(container, binding, patient, policy, services):
    other = _seal(b"other", binding, [AccountRecipient(patient.public), AccountRecipient(patient.public)], policy)
    sealed = slice(_stanza_at(1) + 65, _stanza_at(2))
    spliced = other[: sealed.start] + container[sealed] + other[sealed.stop :]
    with pytest.raises(TamperedShareError, match="share 1 does not match its commitment"):
        open_service_share(_header(spliced), 1, services[0])


def test_share_errors_never_show_share_bytes(container, services):
    share = _share_of(container, services, 1)
    with pytest.raises(TamperedShareError) as caught:
        data_key_from_shares(_header(container), [share, KeyShare(2, b"\xcd" * 32), _share_of(container, services, 3)])
    assert share.value.hex() not in str(caught.value) and "cd" * 8 not in str(caught.value)


# --- authentication of the threshold section ------------------------------------------


@pytest.mark.parametrize(
    ("what", "offset"),
    [
        ("set version", 3),
        ("threshold", 4),
        ("stanza 3 public key", SECTION_HEAD + 2 * SHARE_STANZA + 1),
        ("stanza 3 commitment", SECTION_HEAD + 2 * SHARE_STANZA + 33),
        ("stanza 5 sealed share", SECTION_HEAD + 4 * SHARE_STANZA + 100),
    ],
)
def test_an_edited_threshold_section_fails_authentication(what, offset, container, binding, patient):
    at = _section_at() + offset
    edited = _edited(container, at, bytes([container[at] ^ 0x01]))
    with pytest.raises(TamperedContainerError, match="chunk 0"):
        _open_as(edited, binding, patient)


def test_a_threshold_section_swapped_for_another_containers_fails_authentication(
    container, binding, patient, author, policy
):
    other = _seal(DATA, binding, [AccountRecipient(patient.public), AccountRecipient(author.public)], policy)
    section = slice(_section_at(), _stanza_at(N + 1))
    spliced = container[: section.start] + other[section] + container[section.stop :]
    with pytest.raises(TamperedContainerError, match="chunk 0"):
        _open_as(spliced, binding, patient)


# --- parsing bounds -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [
        (0, struct.pack(">I", 0), "set version 0"),
        (4, bytes([0]), "threshold must be 1..5"),
        (4, bytes([6]), "threshold must be 1..5"),
        (5, bytes([0]), "share count must be 1..16"),
        (5, bytes([17]), "share count must be 1..16"),
        (SECTION_HEAD + SHARE_STANZA, bytes([3]), "share stanza 2 has index 3"),
    ],
    ids=["set-version-0", "threshold-0", "threshold-above-count", "count-0", "count-17", "index-order"],
)
def test_out_of_bounds_threshold_fields_are_malformed(offset, value, message, container):
    with pytest.raises(MalformedContainerError, match=message):
        _header(_edited(container, _section_at() + offset, value))


def test_a_header_is_read_from_a_blob_prefix(container):
    header = _header(container)
    assert read_header_bytes(container[: len(header.raw)]) == header


def test_a_prefix_that_ends_inside_the_threshold_section_is_truncated(container):
    with pytest.raises(TruncatedContainerError, match="share stanza 3"):
        read_header_bytes(container[: _stanza_at(3) + 10])


def test_the_header_binding_digest_is_what_a_service_recomputes_from_the_chain(container, binding):
    recomputed = ContainerBinding(
        chain_id=binding.chain_id,
        registry=binding.registry,
        patient=binding.patient,
        category=binding.category,
        author=binding.author,
    )
    assert read_header_bytes(container).binding_digest == recomputed.digest()


def test_the_largest_header_fits_in_the_first_ipfs_leaf(binding, keyring, policy):
    container = _seal(b"", binding, [keyring.recipient] * 1024, policy)
    # The author, 1024 keyring stanzas of 118 bytes and 16 share stanzas would be 123,297 bytes.
    assert len(_header(container).raw) == FIXED_HEAD + AUTHOR + 1024 * 118 + SECTION_HEAD + N * SHARE_STANZA + 24
    assert FIXED_HEAD + AUTHOR + 1024 * 118 + SECTION_HEAD + 16 * SHARE_STANZA + 24 == 123_297 < 256 * 1024


# --- decrypting with a known key ------------------------------------------------------


def test_decrypting_with_a_key_that_fails_the_key_commitment_is_a_wrong_key(container, binding):
    with pytest.raises(WrongKeyError, match="key commitment"):
        decrypt_stream_with_key(io.BytesIO(container), io.BytesIO(), binding, DataKey.generate())


def test_decrypting_with_a_key_under_another_binding_is_refused(container, binding, services):
    key = data_key_from_shares(_header(container), [_share_of(container, services, i) for i in (1, 2, 3)])
    other = ContainerBinding(
        chain_id=binding.chain_id,
        registry=binding.registry,
        patient=binding.patient,
        category=binding.category + 1,
        author=binding.author,
    )
    with pytest.raises(BindingMismatchError):
        decrypt_stream_with_key(io.BytesIO(container), io.BytesIO(), other, key)


# --- policy validation ----------------------------------------------------------------


def _services(n: int) -> tuple[ServiceRecipient, ...]:
    return tuple(ServiceRecipient(i + 1, EncryptionKeyPair.generate().public) for i in range(n))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ThresholdPolicy(0, 1, _services(1)), "set version must be 1.."),
        (lambda: ThresholdPolicy(1, 0, _services(3)), "threshold must be 1..3"),
        (lambda: ThresholdPolicy(1, 4, _services(3)), "threshold must be 1..3"),
        (lambda: ThresholdPolicy(1, 1, ()), "1..16 services"),
        (lambda: ThresholdPolicy(1, 1, _services(3)[1:]), "indexes must be 1..2"),
        (lambda: ThresholdPolicy(1, 1, (*_services(2), _services(2)[1])), "indexes must be 1..3"),
        (lambda: ServiceRecipient(17, bytes(32)), "index must be 1..16"),
    ],
    ids=["set-version-0", "threshold-0", "threshold-above-n", "no-service", "gap", "duplicate-index", "index-17"],
)
def test_invalid_policies_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_two_services_with_one_key_are_refused():
    key = EncryptionKeyPair.generate().public
    with pytest.raises(ValueError, match="share one X25519 key"):
        ThresholdPolicy(1, 2, (ServiceRecipient(1, key), ServiceRecipient(2, key)))


# --- version 1, written by the keyring-era code ---------------------------------------

V1_FIXTURE = Path(__file__).parent / "data" / "container_v1_d6d65f9.hex"
V1_PLAINTEXT = b"version-1 container written by the keyring-era code, kept as a migration fixture.\n" * 3


@pytest.fixture
def v1_keyring() -> Keyring:
    # The fixture's keyring (category 3, epoch 5): secret = sha256(b"medledger test keyring v1 fixture").
    import hashlib

    return keyring_from_secret(3, 5, hashlib.sha256(b"medledger test keyring v1 fixture").digest())


@pytest.fixture
def v1_container() -> bytes:
    return bytes.fromhex(V1_FIXTURE.read_text().strip())


def test_a_version_1_container_written_by_the_old_code_decrypts_for_the_patient(v1_container, binding, patient):
    assert _header(v1_container).version == 1
    assert _open_as(v1_container, binding, patient) == V1_PLAINTEXT


def test_a_version_1_container_written_by_the_old_code_decrypts_with_its_keyring(v1_container, binding, v1_keyring):
    assert _open_as(v1_container, binding, v1_keyring) == V1_PLAINTEXT


def test_rewrap_moves_a_version_1_record_to_threshold_release(
    v1_container, binding, v1_keyring, patient, author, policy, services
):
    out = io.BytesIO()
    info = rewrap(
        io.BytesIO(v1_container),
        out,
        binding=binding,
        identity=v1_keyring,
        recipients=[AccountRecipient(patient.public), AccountRecipient(author.public)],
        threshold_policy=policy,
    )
    migrated = out.getvalue()
    assert info.version == 3
    shares = [_share_of(migrated, services, i) for i in (2, 4, 5)]
    assert _decrypt_with_shares(migrated, binding, shares) == V1_PLAINTEXT
    assert _open_as(migrated, binding, patient) == V1_PLAINTEXT
    with pytest.raises(NotARecipientError):
        _open_as(migrated, binding, v1_keyring)
