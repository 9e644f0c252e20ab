"""Throughput and memory benchmark of the record container.

``run_crypto_benchmark(size)`` writes ``size`` random bytes to a temporary file, then:

- times raw libsodium secretstream (PyNaCl bindings) over that file's bytes, read in the
  same chunk size, and the container's :func:`encrypt_stream` over the same file; both
  discard their output, so the ratio isolates the container's own overhead;
- times pure secretstream over one in-memory chunk pushed repeatedly (the crypto ceiling),
  and the container's :func:`decrypt_stream` of the encrypted file;
- encrypts and decrypts the file, file to file, each in a fresh subprocess, and reports the
  subprocess's peak resident set size (VmHWM), which must stay far below the file size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, BinaryIO, cast

import nacl.utils
from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_init_push,
    crypto_secretstream_xchacha20poly1305_push,
    crypto_secretstream_xchacha20poly1305_state,
    crypto_secretstream_xchacha20poly1305_TAG_FINAL,
    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
)

from .container import (
    DEFAULT_CHUNK_SIZE,
    AccountRecipient,
    ContainerBinding,
    decrypt_stream,
    encrypt_stream,
)
from .keys import EncryptionKeyPair

__all__ = ["run_crypto_benchmark"]

_MB = 1_000_000

# Runs in a child interpreter so its peak RSS is its own; the secret is handed over on
# stdin, never on the command line.
_CHILD = r"""
import json, sys
from medledger.crypto.container import (
    AccountRecipient, ContainerBinding, decrypt_stream, encrypt_stream)
from medledger.crypto.keys import EncryptionKeyPair
args = json.loads(sys.stdin.read())
pair = EncryptionKeyPair.from_secret(bytes.fromhex(args["secret"]))
binding = ContainerBinding(1, b"\x01" * 20, b"\x02" * 20, 0)
with open(args["src"], "rb") as src, open(args["dst"], "wb") as dst:
    if args["mode"] == "encrypt":
        encrypt_stream(src, dst, binding=binding, recipients=[AccountRecipient(pair.public)],
                       chunk_size=args["chunk_size"])
    else:
        decrypt_stream(src, dst, binding=binding, identity=pair)
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
sys.stdout.write(json.dumps({"peak_rss_kib": peak}))
"""


class _Sink:
    """A write-only stream that discards, so timing measures CPU, not the disk."""

    def write(self, data: bytes) -> int:
        return len(data)


def _write_random_file(path: str, size: int) -> None:
    piece = 1 << 20
    with open(path, "wb") as out:
        remaining = size
        while remaining:
            n = min(piece, remaining)
            out.write(nacl.utils.random(n))
            remaining -= n


def _raw_secretstream(path: str, chunk_size: int) -> float:
    state = crypto_secretstream_xchacha20poly1305_state()
    crypto_secretstream_xchacha20poly1305_init_push(state, nacl.utils.random(32))
    push = crypto_secretstream_xchacha20poly1305_push
    start = time.perf_counter()
    with open(path, "rb") as src:
        while True:
            chunk = src.read(chunk_size)
            tag = (
                crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
                if len(chunk) == chunk_size
                else crypto_secretstream_xchacha20poly1305_TAG_FINAL
            )
            push(state, chunk, None, tag)
            if tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL:
                break
    return time.perf_counter() - start


def _raw_in_memory(size: int, chunk_size: int) -> float:
    state = crypto_secretstream_xchacha20poly1305_state()
    crypto_secretstream_xchacha20poly1305_init_push(state, nacl.utils.random(32))
    push = crypto_secretstream_xchacha20poly1305_push
    chunk = nacl.utils.random(chunk_size)
    start = time.perf_counter()
    for _ in range(max(1, size // chunk_size)):
        push(state, chunk)
    return time.perf_counter() - start


def _container(path: str, chunk_size: int, pair: EncryptionKeyPair) -> float:
    binding = ContainerBinding(1, b"\x01" * 20, b"\x02" * 20, 0)
    start = time.perf_counter()
    with open(path, "rb") as src:
        encrypt_stream(
            src,
            cast(BinaryIO, _Sink()),
            binding=binding,
            recipients=[AccountRecipient(pair.public)],
            chunk_size=chunk_size,
        )
    return time.perf_counter() - start


def _container_decrypt(path: str, pair: EncryptionKeyPair) -> float:
    binding = ContainerBinding(1, b"\x01" * 20, b"\x02" * 20, 0)
    start = time.perf_counter()
    with open(path, "rb") as src:
        decrypt_stream(src, cast(BinaryIO, _Sink()), binding=binding, identity=pair)
    return time.perf_counter() - start


def _child_peak_rss(mode: str, src: str, dst: str, pair: EncryptionKeyPair, chunk_size: int) -> int:
    request = json.dumps(
        {
            "mode": mode,
            "src": src,
            "dst": dst,
            "secret": pair.secret.hex(),
            "chunk_size": chunk_size,
        }
    )
    done = subprocess.run([sys.executable, "-c", _CHILD], input=request, capture_output=True, text=True, check=True)
    return int(json.loads(done.stdout)["peak_rss_kib"])


def run_crypto_benchmark(
    size_bytes: int = 256 * 1024 * 1024,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    repeats: int = 3,
    workdir: str | None = None,
) -> dict[str, Any]:
    """Measure container throughput against raw secretstream, and peak RSS of streaming.

    Throughputs are the best of ``repeats`` runs, in MB/s (10**6 bytes per second)."""
    if size_bytes < 0:
        raise ValueError("size_bytes must be >= 0")
    pair = EncryptionKeyPair.generate()
    with tempfile.TemporaryDirectory(dir=workdir, prefix="medledger-bench-") as tmp:
        plain = os.path.join(tmp, "plain.bin")
        sealed = os.path.join(tmp, "sealed.mlc")
        opened = os.path.join(tmp, "opened.bin")
        _write_random_file(plain, size_bytes)
        # Interleaved, so cache warm-up and machine noise fall on both alike.
        raw, contained = float("inf"), float("inf")
        for _ in range(max(1, repeats)):
            raw = min(raw, _raw_secretstream(plain, chunk_size))
            contained = min(contained, _container(plain, chunk_size, pair))
        memory = min(_raw_in_memory(size_bytes, chunk_size) for _ in range(repeats))
        encrypt_peak = _child_peak_rss("encrypt", plain, sealed, pair, chunk_size)
        decrypt_peak = _child_peak_rss("decrypt", sealed, opened, pair, chunk_size)
        decrypted = min(_container_decrypt(sealed, pair) for _ in range(repeats))
        if os.path.getsize(opened) != size_bytes:
            raise RuntimeError("benchmark round trip lost bytes")
    mb = size_bytes / _MB

    def rate(seconds: float) -> float:
        return round(mb / seconds, 1) if seconds > 0 else float("inf")

    return {
        "size_bytes": size_bytes,
        "chunk_size": chunk_size,
        "raw_secretstream_mb_s": rate(raw),
        "container_encrypt_mb_s": rate(contained),
        "container_vs_raw_ratio": round(raw / contained, 3) if contained > 0 else 1.0,
        "container_decrypt_mb_s": rate(decrypted),
        "raw_in_memory_mb_s": rate(memory),
        "container_vs_in_memory_ratio": round(memory / contained, 3) if contained > 0 else 1.0,
        "encrypt_peak_rss_mib": round(encrypt_peak / 1024, 1),
        "decrypt_peak_rss_mib": round(decrypt_peak / 1024, 1),
    }
