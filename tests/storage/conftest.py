"""Fixtures for the storage tests: one real js-ipfs daemon per session, fresh stores per test."""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from medledger.devnet.ipfs import IpfsDaemon
from medledger.storage import KuboStore, LocalBlockStore

KiB = 1024
MiB = 1024 * KiB


@pytest.fixture
def kubo(ipfs_daemon: IpfsDaemon) -> Iterator[KuboStore]:
    store = KuboStore(ipfs_daemon.api_url, block_timeout=1.0, has_timeout=0.5, pin_timeout=1.0)
    yield store
    store.close()


@pytest.fixture
def local(tmp_path: Path) -> LocalBlockStore:
    return LocalBlockStore(tmp_path / "store")


class PatternStream(io.RawIOBase):
    """Deterministic pseudo-random bytes of a given size, generated as read (never held whole)."""

    SEGMENT = 64 * KiB

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self.seed = seed
        self.pos = 0

    def readable(self) -> bool:
        return True

    def _segment(self, index: int) -> bytes:
        return random.Random(self.seed * 1_000_003 + index).randbytes(self.SEGMENT)

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = min(len(buffer), self.size - self.pos)
        filled = 0
        while filled < n:
            index, offset = divmod(self.pos, self.SEGMENT)
            piece = self._segment(index)[offset : offset + n - filled]
            buffer[filled : filled + len(piece)] = piece
            filled += len(piece)
            self.pos += len(piece)
        return n

    def sha256(self) -> str:
        """Digest of the full content, computed on a fresh copy of this stream."""
        digest = hashlib.sha256()
        copy = PatternStream(self.size, self.seed)
        while chunk := copy.read(MiB):
            digest.update(chunk)
        return digest.hexdigest()


class Blobs:
    """Test-data helpers, handed to tests as the `blobs` fixture."""

    @staticmethod
    def stream(size: int, seed: int = 0) -> io.BufferedReader:
        return io.BufferedReader(PatternStream(size, seed), buffer_size=256 * KiB)

    @staticmethod
    def data(size: int, seed: int = 0) -> bytes:
        return PatternStream(size, seed).read(size) or b""

    @staticmethod
    def sha256(size: int, seed: int = 0) -> str:
        return PatternStream(size, seed).sha256()

    @staticmethod
    def drain(chunks: Iterator[bytes]) -> tuple[str, int, int]:
        """(sha256 hex, total bytes, largest chunk) of a streamed blob."""
        digest = hashlib.sha256()
        total = largest = 0
        for chunk in chunks:
            digest.update(chunk)
            total += len(chunk)
            largest = max(largest, len(chunk))
        return digest.hexdigest(), total, largest


@pytest.fixture
def blobs() -> type[Blobs]:
    return Blobs
