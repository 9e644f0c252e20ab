"""Hand-rolled protobuf for the two schemas UnixFS files need: dag-pb PBNode and UnixFS Data.

Byte order follows go-ipfs and js-ipfs exactly (the CID depends on it): a PBNode writes its
Links (field 2) before Data (field 1); a PBLink writes Hash, Name (even when empty), Tsize;
UnixFS Data writes Type, [Data], filesize, then one unpacked varint per blocksize.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from .errors import MalformedDagError

# protobuf wire types
_VARINT = 0
_LEN = 2

# UnixFS Data.DataType values (unixfs.proto)
UNIXFS_RAW = 0
UNIXFS_DIRECTORY = 1
UNIXFS_FILE = 2


def encode_varint(value: int) -> bytes:
    if value < 0:
        raise ValueError("varint must be non-negative")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Return (value, new position). Raises ValueError on truncation or overlong input."""
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _key(field_number: int, wire_type: int) -> bytes:
    return encode_varint((field_number << 3) | wire_type)


def _len_field(field_number: int, payload: bytes) -> bytes:
    return _key(field_number, _LEN) + encode_varint(len(payload)) + payload


def _varint_field(field_number: int, value: int) -> bytes:
    return _key(field_number, _VARINT) + encode_varint(value)


@dataclass(frozen=True)
class PBLink:
    hash: bytes  # binary CID
    name: str
    tsize: int | None


@dataclass(frozen=True)
class PBNode:
    links: tuple[PBLink, ...]
    data: bytes | None


@dataclass(frozen=True)
class UnixFSData:
    type: int
    data: bytes | None = None
    filesize: int | None = None
    blocksizes: tuple[int, ...] = field(default_factory=tuple)


def encode_pb_node(links: list[PBLink], data: bytes | None) -> bytes:
    out = bytearray()
    for link in links:
        body = _len_field(1, link.hash) + _len_field(2, link.name.encode())
        if link.tsize is not None:
            body += _varint_field(3, link.tsize)
        out += _len_field(2, body)
    if data is not None:
        out += _len_field(1, data)
    return bytes(out)


def encode_unixfs_file(filesize: int, blocksizes: list[int]) -> bytes:
    out = bytearray(_varint_field(1, UNIXFS_FILE))
    out += _varint_field(3, filesize)
    for size in blocksizes:
        out += _varint_field(4, size)
    return bytes(out)


def _iter_fields(buf: bytes, what: str) -> Iterator[tuple[int, int | bytes]]:
    """Yield (field_number, value): an int for a varint field, bytes for a length-delimited one."""
    pos = 0
    try:
        while pos < len(buf):
            key, pos = decode_varint(buf, pos)
            number, wire = key >> 3, key & 7
            if wire == _VARINT:
                value, pos = decode_varint(buf, pos)
                yield number, value
            elif wire == _LEN:
                length, pos = decode_varint(buf, pos)
                if pos + length > len(buf):
                    raise ValueError("truncated length-delimited field")
                yield number, bytes(buf[pos : pos + length])
                pos += length
            else:
                raise ValueError(f"unsupported wire type {wire}")
    except ValueError as exc:
        raise MalformedDagError(f"invalid {what} protobuf: {exc}") from None


def decode_pb_node(buf: bytes) -> PBNode:
    links: list[PBLink] = []
    data: bytes | None = None
    for number, value in _iter_fields(buf, "dag-pb PBNode"):
        if number == 2 and isinstance(value, bytes):
            links.append(_decode_pb_link(value))
        elif number == 1 and isinstance(value, bytes):
            data = value
        else:
            raise MalformedDagError(f"unexpected field {number} in dag-pb PBNode")
    return PBNode(tuple(links), data)


def _decode_pb_link(buf: bytes) -> PBLink:
    hash_: bytes | None = None
    name = ""
    tsize: int | None = None
    for number, value in _iter_fields(buf, "dag-pb PBLink"):
        if number == 1 and isinstance(value, bytes):
            hash_ = value
        elif number == 2 and isinstance(value, bytes):
            name = value.decode("utf-8", "replace")
        elif number == 3 and isinstance(value, int):
            tsize = value
        else:
            raise MalformedDagError(f"unexpected field {number} in dag-pb PBLink")
    if hash_ is None:
        raise MalformedDagError("dag-pb PBLink without Hash")
    return PBLink(hash_, name, tsize)


def decode_unixfs(buf: bytes) -> UnixFSData:
    type_: int | None = None
    data: bytes | None = None
    filesize: int | None = None
    blocksizes: list[int] = []
    for number, value in _iter_fields(buf, "UnixFS Data"):
        if number == 1 and isinstance(value, int):
            type_ = value
        elif number == 2 and isinstance(value, bytes):
            data = value
        elif number == 3 and isinstance(value, int):
            filesize = value
        elif number == 4 and isinstance(value, int):
            blocksizes.append(value)
        elif number == 4 and isinstance(value, bytes):  # tolerate packed encoding from other writers
            pos = 0
            while pos < len(value):
                size, pos = decode_varint(value, pos)
                blocksizes.append(size)
        # hashType, fanout, mode, mtime: irrelevant for reading file bytes
    if type_ is None:
        raise MalformedDagError("UnixFS Data without Type")
    return UnixFSData(type_, data, filesize, tuple(blocksizes))
