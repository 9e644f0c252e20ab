"""Category keyrings travel in grant and rotation envelopes; revocation rotates them."""

from __future__ import annotations

import io

import pytest

from medledger.crypto import (
    AccountRecipient,
    CategoryKeyring,
    EncryptionKeyPair,
    EnvelopeError,
    EnvelopeKeyError,
    KeyFormatError,
    KeyringRecipient,
    NotAGranteeError,
    NotARecipientError,
    UnsupportedEnvelopeVersionError,
    build_grant_envelope,
    build_rotation_envelope,
    decrypt_stream,
    encrypt_stream,
    new_keyring,
    open_grant_envelope,
    open_rotation_envelope,
    parse_grant_envelope,
    parse_rotation_envelope,
)
from medledger.crypto.keyring import MAX_GRANT_ENTRIES, MAX_ROTATION_SHARES

ALICE = b"\xa1" * 20
BOB = b"\xb0" * 20
CAROL = b"\xc0" * 20


# --- keyrings ---------------------------------------------------------------------------


def test_new_keyring_holds_a_matching_pair():
    keyring = new_keyring(7, epoch=2)
    assert (keyring.category, keyring.epoch) == (7, 2)
    assert CategoryKeyring.from_secret(7, 2, keyring.secret) == keyring


def test_new_keyrings_are_random():
    assert new_keyring(1).secret != new_keyring(1).secret


def test_keyring_repr_never_shows_the_secret():
    keyring = new_keyring(1)
    assert "secret" not in repr(keyring) and keyring.secret.hex() not in repr(keyring)
    assert repr(keyring.secret) not in repr(keyring)


@pytest.mark.parametrize("category", [-1, 256])
def test_category_is_a_bit_position_0_to_255(category):
    with pytest.raises(ValueError, match="category"):
        new_keyring(category)


@pytest.mark.parametrize("epoch", [-1, 2**32])
def test_epoch_fits_in_32_bits(epoch):
    with pytest.raises(ValueError, match="epoch"):
        new_keyring(0, epoch)


def test_keyring_with_mismatched_halves_is_rejected():
    a, b = new_keyring(0), new_keyring(0)
    with pytest.raises(KeyFormatError):
        CategoryKeyring(0, 0, a.public, b.secret)


# --- grant envelopes --------------------------------------------------------------------


def test_grant_envelope_round_trips_every_granted_keyring():
    grantee = EncryptionKeyPair.generate()
    keyrings = [new_keyring(9, 1), new_keyring(0, 0), new_keyring(9, 0), new_keyring(255, 3)]
    opened = open_grant_envelope(build_grant_envelope(keyrings, grantee.public), grantee)
    assert opened == sorted(keyrings, key=lambda k: (k.category, k.epoch))


def test_grant_envelope_is_compact():
    envelope = build_grant_envelope([new_keyring(c) for c in range(3)], EncryptionKeyPair.generate().public)
    assert len(envelope) == 4 + 3 * (1 + 4 + 80)


def test_grant_envelope_parses_without_a_key():
    envelope = build_grant_envelope([new_keyring(4, 2)], EncryptionKeyPair.generate().public)
    (entry,) = parse_grant_envelope(envelope).entries
    assert (entry.category, entry.epoch, len(entry.sealed_secret)) == (4, 2, 80)


def test_grant_envelope_does_not_open_for_another_account():
    envelope = build_grant_envelope([new_keyring(1)], EncryptionKeyPair.generate().public)
    with pytest.raises(EnvelopeKeyError):
        open_grant_envelope(envelope, EncryptionKeyPair.generate())


def test_grant_envelope_refuses_duplicate_keyrings():
    keyring = new_keyring(1)
    with pytest.raises(ValueError, match="twice"):
        build_grant_envelope([keyring, keyring], EncryptionKeyPair.generate().public)


def test_grant_envelope_refuses_no_keyrings():
    with pytest.raises(ValueError):
        build_grant_envelope([], EncryptionKeyPair.generate().public)


