"""Adapters between iterators of verified blocks and file objects."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


class IteratorReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks, so a verified blob streams straight
    into the decryptor without being held in memory."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        target = memoryview(buffer).cast("B")
        size = min(len(target), len(self._pending))
        target[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def chunk_reader(chunks: Iterator[bytes]) -> BinaryIO:
    """A buffered binary file over `chunks`, for APIs that take a BinaryIO (io.BufferedReader is one)."""
    return io.BufferedReader(IteratorReader(chunks))


class RangeReader(io.RawIOBase):
    """A read-only file over `length` bytes of `raw` from `offset` (to its end when None): one
    line of an NDJSON file, or one container of a batch's staging file, read without a copy."""

    def __init__(self, raw: BinaryIO, offset: int = 0, length: int | None = None):
        self._raw = raw
        self._raw.seek(offset)
        self._left = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        target = memoryview(buffer).cast("B")
        if self._left is not None:
            target = target[: self._left]
        if not len(target):
            return 0
        count = self._raw.readinto(target)  # type: ignore[attr-defined]
        if self._left is not None:
            self._left -= count
        return count
