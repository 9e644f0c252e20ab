"""Replicated-storage benchmark: publish time with r = 1, 2, 3 copies, and the storage audit's
rate (records/s), on a fresh anvil and three fresh js-ipfs daemons on loopback.

publish = encrypt + store and pin on r daemons (one after the other, each copy journaled) +
          register the pointer on chain (one transaction), for 1 KiB and 1 MiB records.
audit   = `medledger storage audit`'s run (flows.durability.run_storage_audit) over N records:
          each store's pins and blocks asked once, then per record every block fetched from each
          store holding it and verified, and the result kept in the index (SQLite), one
          transaction per record with the run's checkpoint.

The audit's N records (default 10,000) are synthetic, to reach N in seconds rather than hours:
N random 1 KiB blobs (one raw block each, the CID `add --raw-leaves` gives) are put and
pinned on daemons 1 and 2 (r = 2; block/put?pin=true, eight client threads), and N pointers
to them are written straight into the index's record_changes table (block numbers above the
chain's, so a sync never touches them) instead of being registered on chain one transaction at
a time. What the audit does per record is the same as for registered records.

Run with `make bench-storage`, or `python benchmarks/storage.py [PUBLISH_COUNT [AUDIT_COUNT]]`
(also MEDLEDGER_BENCH_PUBLISH / MEDLEDGER_BENCH_AUDIT; defaults 10 and 10000). Prints a table.
"""

from __future__ import annotations

import io
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from medledger.chain.accounts import anvil_account
from medledger.chain.connection import connect
from medledger.chain.deploy import deploy
from medledger.devnet.anvil import AnvilNode
from medledger.devnet.ipfs import IpfsDaemons
from medledger.flows import Session
from medledger.flows.consent import grant, setup_account
from medledger.flows.durability import run_storage_audit
from medledger.flows.records import publish
from medledger.indexer import Indexer
from medledger.ledger import MedLedger, ProviderKind
from medledger.scopes import Category, Permission, Purpose, mask
from medledger.storage import Cid, KuboStore, ReplicatedStore, compute_cid
from medledger.storage.replicated import Member

KiB, MiB = 1024, 1024 * 1024
SIZES = (("1 KiB", KiB), ("1 MiB", MiB))
SYNTHETIC_BLOCK = 1_000_000_000  # synthetic pointers' block numbers start here


def members(daemons: IpfsDaemons) -> tuple[Member, ...]:
    return tuple(Member(f"node-{i}", KuboStore(d.api_url)) for i, d in enumerate(daemons))


def measure_publish(chain, deployment, daemons: IpfsDaemons, workdir: Path, count: int) -> list[tuple]:  # type: ignore[no-untyped-def]
    admin, registrar, lab, patient = (anvil_account(i) for i in (0, 1, 4, 3))
    ledger = MedLedger.from_deployment(chain, deployment)
    ledger.as_signer(admin).providers.add_registrar(registrar.address)
    ledger.as_signer(registrar).providers.register(lab.address, ProviderKind.ORGANIZATION)
    rows = []
    for r in (1, 2, 3):
        store = ReplicatedStore(members(daemons), r)
        as_patient = Session.open(ledger.as_signer(patient), store, workdir / f"patient-{r}", deployment)
        as_lab = Session.open(ledger.as_signer(lab), store, workdir / f"lab-{r}", deployment)
        if r == 1:
            setup_account(as_patient)
            setup_account(as_lab)
            grant(
                as_patient,
                lab.address,
                categories=mask([Category.LABS]),
                purposes=mask([Purpose.TREAT]),
                permissions=Permission.WRITE,
                expiry=timedelta(days=365),
            )
        for size_name, size in SIZES:
            sources = []
            for i in range(count):
                path = workdir / "sources" / f"{r}-{size}-{i}.bin"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(random.Random(r * 1_000_003 + size * 7919 + i).randbytes(size))
                sources.append(path)
            start = time.perf_counter()
            for path in sources:
                result = publish(as_lab, patient.address, Category.LABS, path)
                if len(result.stores) != r:
                    raise RuntimeError(f"r = {r}: a publish reported {result.stores}")
            seconds = time.perf_counter() - start
            rows.append((r, size_name, count, seconds))
        store.close()
    return rows