def _grant(*categories: int) -> bytes:
    return build_grant_envelope([new_keyring(c) for c in categories], EncryptionKeyPair.generate().public)


@pytest.mark.parametrize(
    "envelope",
    [
        b"",
        b"\x01",
        b"\x01\x01\x00\x00",  # zero entries
        b"\x01\x01" + (MAX_GRANT_ENTRIES + 1).to_bytes(2, "big"),  # count above bound
        b"\x01\x01\xff\xff" + b"\x00" * 85,  # absurd count, short body
        _grant(1)[:-1],  # truncated
        _grant(1) + b"\x00",  # trailing byte
        _grant(1)[:1] + b"\x02" + _grant(1)[2:],  # rotation type byte
    ],
    ids=[
        "empty",
        "head-only",
        "zero-entries",
        "count-over-max",
        "absurd-count",
        "truncated",
        "trailing",
        "wrong-type",
    ],
)
def test_malformed_grant_envelope_is_rejected(envelope):
    with pytest.raises(EnvelopeError):
        parse_grant_envelope(envelope)


def test_grant_envelope_entries_must_be_in_canonical_order():
    envelope = _grant(1, 2)
    first, second = envelope[4:89], envelope[89:]
    with pytest.raises(EnvelopeError, match="out of order"):
        parse_grant_envelope(envelope[:4] + second + first)


def test_grant_envelope_of_an_unknown_version_is_unsupported():
    with pytest.raises(UnsupportedEnvelopeVersionError):
        parse_grant_envelope(b"\x02" + _grant(1)[1:])


# --- rotation envelopes -----------------------------------------------------------------


@pytest.fixture
def parties():
    return {
        "patient": EncryptionKeyPair.generate(),
        ALICE: EncryptionKeyPair.generate(),
        BOB: EncryptionKeyPair.generate(),
        CAROL: EncryptionKeyPair.generate(),
    }


def test_patient_recovers_the_keyring_from_the_rotation_envelope(parties):
    keyring = new_keyring(5, 1)
    envelope = build_rotation_envelope(keyring, parties["patient"].public, {})
    assert open_rotation_envelope(envelope, parties["patient"]) == keyring


def test_every_remaining_grantee_recovers_the_rotated_keyring(parties):
    keyring = new_keyring(5, 1)
    shares = {a: parties[a].public for a in (CAROL, ALICE)}
    envelope = build_rotation_envelope(keyring, parties["patient"].public, shares)
    for address in (ALICE, CAROL):
        assert open_rotation_envelope(envelope, parties[address], grantee_address=address) == keyring


def test_rotation_envelope_publishes_public_key_epoch_and_sorted_grantees(parties):
    keyring = new_keyring(5, 1)
    envelope = build_rotation_envelope(
        keyring,
        parties["patient"].public,
        {CAROL: parties[CAROL].public, ALICE: parties[ALICE].public},
    )
    parsed = parse_rotation_envelope(envelope)
    assert (parsed.category, parsed.epoch, parsed.public) == (5, 1, keyring.public)
    assert parsed.grantees == (ALICE, CAROL)
    assert len(envelope) == 7 + 32 + 80 + 2 + 2 * (20 + 80)


def test_revoked_grantee_has_no_share_in_the_next_epoch(parties):
    epoch_1 = new_keyring(5, 1)
    envelope = build_rotation_envelope(epoch_1, parties["patient"].public, {ALICE: parties[ALICE].public})
    with pytest.raises(NotAGranteeError):
        open_rotation_envelope(envelope, parties[BOB], grantee_address=BOB)


def test_revoked_grantee_cannot_open_another_grantees_share(parties):
    envelope = build_rotation_envelope(new_keyring(5, 1), parties["patient"].public, {ALICE: parties[ALICE].public})
    with pytest.raises(EnvelopeKeyError):
        open_rotation_envelope(envelope, parties[BOB], grantee_address=ALICE)
    with pytest.raises(EnvelopeKeyError):
        open_rotation_envelope(envelope, parties[BOB])


