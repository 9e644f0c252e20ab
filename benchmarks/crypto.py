"""Record-container benchmark: encrypt throughput against raw libsodium secretstream on the same
bytes, decrypt throughput, and peak memory of streaming a large file in each direction.

Run with `make bench-crypto`, or `python benchmarks/crypto.py [SIZE]`; SIZE (or the environment
variable MEDLEDGER_BENCH_CRYPTO_SIZE) is bytes with an optional K/M/G (binary) suffix, default 1G.
Prints a table; there is no pass/fail, figures depend on the machine.
"""

from __future__ import annotations

import os
import sys
import time

from medledger.crypto.bench import run_crypto_benchmark

DEFAULT_SIZE = "1G"
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str) -> int:
    """'1G' -> 1073741824, '256M', '64K', '1000000'; a trailing 'iB'/'B' is accepted."""
    value = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = value[-1:] if value[-1:] in _UNITS else ""
    number = value[: len(value) - len(unit)]
    try:
        size = int(float(number) * _UNITS[unit])
    except ValueError:
        raise SystemExit(f"size {text!r} is not a number of bytes (e.g. 1G, 256M, 1000000)") from None
    if size < 0:
        raise SystemExit("size must not be negative")
    return size


def render(figures: dict[str, float], seconds: float) -> str:
    size = figures["size_bytes"]
    rows = [
        ("raw secretstream encrypt (file, same chunks)", f"{figures['raw_secretstream_mb_s']:,.1f} MB/s"),
        ("container encrypt", f"{figures['container_encrypt_mb_s']:,.1f} MB/s"),
        ("container / raw (encrypt)", f"{figures['container_vs_raw_ratio']:.3f}"),
        ("raw secretstream (in-memory ceiling)", f"{figures['raw_in_memory_mb_s']:,.1f} MB/s"),
        ("container / in-memory ceiling", f"{figures['container_vs_in_memory_ratio']:.3f}"),
        ("container decrypt", f"{figures['container_decrypt_mb_s']:,.1f} MB/s"),
        (f"peak RSS encrypting the {_human(size)} file", f"{figures['encrypt_peak_rss_mib']:,.1f} MiB"),
        (f"peak RSS decrypting the {_human(size)} file", f"{figures['decrypt_peak_rss_mib']:,.1f} MiB"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [
        f"record container, {size:,} bytes, chunk {figures['chunk_size']:,} B "
        f"(best of 3; MB = 10^6 B; run took {seconds:.0f} s)",
        f"{'measure':{width}}  {'value':>14}",
        "-" * (width + 16),
    ]
    lines += [f"{name:{width}}  {value:>14}" for name, value in rows]
    return "\n".join(lines)


def _human(size: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} B"


def main(argv: list[str]) -> int:
    size = parse_size(argv[1] if len(argv) > 1 else os.environ.get("MEDLEDGER_BENCH_CRYPTO_SIZE", DEFAULT_SIZE))
    start = time.perf_counter()
    figures = run_crypto_benchmark(size)
    print(render(figures, time.perf_counter() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
