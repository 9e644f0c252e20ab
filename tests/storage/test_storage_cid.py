"""CID computation and parsing: identical to `ipfs add --cid-version=1 --raw-leaves`."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medledger.storage import (
    CHUNK_SIZE,
    CODEC_DAG_PB,
    CODEC_RAW,
    Block,
    Cid,
    CidBuilder,
    InvalidCidError,
    compute_cid,
)
from medledger.storage._pb import decode_pb_node, decode_unixfs

EMPTY_FILE_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"  # js-ipfs 0.66.1 / Kubo
ONE_BYTE_A_CID = "bafkreigks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273sixm"  # b"a"


def test_empty_file_is_the_raw_cid_of_sha256_of_nothing():
    cid = compute_cid(b"")
    assert str(cid) == EMPTY_FILE_CID
    assert cid.codec == CODEC_RAW and cid.digest == hashlib.sha256(b"").digest()


def test_single_chunk_file_is_one_raw_block():
    assert str(compute_cid(b"a")) == ONE_BYTE_A_CID
    assert compute_cid(b"x" * CHUNK_SIZE).codec == CODEC_RAW


def test_file_over_one_chunk_is_a_dag_pb_root_with_links_before_data():
    blocks: list[Block] = []
    root = compute_cid(b"x" * (CHUNK_SIZE + 1), on_block=blocks.append)
    assert root.codec == CODEC_DAG_PB
    assert blocks[-1].cid == root
    raw = blocks[-1].data
    assert raw[0] == 0x12  # field 2 (Links) first, as go-ipfs and js-ipfs write it
    node = decode_pb_node(raw)
    assert [link.tsize for link in node.links] == [CHUNK_SIZE, 1]
    meta = decode_unixfs(node.data or b"")
    assert (meta.type, meta.filesize, meta.blocksizes) == (2, CHUNK_SIZE + 1, (CHUNK_SIZE, 1))


def test_more_than_174_chunks_builds_a_second_tree_level():
    blocks: list[Block] = []
    compute_cid(b"\0" * (174 * CHUNK_SIZE + 1), on_block=blocks.append)
    root = decode_pb_node(blocks[-1].data)
    assert len(root.links) == 2
    assert all(Cid.from_bytes(link.hash).codec == CODEC_DAG_PB for link in root.links)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=3 * CHUNK_SIZE), min_size=1, max_size=6))
def test_cid_does_not_depend_on_how_the_stream_is_split(sizes):
    data = bytes(range(256)) * (sum(sizes) // 256 + 1)
    data = data[: sum(sizes)]
    builder = CidBuilder()
    offset = 0
    for size in sizes:
        builder.update(data[offset : offset + size])
        offset += size
    assert builder.finish() == compute_cid(data)


def test_builder_hands_out_each_full_chunk_at_once_and_keeps_no_file_data():
    seen: list[Block] = []
    builder = CidBuilder(on_block=seen.append)
    for count in range(1, 9):
        builder.update(b"y" * CHUNK_SIZE)
        assert len(seen) == count and len(builder._buffer) == 0
    root = builder.finish()
    assert len(seen) == 9 and seen[-1].cid == root


def test_base32_string_round_trips():
    cid = Cid.parse(ONE_BYTE_A_CID)
    assert str(cid) == ONE_BYTE_A_CID
    assert Cid.parse(str(cid)) == cid


def test_cidv0_parses_as_dag_pb_with_its_sha256_digest():
    cid = Cid.parse("QmRaaUwTNfwgFZpeUy8qrZwrp2dY4kCKmmB5xEqvH3vtD1")
    assert (cid.version, cid.codec, len(cid.digest)) == (0, CODEC_DAG_PB, 32)
    assert str(cid) == "QmRaaUwTNfwgFZpeUy8qrZwrp2dY4kCKmmB5xEqvH3vtD1"
    assert str(cid.to_v1()).startswith("bafybei")


def test_on_chain_pointer_digest_and_codec_rebuild_the_cid():
    cid = compute_cid(b"x" * (CHUNK_SIZE + 1))
    assert Cid.from_digest(cid.digest, cid.codec) == cid


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("hello", "prefix 'h'"),
        (ONE_BYTE_A_CID[:-2], "digest is 31 bytes"),
        ("bafkreigks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273si0m", "not base32"),
        ("QmRaaUwTNfwgFZpeUy8qrZwrp2dY4kCKmmB5xEqvH3vt0l", "base58btc"),
        ("bafyreigks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273sixm", "codec 0x71"),
        ("mAVUSIMqXgRlPm71fWOMTwZR06lfRbP9PZU2f4Fj0tlmvB1pu", "prefix 'm'"),
    ],
)
def test_invalid_cid_strings_raise_invalid_cid_error_naming_the_problem(text, problem):
    with pytest.raises(InvalidCidError, match=problem):
        Cid.parse(text)


def test_non_sha256_multihash_is_rejected():
    sha512_cid = "b" + "afkrwq" + "a" * 100
    with pytest.raises(InvalidCidError):
        Cid.parse(sha512_cid)


def test_digest_must_be_32_bytes():
    with pytest.raises(InvalidCidError, match="32 bytes"):
        Cid.from_digest(b"\x01" * 31, CODEC_RAW)
