"""Batched-ingestion benchmark: records/s of `flows.ingest.import_records` against one publish at
a time, for 1 KiB records, on a fresh anvil and js-ipfs daemon (started and stopped here), one
client. A service set of 3 (2 of 3) is current, so every record's key is split as in production.

Run with `make bench-ingest`, or `python benchmarks/ingest.py [RECORDS]` (also
MEDLEDGER_BENCH_INGEST; default 400). Prints a table; no pass/fail.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from medledger.chain.accounts import anvil_account
from medledger.chain.connection import connect
from medledger.chain.deploy import LedgerSettings, deploy
from medledger.crypto import derive_encryption_keypair
from medledger.devnet.anvil import AnvilNode
from medledger.devnet.ipfs import IpfsDaemon
from medledger.flows import Session
from medledger.flows.consent import grant, setup_account
from medledger.flows.ingest import Source, import_records
from medledger.flows.records import publish
from medledger.ledger import MedLedger, ProviderKind
from medledger.scopes import Category, Permission, Purpose, mask
from medledger.storage import KuboStore

KiB = 1024


def main() -> None:
    count = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MEDLEDGER_BENCH_INGEST", 400))
    with tempfile.TemporaryDirectory(prefix="medledger-bench-ingest-") as tmp, AnvilNode() as node:
        workdir = Path(tmp)
        with IpfsDaemon(workdir / "ipfs-repo") as daemon:
            store = KuboStore(daemon.api_url)
            chain = connect(node.rpc_url)
            admin, lab, patient, registrar, *services = (anvil_account(i) for i in (0, 1, 3, 4, 5, 6, 7))
            deployment = deploy(chain, admin, settings=LedgerSettings(admin_delay_seconds=60))
            ledger = MedLedger.from_deployment(chain, deployment)
            ledger.as_signer(admin).providers.add_registrar(registrar.address)
            ledger.as_signer(registrar).providers.register(lab.address, ProviderKind.ORGANIZATION)
            keys = [derive_encryption_keypair(s.private_key_bytes()).public for s in services]
            ledger.as_signer(admin).services.propose([s.address for s in services], keys, 2)
            chain.increase_time(61)
            as_patient = Session.open(ledger.as_signer(patient), store, workdir / "patient", deployment)
            as_lab = Session.open(ledger.as_signer(lab), store, workdir / "lab", deployment)
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
            sources = []
            for index in range(count + 20):
                path = workdir / "sources" / f"{index}.bin"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(random.Random(index).randbytes(KiB))
                sources.append(Source(str(path)))

            singles = []
            for source in sources[:20]:
                started = time.perf_counter()
                publish(as_lab, patient.address, Category.LABS, source.path)
                singles.append(time.perf_counter() - started)
            rows = [("one at a time (20)", 20, sum(singles), statistics.median(singles))]
            rest = sources[20:]
            for batch_size, workers in ((50, 4), (200, 4)):
                half = rest[: len(rest) // 2] if batch_size == 50 else rest[len(rest) // 2 :]
                started = time.perf_counter()
                results = import_records(
                    as_lab, patient.address, Category.LABS, half, batch_size=batch_size, workers=workers
                )
                elapsed = time.perf_counter() - started
                gas = sum(chain.w3.eth.get_transaction_receipt(r.tx_hash)["gasUsed"] for r in results)
                rows.append((f"batches of {batch_size}, {workers} workers", len(half), elapsed, gas / len(half)))
            store.close()
    print("record import, 1 KiB records, anvil + js-ipfs on loopback, 2-of-3 service set, one client")
    print(f"{'mode':<30}{'records':>9}{'seconds':>10}{'records/s':>11}   detail")
    name, n, seconds, p50 = rows[0]
    print(f"{name:<30}{n:>9}{seconds:>10.2f}{n / seconds:>11.1f}   p50 {p50 * 1000:.0f} ms per publish")
    for name, n, seconds, gas_per_record in rows[1:]:
        print(f"{name:<30}{n:>9}{seconds:>10.2f}{n / seconds:>11.1f}   {gas_per_record:,.0f} gas per record")


if __name__ == "__main__":
    main()
