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