def measure_audit(chain, deployment, daemons: IpfsDaemons, workdir: Path, count: int) -> tuple[float, float, dict]:  # type: ignore[no-untyped-def]
    holders = [KuboStore(daemons[i].api_url) for i in (1, 2)]
    rng = random.Random(42)
    blobs = [rng.randbytes(KiB) for _ in range(count)]

    def add(data: bytes) -> str:
        cid = compute_cid(io.BytesIO(data))  # one raw block: what `add --raw-leaves` stores for 1 KiB
        for store in holders:
            store.put_block(cid, data, pin=True)
        return str(cid)

    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        cids = list(pool.map(add, blobs))
    stored_s = time.perf_counter() - start
    indexer = Indexer.from_deployment(chain, deployment, workdir / "index.sqlite")
    indexer.sync()
    patient = anvil_account(3).address
    with indexer.store.transaction():
        indexer.store.executemany(
            "INSERT INTO record_changes (block_number, log_index, action, patient, digest, author, codec, category) "
            "VALUES (?, ?, 'added', ?, ?, ?, ?, ?)",
            (
                (SYNTHETIC_BLOCK + i, 0, patient, "0x" + Cid.parse(cid).digest.hex(), patient, Cid.parse(cid).codec, 3)
                for i, cid in enumerate(cids)
            ),
        )
    store = ReplicatedStore(members(daemons), 2)
    start = time.perf_counter()
    report = run_storage_audit(indexer, store, restart=True)
    audit_s = time.perf_counter() - start
    indexer.close()
    store.close()
    return stored_s, audit_s, report.statuses


def _count(argv: list[str], index: int, variable: str, default: int) -> int:
    text = argv[index] if len(argv) > index else os.environ.get(variable, str(default))
    try:
        value = int(text)
    except ValueError:
        raise SystemExit(f"{text!r} is not a record count") from None
    if value < 1:
        raise SystemExit("record counts must be at least 1")
    return value


def main(argv: list[str]) -> int:
    publish_count = _count(argv, 1, "MEDLEDGER_BENCH_PUBLISH", 10)
    audit_count = _count(argv, 2, "MEDLEDGER_BENCH_AUDIT", 10_000)
    with tempfile.TemporaryDirectory(prefix="medledger-bench-storage-") as tmp:
        workdir = Path(tmp)
        with AnvilNode() as node, IpfsDaemons(3, workdir / "daemons") as daemons:
            chain = connect(node.rpc_url)
            deployment = deploy(chain, anvil_account(0))
            publish_rows = measure_publish(chain, deployment, daemons, workdir, publish_count)
            stored_s, audit_s, statuses = measure_audit(chain, deployment, daemons, workdir, audit_count)
    print("publish = encrypt + store/pin on r js-ipfs daemons (sequential copies) + register on chain\n")
    header = f"{'r':>2} {'record':>7} {'n':>4} {'ms/publish':>11} {'publish rec/s':>14}"
    print(header)
    print("-" * len(header))
    for r, size_name, count, seconds in publish_rows:
        print(f"{r:>2} {size_name:>7} {count:>4} {1000 * seconds / count:>11.1f} {count / seconds:>14.2f}")
    print(
        f"\naudit of {audit_count} records (1 KiB blobs, r = 2 of 3 daemons, every block fetched and verified "
        f"on both holders): {audit_s:.1f} s = {audit_count / audit_s:.0f} records/s; statuses {statuses}"
    )
    print(f"(setting up: {audit_count} blobs added to two daemons in {stored_s:.1f} s, 8 client threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
