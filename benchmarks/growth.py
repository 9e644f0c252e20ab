"""Growth benchmark: what publish, fetch, grant, revoke, `record list` and `audit` cost as the
ledger's history grows, in JSON-RPC requests and in time.

Real parts, started and stopped here: a fresh anvil behind a counting JSON-RPC proxy (every
connection goes through it: this client and the three key-release services, which run as their
own `medledger keyservice serve` processes), a js-ipfs daemon, one deployment. History is made of
real transactions: other patients' records imported in batches (flows.ingest), then records of
the measured patient itself. At each level every operation runs REPEAT times:

  publish      flows.records.publish, one 1 KiB record of the measured patient
  fetch        flows.records.fetch by a granted clinic (access logged, key released by 2 of 3)
  revoke       flows.consent.revoke of the clinic's grant, then
  grant        flows.consent.grant again
  record list  what `medledger record list` does: the index caught up, the patient's records from
               it, their state in batched contract reads
  audit        what `medledger audit PATIENT` does: the index caught up, the patient's history

Requests are HTTP requests through the proxy (a JSON-RPC batch is one) and, in brackets, the
JSON-RPC calls inside them. "anvil/tx" is anvil's own cost of one transaction at that level (a
plain transfer, sent and mined): the node's per-block work, not medledger's, reported apart.

Run with `make bench-growth`, or `python benchmarks/growth.py [--levels 0,5000,20000] [--same
1000] [--repeat 5]` (also MEDLEDGER_BENCH_GROWTH_LEVELS, _SAME, _REPEAT). Prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from _world import World

from medledger.chain.accounts import anvil_account
from medledger.flows import Session
from medledger.flows.consent import grant, revoke, setup_account
from medledger.flows.ingest import Source, import_records
from medledger.flows.records import fetch, publish
from medledger.flows.release import default_client
from medledger.indexer import Indexer
from medledger.scopes import Category, Permission, Purpose, mask

KiB = 1024
OPERATIONS = ("publish", "fetch", "revoke", "grant", "record list", "audit")


def _ndjson(path: Path, count: int, seed: int) -> list[Source]:
    """`count` FHIR Observations of about 1 KiB, one per line, as import sources."""
    rng = random.Random(seed)
    sources, offset = [], 0
    with path.open("wb") as out:
        for index in range(count):
            note = rng.randbytes(400).hex()
            line = (json.dumps({"resourceType": "Observation", "id": f"h{seed}-{index}", "note": note}) + "\n").encode()
            out.write(line)
            sources.append(Source(str(path), offset, len(line)))
            offset += len(line)
    return sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default=os.environ.get("MEDLEDGER_BENCH_GROWTH_LEVELS", "0,5000,20000"))
    parser.add_argument("--same", type=int, default=int(os.environ.get("MEDLEDGER_BENCH_GROWTH_SAME", 1000)))
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("MEDLEDGER_BENCH_GROWTH_REPEAT", 5)))
    options = parser.parse_args()
    levels = sorted({int(level) for level in options.levels.split(",")})
    results: list[tuple[str, dict[str, tuple[float, float, float]], float]] = []
    methods: dict[str, dict[str, dict[str, float]]] = {}  # level -> operation -> method -> calls per run
    with tempfile.TemporaryDirectory(prefix="medledger-bench-growth-") as tmp, World(Path(tmp), proxied=True) as world:
        work = Path(tmp)
        proxy = world.proxy
        assert proxy is not None and world.node is not None
        patient, lab, clinic = world.as_patient, world.as_lab, world.as_clinic
        other = Session.open(world.ledger.as_signer(anvil_account(6)), world.store, work / "other", world.deployment)
        setup_account(other)
        grant(
            other,
            world.lab.address,
            categories=mask([Category.LABS]),
            purposes=mask([Purpose.TREAT]),
            permissions=Permission.WRITE,
            expiry=timedelta(days=365),
        )
        index = Indexer.from_deployment(world.chain, world.deployment, work / "index.sqlite")
        index.sync()
        made = 0
        published: list[bytes] = []
        counter = 0

        def one_publish() -> None:
            nonlocal counter
            counter += 1
            path = work / "single" / f"{counter}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(random.Random(-counter).randbytes(KiB))
            published.append(publish(lab, patient.address, Category.LABS, path).digest)

        def one_fetch() -> None:
            fetch(clinic, patient.address, published[-1], work / "read" / f"{counter}.bin")

        def one_revoke() -> None:
            revoke(patient, world.clinic.address)

        def one_grant() -> None:
            grant(
                patient,
                world.clinic.address,
                categories=mask([Category.LABS]),
                purposes=mask([Purpose.TREAT]),
                permissions=Permission.READ,
                expiry=timedelta(days=365),
            )

        def one_list() -> None:
            index.sync()
            added = index.records_added(patient.address)
            clinic.ledger.records.get_many(patient.address, [bytes.fromhex(e.digest[2:]) for e in added])

        def one_audit() -> None:
            index.sync()
            index.history(patient.address)

        steps: dict[str, Callable[[], None]] = {
            "publish": one_publish,
            "fetch": one_fetch,
            "revoke": one_revoke,
            "grant": one_grant,
            "record list": one_list,
            "audit": one_audit,
        }

        def anvil_tx() -> float:
            """Seconds anvil takes to take and mine one plain transfer (median of REPEAT)."""
            times = []
            for _ in range(options.repeat):
                started = time.perf_counter()
                world.node.rpc(  # type: ignore[union-attr]
                    "eth_sendTransaction", [{"from": world.admin.address, "to": world.admin.address, "value": "0x0"}]
                )
                times.append(time.perf_counter() - started)
            return statistics.median(times)

        def measure(label: str) -> None:
            one_publish()  # warm every cache an operation may keep (and the index) before timing
            index.sync()
            samples: dict[str, list[tuple[int, int, float]]] = {name: [] for name in OPERATIONS}
            for _ in range(options.repeat):  # in order each time: a revoke needs the grant before it
                for name in OPERATIONS:
                    before, called = proxy.snapshot(), proxy.methods()
                    started = time.perf_counter()
                    steps[name]()
                    elapsed = time.perf_counter() - started
                    after = proxy.snapshot()
                    samples[name].append((after[0] - before[0], after[1] - before[1], elapsed))
                    for method, count in (proxy.methods() - called).items():
                        per_method = methods.setdefault(label, {}).setdefault(name, {})
                        per_method[method] = per_method.get(method, 0.0) + count / options.repeat
            row = {
                name: tuple(statistics.median(sample[i] for sample in taken) for i in range(3))
                for name, taken in samples.items()
            }
            results.append((label, row, anvil_tx()))
            print(f"measured at {label}", file=sys.stderr, flush=True)

        for level in levels:
            if level > made:
                sources = _ndjson(work / f"history-{level}.ndjson", level - made, seed=level)
                import_records(lab, other.address, Category.LABS, sources, batch_size=200)
                made = level
                index.sync()
            measure(f"{level:,} records")
        if options.same:
            sources = _ndjson(work / "same.ndjson", options.same, seed=-1)
            import_records(lab, patient.address, Category.LABS, sources, batch_size=200)
            index.sync()
            measure(f"{made:,} + {options.same:,} of the patient")
        index.close()
        default_client().close()

    print("growth: JSON-RPC requests (calls inside) and median ms per operation, by history size;")
    print(f"anvil/tx is anvil's own ms per transaction (a plain transfer); {options.repeat} runs each")
    header = f"{'history':<30}" + "".join(f"{name:>20}" for name in OPERATIONS) + f"{'anvil/tx':>10}"
    print(header)
    for label, row, anvil in results:
        cells = "".join(
            f"{f'{http:.0f} ({calls:.0f}) {seconds * 1000:.0f} ms':>20}" for http, calls, seconds in row.values()
        )
        print(f"{label:<30}{cells}{anvil * 1000:>8.1f}ms")
    print("\nJSON-RPC methods whose calls per operation differ between levels (mean per run, level by level):")
    labels = [label for label, _, _ in results]
    for name in OPERATIONS:
        every = sorted({method for label in labels for method in methods.get(label, {}).get(name, {})})
        for method in every:
            counts = [methods.get(label, {}).get(name, {}).get(method, 0.0) for label in labels]
            if max(counts) - min(counts) > 0.01:
                print(f"  {name:<12} {method:<28} " + " / ".join(f"{count:.1f}" for count in counts))


if __name__ == "__main__":
    main()
