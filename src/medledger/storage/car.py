"""CAR v1 (Content Addressable aRchive) writing: many blobs' blocks in one stream, for
`/api/v0/dag/import`, which stores and pins every root in one request where `add` takes one
request per blob.

Format (https://ipld.io/specs/transport/car/carv1/): a varint-prefixed DAG-CBOR header
`{"roots": [CID, ...], "version": 1}`, then for each block a varint-prefixed section of the
block's binary CID followed by its bytes. The header's DAG-CBOR is written by hand: it is one
fixed shape (a map of two keys in canonical order: "roots" before "version", as DAG-CBOR sorts
keys by length first), and CIDs are CBOR tag 42 around a byte string of 0x00 + the binary CID.
"""

from __future__ import annotations

from collections.abc import Iterable

from .cid import Block, Cid


def varint(value: int) -> bytes:
    """Unsigned LEB128, as multiformats' varints."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _cbor_head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    for size, code in ((1, 24), (2, 25), (4, 26), (8, 27)):
        if value < 1 << (8 * size):
            return bytes([major << 5 | code]) + value.to_bytes(size, "big")
    raise ValueError("CBOR length too large")


def _cbor_cid(cid: Cid) -> bytes:
    raw = b"\x00" + cid.to_bytes()
    return b"\xd8\x2a" + _cbor_head(2, len(raw)) + raw  # tag 42, byte string


def header(roots: Iterable[Cid]) -> bytes:
    roots = list(roots)
    body = (
        _cbor_head(5, 2)  # map of 2
        + _cbor_head(3, 5)
        + b"roots"
        + _cbor_head(4, len(roots))
        + b"".join(_cbor_cid(cid) for cid in roots)
        + _cbor_head(3, 7)
        + b"version"
        + _cbor_head(0, 1)
    )
    return varint(len(body)) + body


def section(block: Block) -> bytes:
    cid = block.cid.to_bytes()
    return varint(len(cid) + len(block.data)) + cid + block.data


def write_car(roots: Iterable[Cid], blocks: Iterable[Block]) -> bytes:
    """One CAR v1 holding `blocks` (each once) with `roots` as its roots."""
    seen: set[bytes] = set()
    parts = [header(roots)]
    for block in blocks:
        key = block.cid.to_bytes()
        if key not in seen:
            seen.add(key)
            parts.append(section(block))
    return b"".join(parts)
