"""k-of-n sharing of a 32-byte data key: any k shares give it back, k-1 do not."""

from __future__ import annotations

import itertools
import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medledger.crypto import (
    KeyFormatError,
    KeyShare,
    ShareError,
    combine_shares,
    decode_share,
    encode_share,
    share_commitment,
    split_secret,
)
from medledger.crypto.shares import MAX_SHARES, verify_share_commitment

SECRET = bytes(range(32))
BINDING_DIGEST = b"\x5a" * 32


@pytest.mark.parametrize(("k", "n"), [(1, 1), (1, 4), (2, 2), (2, 3), (3, 5), (5, 5)])
def test_every_k_subset_of_n_shares_recombines_the_secret(k, n):
    shares = split_secret(SECRET, k, n)
    for subset in itertools.combinations(shares, k):
        assert combine_shares(subset) == SECRET


@pytest.mark.parametrize(("k", "n"), [(8, 16), (16, 16)])
def test_random_k_subsets_of_sixteen_shares_recombine_the_secret(k, n):
    rng = random.Random(k)
    shares = split_secret(SECRET, k, n)
    for _ in range(3):
        assert combine_shares(rng.sample(shares, k)) == SECRET


@settings(max_examples=25, deadline=None, database=None)
@given(secret=st.binary(min_size=32, max_size=32), data=st.data())
def test_any_k_distinct_shares_of_any_split_recombine_the_secret(secret, data):
    n = data.draw(st.integers(1, 8), label="n")
    k = data.draw(st.integers(1, n), label="k")
    subset = data.draw(st.permutations(split_secret(secret, k, n)), label="order")[:k]
    assert combine_shares(subset) == secret


def test_more_than_k_genuine_shares_also_recombine_the_secret():
    shares = split_secret(SECRET, 3, 5)
    assert combine_shares(shares) == SECRET


def test_shares_are_numbered_one_to_n():
    assert [share.index for share in split_secret(SECRET, 2, 4)] == [1, 2, 3, 4]


def test_every_k_minus_1_subset_completed_by_a_forged_share_gives_a_wrong_secret():
    k, n = 3, 5
    shares = split_secret(SECRET, k, n)
    for subset in itertools.combinations(shares, k - 1):
        missing = next(i for i in range(1, n + 1) if i not in {s.index for s in subset})
        forged = KeyShare(missing, os.urandom(32))
        assert combine_shares([*subset, forged]) != SECRET


def test_k_minus_1_shares_alone_do_not_give_the_secret():
    shares = split_secret(SECRET, 3, 5)
    for subset in itertools.combinations(shares, 2):
        assert combine_shares(subset) != SECRET


def test_one_altered_share_among_k_spoils_the_secret():
    first, second, third = split_secret(SECRET, 3, 3)
    altered = KeyShare(third.index, bytes([third.value[0] ^ 1]) + third.value[1:])
    assert combine_shares([first, second, altered]) != SECRET


def test_each_split_draws_fresh_random_polynomials():
    assert split_secret(SECRET, 2, 3) != split_secret(SECRET, 2, 3)


def test_both_halves_of_the_secret_are_shared():
    # A share value is (low-half share || high-half share): changing either half of the
    # secret changes what k shares recombine to.
    for secret in (bytes(16) + os.urandom(16), os.urandom(16) + bytes(16)):
        assert combine_shares(split_secret(secret, 2, 2)) == secret


def test_duplicate_share_indexes_are_refused():
    shares = split_secret(SECRET, 2, 3)
    with pytest.raises(ShareError, match="index 1 is given more than once"):
        combine_shares([shares[0], shares[0]])


def test_combining_no_share_is_refused():
    with pytest.raises(ShareError, match=r"1\.\.16 shares"):
        combine_shares([])


@pytest.mark.parametrize(
    ("k", "n", "message"),
    [(0, 3, "threshold"), (4, 3, "threshold"), (1, 0, "share count"), (1, MAX_SHARES + 1, "share count")],
)
def test_split_bounds_are_enforced(k, n, message):
    with pytest.raises(ValueError, match=message):
        split_secret(SECRET, k, n)


@pytest.mark.parametrize("size", [0, 16, 31, 33])
def test_only_a_32_byte_secret_is_split(size):
    with pytest.raises(KeyFormatError, match="32 bytes"):
        split_secret(bytes(size), 1, 1)


@pytest.mark.parametrize("index", [0, MAX_SHARES + 1, -1])
def test_share_index_must_be_1_to_16(index):
    with pytest.raises(ShareError, match=r"1\.\.16"):
        KeyShare(index, bytes(32))


def test_share_repr_never_shows_the_value():
    share = KeyShare(1, b"\xab" * 32)
    assert "ab" not in repr(share) and repr(share) == "KeyShare(index=1)"


def test_share_encoding_is_index_then_value_and_round_trips():
    share = split_secret(SECRET, 2, 5)[3]
    encoded = encode_share(share)
    assert len(encoded) == 33 and encoded[0] == 4 and encoded[1:] == share.value
    assert decode_share(encoded) == share


@pytest.mark.parametrize(
    ("encoded", "message"),
    [(bytes(32), "33 bytes"), (bytes(34), "33 bytes"), (bytes(33), "1..16"), (bytes([17]) + bytes(32), "1..16")],
    ids=["short", "long", "index-0", "index-17"],
)
def test_decoding_refuses_what_is_not_a_share(encoded, message):
    with pytest.raises(ShareError, match=message):
        decode_share(encoded)


def test_commitment_is_32_bytes_and_verifies_its_share():
    share = split_secret(SECRET, 2, 3)[0]
    commitment = share_commitment(share, BINDING_DIGEST)
    assert len(commitment) == 32
    assert verify_share_commitment(share, BINDING_DIGEST, commitment)


def test_commitment_does_not_verify_another_share():
    first, second = split_secret(SECRET, 2, 2)
    assert not verify_share_commitment(second, BINDING_DIGEST, share_commitment(first, BINDING_DIGEST))


def test_commitment_binds_the_container_binding_digest():
    share = split_secret(SECRET, 2, 2)[0]
    assert share_commitment(share, BINDING_DIGEST) != share_commitment(share, b"\x5b" * 32)


def test_commitment_binds_the_share_index():
    value = os.urandom(32)
    assert share_commitment(KeyShare(1, value), BINDING_DIGEST) != share_commitment(KeyShare(2, value), BINDING_DIGEST)
