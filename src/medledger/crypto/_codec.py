"""Bounded big-endian parsing of in-memory byte strings (envelopes, container headers)."""

from __future__ import annotations

from collections.abc import Callable


class ByteReader:
    """Reads fields off a byte string; every read is bounds-checked before slicing."""

    __slots__ = ("_data", "_error", "_pos")

    def __init__(self, data: bytes, error: Callable[[str], Exception]) -> None:
        self._data = bytes(data)
        self._pos = 0
        self._error = error

    def take(self, n: int, what: str) -> bytes:
        end = self._pos + n
        if end > len(self._data):
            raise self._error(f"{what}: needs {n} bytes, {len(self._data) - self._pos} left")
        out = self._data[self._pos : end]
        self._pos = end
        return out

    def uint(self, size: int, what: str) -> int:
        return int.from_bytes(self.take(size, what), "big")

    def bounded_uint(self, size: int, what: str, low: int, high: int) -> int:
        value = self.uint(size, what)
        if not low <= value <= high:
            raise self._error(f"{what} must be {low}..{high}, got {value}")
        return value

    def finish(self, what: str) -> None:
        left = len(self._data) - self._pos
        if left:
            raise self._error(f"{what}: {left} unexpected trailing bytes")