def test_revoked_grantee_cannot_read_records_written_after_rotation(parties, binding, seal_bytes, open_bytes):
    patient = parties["patient"]
    epoch_0 = new_keyring(binding.category, 0)
    grant = build_grant_envelope([epoch_0], parties[BOB].public)
    (bobs_keyring,) = open_grant_envelope(grant, parties[BOB])

    # Bob is revoked: epoch 1 is shared with Alice only; writers seal to epoch 1.
    rotation = build_rotation_envelope(new_keyring(binding.category, 1), patient.public, {ALICE: parties[ALICE].public})
    published = parse_rotation_envelope(rotation)
    record = seal_bytes(
        b"after revocation",
        recipients=[
            AccountRecipient(patient.public),
            KeyringRecipient(published.category, published.epoch, published.public),
        ],
    )
    with pytest.raises(NotARecipientError):
        open_bytes(record, identity=bobs_keyring)
    alices = open_rotation_envelope(rotation, parties[ALICE], grantee_address=ALICE)
    assert open_bytes(record, identity=alices) == b"after revocation"


def test_rotation_share_that_opens_to_another_key_is_refused(parties):
    keyring, impostor = new_keyring(5, 1), new_keyring(5, 1)
    envelope = bytearray(build_rotation_envelope(keyring, parties["patient"].public, {}))
    envelope[7:39] = impostor.public  # the published public key no longer matches the secret
    with pytest.raises(EnvelopeKeyError, match="public key"):
        open_rotation_envelope(bytes(envelope), parties["patient"])


def test_rotation_envelope_refuses_malformed_grantee_address(parties):
    with pytest.raises(ValueError, match="20 bytes"):
        build_rotation_envelope(new_keyring(1), parties["patient"].public, {b"\x01" * 19: parties[ALICE].public})


def _rotation(*grantees: bytes) -> bytes:
    return build_rotation_envelope(
        new_keyring(2, 3),
        EncryptionKeyPair.generate().public,
        {g: EncryptionKeyPair.generate().public for g in grantees},
    )


_GOOD = _rotation(ALICE, BOB)
_HEAD = _GOOD[: 7 + 32 + 80]


@pytest.mark.parametrize(
    "envelope",
    [
        b"",
        _GOOD[:-1],
        _GOOD + b"\x00",
        _GOOD[:1] + b"\x01" + _GOOD[2:],
        _HEAD + (MAX_ROTATION_SHARES + 1).to_bytes(2, "big"),
        _HEAD + b"\xff\xff",
        _HEAD + b"\x00\x02" + _GOOD[-100:] + _GOOD[-200:-100],
        _HEAD + b"\x00\x02" + _GOOD[-100:] + _GOOD[-100:],
    ],
    ids=[
        "empty",
        "truncated",
        "trailing",
        "wrong-type",
        "count-over-max",
        "absurd-count-short-body",
        "out-of-order",
        "duplicate",
    ],
)
def test_malformed_rotation_envelope_is_rejected(envelope):
    with pytest.raises(EnvelopeError):
        parse_rotation_envelope(envelope)


def test_rotation_envelope_of_an_unknown_version_is_unsupported():
    with pytest.raises(UnsupportedEnvelopeVersionError):
        parse_rotation_envelope(b"\x09" + _GOOD[1:])


def test_records_sealed_to_a_keyring_open_with_the_keyring_from_a_grant(binding):
    keyring = new_keyring(binding.category, 0)
    grantee = EncryptionKeyPair.generate()
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(b"x"), out, binding=binding, recipients=[KeyringRecipient.of(keyring)])
    (received,) = open_grant_envelope(build_grant_envelope([keyring], grantee.public), grantee)
    opened = io.BytesIO()
    decrypt_stream(io.BytesIO(out.getvalue()), opened, binding=binding, identity=received)
    assert opened.getvalue() == b"x"
