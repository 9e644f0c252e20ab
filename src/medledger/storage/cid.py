"""Content identifiers, computed exactly as `ipfs add --cid-version=1 --raw-leaves` does.

Kubo and js-ipfs defaults: fixed 256 KiB chunks, balanced layout with at most 174 links per
node. A file of zero or one chunk is a single raw block (codec 0x55); a larger file is a tree
of dag-pb (codec 0x70) UnixFS File nodes over raw leaves.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from . import _pb
from .errors import InvalidCidError

CODEC_RAW = 0x55
CODEC_DAG_PB = 0x70
SHA2_256 = 0x12
SHA2_256_LENGTH = 32

CHUNK_SIZE = 262_144  # Kubo/js-ipfs default chunker "size-262144"
MAX_LINKS = 174  # Kubo/js-ipfs balanced layout: links per node

_CODECS = {CODEC_RAW: "raw", CODEC_DAG_PB: "dag-pb"}
_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}


def _b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, rem = divmod(number, 58)
        out.append(_B58_ALPHABET[rem])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(out))


def _b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        try:
            number = number * 58 + _B58_INDEX[char]
        except KeyError:
            raise InvalidCidError(f"invalid CID {text!r}: {char!r} is not a base58btc character") from None
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + body


def _b32decode(text: str, original: str) -> bytes:
    if not text or any(c not in "abcdefghijklmnopqrstuvwxyz234567" for c in text):
        raise InvalidCidError(f"invalid CID {original!r}: not base32 (RFC 4648, no padding)")
    padded = text.upper() + "=" * (-len(text) % 8)
    try:
        return base64.b32decode(padded)
    except ValueError:
        raise InvalidCidError(f"invalid CID {original!r}: bad base32 length") from None


@dataclass(frozen=True)
class Cid:
    """A CID with a sha2-256 multihash: what the on-chain pointer stores is (digest, codec)."""

    version: int
    codec: int
    digest: bytes

    def __post_init__(self) -> None:
        if self.version not in (0, 1):
            raise InvalidCidError(f"unsupported CID version {self.version}")
        if self.codec not in _CODECS:
            raise InvalidCidError(f"unsupported CID codec 0x{self.codec:x} (expected raw 0x55 or dag-pb 0x70)")
        if not isinstance(self.digest, bytes) or len(self.digest) != SHA2_256_LENGTH:
            raise InvalidCidError("CID digest must be 32 bytes of sha2-256")
        if self.version == 0 and self.codec != CODEC_DAG_PB:
            raise InvalidCidError("CIDv0 can only name dag-pb blocks")

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_digest(cls, digest: bytes, codec: int) -> Cid:
        """Rebuild the CIDv1 of an on-chain pointer (sha2-256 digest + multicodec)."""
        return cls(1, codec, bytes(digest))

    @classmethod
    def for_block(cls, data: bytes, codec: int) -> Cid:
        return cls(1, codec, hashlib.sha256(data).digest())

    @classmethod
    def parse(cls, text: str) -> Cid:
        """Parse base32 CIDv1 ('b…'), base58btc CIDv1 ('z…') or base58btc CIDv0 ('Qm…')."""
        if not isinstance(text, str):
            raise InvalidCidError(f"CID must be a str, got {type(text).__name__}")
        if not text:
            raise InvalidCidError("empty CID string")
        if len(text) == 46 and text.startswith("Qm"):
            raw = _b58decode(text)
            if len(raw) != 34 or raw[0] != SHA2_256 or raw[1] != SHA2_256_LENGTH:
                raise InvalidCidError(f"invalid CIDv0 {text!r}: not a sha2-256 multihash")
            return cls(0, CODEC_DAG_PB, raw[2:])
        prefix, body = text[0], text[1:]
        if prefix == "b":
            return cls.from_bytes(_b32decode(body, text), original=text)
        if prefix == "B":
            return cls.from_bytes(_b32decode(body.lower(), text), original=text)
        if prefix == "z":
            return cls.from_bytes(_b58decode(body), original=text)
        raise InvalidCidError(
            f"invalid CID {text!r}: expected base32 CIDv1 ('b…') or base58btc CIDv0 ('Qm…'), "
            f"multibase prefix {prefix!r} is not supported"
        )

    @classmethod
    def from_bytes(cls, raw: bytes, *, original: str | None = None) -> Cid:
        """Decode a binary CID (v1: varint version, varint codec, multihash; or a v0 multihash)."""
        label = repr(original) if original is not None else raw.hex()
        if len(raw) == 34 and raw[0] == SHA2_256 and raw[1] == SHA2_256_LENGTH:
            return cls(0, CODEC_DAG_PB, bytes(raw[2:]))
        try:
            version, pos = _pb.decode_varint(raw, 0)
            codec, pos = _pb.decode_varint(raw, pos)
            hash_code, pos = _pb.decode_varint(raw, pos)
            length, pos = _pb.decode_varint(raw, pos)
        except ValueError as exc:
            raise InvalidCidError(f"invalid CID {label}: {exc}") from None
        if version != 1:
            raise InvalidCidError(f"invalid CID {label}: version {version} (expected 1)")
        if codec not in _CODECS:
            raise InvalidCidError(f"invalid CID {label}: codec 0x{codec:x} is not raw (0x55) or dag-pb (0x70)")
        if hash_code != SHA2_256 or length != SHA2_256_LENGTH:
            raise InvalidCidError(f"invalid CID {label}: multihash 0x{hash_code:x}/{length} is not sha2-256/32")
        digest = bytes(raw[pos:])
        if len(digest) != SHA2_256_LENGTH:
            raise InvalidCidError(f"invalid CID {label}: digest is {len(digest)} bytes, expected {SHA2_256_LENGTH}")
        return cls(1, codec, digest)

    @classmethod
    def coerce(cls, value: Cid | str) -> Cid:
        return value if isinstance(value, Cid) else cls.parse(value)

    # -- views --------------------------------------------------------------------------
    @property
    def multihash(self) -> bytes:
        return bytes([SHA2_256, SHA2_256_LENGTH]) + self.digest

    @property
    def codec_name(self) -> str:
        return _CODECS[self.codec]

    def to_bytes(self) -> bytes:
        if self.version == 0:
            return self.multihash
        return _pb.encode_varint(1) + _pb.encode_varint(self.codec) + self.multihash

    def to_v1(self) -> Cid:
        return self if self.version == 1 else Cid(1, self.codec, self.digest)

    def __str__(self) -> str:
        if self.version == 0:
            return _b58encode(self.multihash)  # CIDv0 has no multibase: base58btc only
        return "b" + base64.b32encode(self.to_bytes()).decode().lower().rstrip("=")

    def __repr__(self) -> str:
        return f"Cid({str(self)!r})"


@dataclass(frozen=True)
class Block:
    cid: Cid
    data: bytes


@dataclass(frozen=True)
class _Link:
    cid: Cid
    tsize: int  # cumulative serialized size of the subtree (PBLink.Tsize)
    filesize: int  # file bytes under the subtree (UnixFS blocksizes entry)


@dataclass
class CidBuilder:
    """Streaming UnixFS importer: feed bytes, get blocks out via `on_block`, then the root CID.

    Memory stays bounded: one partial chunk plus at most MAX_LINKS links per tree level.
    """

    on_block: Callable[[Block], None] | None = None
    chunk_size: int = CHUNK_SIZE
    max_links: int = MAX_LINKS
    _buffer: bytearray = field(default_factory=bytearray, init=False, repr=False)
    _levels: list[list[_Link]] = field(default_factory=lambda: [[]], init=False, repr=False)
    _counts: list[int] = field(default_factory=lambda: [0], init=False, repr=False)
    _size: int = field(default=0, init=False)
    _root: Cid | None = field(default=None, init=False)

    @property
    def size(self) -> int:
        """File bytes fed so far."""
        return self._size

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if self._root is not None:
            raise RuntimeError("CidBuilder already finished")
        view = memoryview(data).cast("B")
        self._size += len(view)
        if self._buffer:
            take = min(len(view), self.chunk_size - len(self._buffer))
            self._buffer += view[:take]
            view = view[take:]
            if len(self._buffer) == self.chunk_size:
                self._leaf(bytes(self._buffer))
                self._buffer.clear()
        while len(view) >= self.chunk_size:
            self._leaf(bytes(view[: self.chunk_size]))
            view = view[self.chunk_size :]
        if len(view):
            self._buffer += view

    def finish(self) -> Cid:
        if self._root is not None:
            return self._root
        if self._buffer or self._counts[0] == 0:  # an empty file is one empty raw leaf
            self._leaf(bytes(self._buffer))
            self._buffer.clear()
        if self._counts[0] == 1:
            self._root = self._levels[0][0].cid
            return self._root
        level = 0
        while True:
            pending = self._levels[level]
            # Above the leaves, a level that only ever held one node is the root.
            if level > 0 and self._counts[level] == 1:
                self._root = pending[0].cid
                return self._root
            if pending:
                self._levels[level] = []
                self._push(level + 1, self._parent(pending))
            level += 1

    def _emit(self, cid: Cid, data: bytes) -> None:
        if self.on_block is not None:
            self.on_block(Block(cid, data))

    def _leaf(self, chunk: bytes) -> None:
        cid = Cid.for_block(chunk, CODEC_RAW)
        self._emit(cid, chunk)
        self._push(0, _Link(cid, len(chunk), len(chunk)))

    def _push(self, level: int, link: _Link) -> None:
        if level == len(self._levels):
            self._levels.append([])
            self._counts.append(0)
        self._levels[level].append(link)
        self._counts[level] += 1
        if len(self._levels[level]) == self.max_links:
            full, self._levels[level] = self._levels[level], []
            self._push(level + 1, self._parent(full))

    def _parent(self, links: list[_Link]) -> _Link:
        filesize = sum(link.filesize for link in links)
        data = _pb.encode_unixfs_file(filesize, [link.filesize for link in links])
        block = _pb.encode_pb_node([_pb.PBLink(link.cid.to_bytes(), "", link.tsize) for link in links], data)
        cid = Cid.for_block(block, CODEC_DAG_PB)
        self._emit(cid, block)
        return _Link(cid, len(block) + sum(link.tsize for link in links), filesize)


def compute_cid(stream: BinaryIO | bytes, on_block: Callable[[Block], None] | None = None) -> Cid:
    """CID of a byte string or readable binary stream (read in CHUNK_SIZE pieces)."""
    builder = CidBuilder(on_block=on_block)
    if isinstance(stream, (bytes, bytearray, memoryview)):
        builder.update(stream)
    else:
        while chunk := stream.read(CHUNK_SIZE):
            builder.update(chunk)
    return builder.finish()
