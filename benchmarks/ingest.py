"""Batched-ingestion benchmark: records/s of `flows.ingest.import_records` against one publish at
a time, and of `flows.batch_read.read_records` (accesses logged in batches) against one read at
a time, for 1 KiB records, on a fresh anvil and js-ipfs daemon (started and stopped here), one
client. A 2-of-3 set of key-release services runs as three `medledger keyservice serve`
processes on loopback (separate parties in reality), so every record's key is split, and
released, as in production. Beside each rate, the CPU seconds per record of each part (this
client, the services together, anvil, js-ipfs): on a shared 2-core machine the sum of those,
not the client, caps the rate.

Run with `make bench-ingest`, or `python benchmarks/ingest.py [RECORDS]` (also
MEDLEDGER_BENCH_INGEST; default 1000). Prints a table; no pass/fail.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _world import CpuMeter, World

from medledger.flows.batch_read import read_records
from medledger.flows.ingest import Source, import_records
from medledger.flows.records import fetch, publish
from medledger.flows.release import default_client
from medledger.scopes import Category
from medledger.storage import Cid

KiB = 1024


Row = tuple[str, int, float, str, dict[str, float]]


def main() -> None:
    count = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MEDLEDGER_BENCH_INGEST", 1000))
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="medledger-bench-ingest-") as tmp, World(Path(tmp)) as world:
        workdir = Path(tmp)
        lab, clinic, patient = world.as_lab, world.as_clinic, world.patient.address
        meter = CpuMeter(world)
        sources = []
        for index in range(count + 20):
            path = workdir / "sources" / f"{index}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(random.Random(index).randbytes(KiB))
            sources.append(Source(str(path)))

        singles, firsts = [], []
        meter.start()
        for source in sources[:20]:
            started = time.perf_counter()
            firsts.append(publish(lab, patient, Category.LABS, source.path).digest)
            singles.append(time.perf_counter() - started)
        rows.append(
            ("publish one at a time", 20, sum(singles), f"p50 {statistics.median(singles) * 1000:.0f} ms", meter.stop())
        )
        reads = []
        meter.start()
        for index, digest in enumerate(firsts):
            started = time.perf_counter()
            fetch(clinic, patient, digest, workdir / "single" / f"{index}.bin")
            reads.append(time.perf_counter() - started)
        rows.append(
            ("fetch one at a time", 20, sum(reads), f"p50 {statistics.median(reads) * 1000:.0f} ms", meter.stop())
        )
        imported: list[bytes] = []
        rest = sources[20:]
        for batch_size in (50, 200):
            half = rest[: len(rest) // 2] if batch_size == 50 else rest[len(rest) // 2 :]
            meter.start()
            started = time.perf_counter()
            results = import_records(lab, patient, Category.LABS, half, batch_size=batch_size)
            elapsed = time.perf_counter() - started
            cpu = meter.stop()
            gas = sum(world.chain.w3.eth.get_transaction_receipt(r.tx_hash)["gasUsed"] for r in results)
            rows.append(
                (f"import, batches of {batch_size}", len(half), elapsed, f"{gas / len(half):,.0f} gas/record", cpu)
            )
            imported += [Cid.parse(cid).digest for r in results for cid in r.cids]
        meter.start()
        started = time.perf_counter()
        batch = read_records(clinic, patient, imported, workdir / "batch")
        elapsed = time.perf_counter() - started
        cpu = meter.stop()
        for read, source in zip(batch, rest, strict=True):  # a benchmark that lost bytes would be meaningless
            if read.path.read_bytes() != Path(source.path).read_bytes():
                raise RuntimeError(f"{read.cid} did not round-trip")
        rows.append(("fetch-all, 100 per log tx", len(batch), elapsed, "2 log txs in flight", cpu))
        default_client().close()
    print("record import and fetch-all, 1 KiB records, anvil + js-ipfs on loopback, 2-of-3 services (own processes),")
    print(f"one client; load average {os.getloadavg()[0]:.1f}; CPU ms per record of each part")
    print(
        f"{'mode':<28}{'records':>8}{'seconds':>9}{'rec/s':>8}  {'client':>7}{'services':>9}{'anvil':>7}{'ipfs':>7}"
        "   detail"
    )
    for name, n, seconds, detail, cpu in rows:
        per = {part: 1000 * value / n for part, value in cpu.items()}
        print(
            f"{name:<28}{n:>8}{seconds:>9.2f}{n / seconds:>8.1f}  {per['client']:>7.1f}{per['services']:>9.1f}"
            f"{per['anvil']:>7.1f}{per['ipfs']:>7.1f}   {detail}"
        )


if __name__ == "__main__":
    main()
