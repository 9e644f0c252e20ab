"""Adapters between iterators of verified blocks and file objects."""

from __future__ import annotations

import io
from collections.abc import Iterator


class IteratorReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks, so a verified blob streams straight
    into the decryptor without being held in memory."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
