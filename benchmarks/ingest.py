"""Batched-ingestion benchmark: records/s of `flows.ingest.import_records` against one publish at
a time, and of `flows.batch_read.read_records` (accesses logged in batches) against one read at
a time, for 1 KiB records, on a fresh anvil and js-ipfs daemon (started and stopped here), one
client. A 2-of-3 set of key-release services runs on loopback (real HTTP servers in this
process), so every record's key is split, and released, as in production.

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
from medledger.flows.batch_read import read_records
from medledger.flows.consent import grant, setup_account
from medledger.flows.ingest import Source, import_records
from medledger.flows.records import fetch, publish
from medledger.flows.release import default_client
from medledger.keyservice.server import start_local_services
from medledger.ledger import MedLedger, ProviderKind
from medledger.scopes import Category, Permission, Purpose, mask
from medledger.storage import Cid, KuboStore

KiB = 1024


def main() -> None:
    count = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MEDLEDGER_BENCH_INGEST", 400))
    with tempfile.TemporaryDirectory(prefix="medledger-bench-ingest-") as tmp, AnvilNode() as node:
        workdir = Path(tmp)
        with IpfsDaemon(workdir / "ipfs-repo") as daemon:
            store = KuboStore(daemon.api_url)
            chain = connect(node.rpc_url)
            admin, lab, patient, registrar, clinic, *services = (anvil_account(i) for i in (0, 1, 3, 4, 2, 5, 6, 7))
            deployment = deploy(chain, admin, settings=LedgerSettings(admin_delay_seconds=60))
            ledger = MedLedger.from_deployment(chain, deployment)
            ledger.as_signer(admin).providers.add_registrar(registrar.address)
            ledger.as_signer(registrar).providers.register(lab.address, ProviderKind.ORGANIZATION)
            ledger.as_signer(registrar).providers.register(clinic.address, ProviderKind.CLINICIAN)
            keys = [derive_encryption_keypair(s.private_key_bytes()).public for s in services]
            ledger.as_signer(admin).services.propose([s.address for s in services], keys, 2)
            chain.increase_time(61)
            threads = start_local_services(
                chain, deployment.ledger_address, services, workdir / "services", rate_limit=1e6, rate_burst=10**6
            )
            for signer, thread in zip(services, threads, strict=True):
                ledger.as_signer(signer).services.set_endpoint(thread.url)
            as_clinic = Session.open(ledger.as_signer(clinic), store, workdir / "clinic", deployment)
            setup_account(as_clinic)
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
            grant(
                as_patient,
                clinic.address,
                categories=mask([Category.LABS]),
                purposes=mask([Purpose.TREAT]),
                permissions=Permission.READ,
                expiry=timedelta(days=365),
            )
            sources = []
            for index in range(count + 20):
                path = workdir / "sources" / f"{index}.bin"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(random.Random(index).randbytes(KiB))
                sources.append(Source(str(path)))

            singles, firsts = [], []
            for source in sources[:20]:
                started = time.perf_counter()
                firsts.append(publish(as_lab, patient.address, Category.LABS, source.path).digest)
                singles.append(time.perf_counter() - started)
            reads = []
            for index, digest in enumerate(firsts):
                started = time.perf_counter()
                fetch(as_clinic, patient.address, digest, workdir / "single" / f"{index}.bin")
                reads.append(time.perf_counter() - started)
            rows = [("publish one at a time", 20, sum(singles), statistics.median(singles))]
            read_rows = [("fetch one at a time", 20, sum(reads), statistics.median(reads))]
            imported: list[bytes] = []
            rest = sources[20:]
            for batch_size, workers in ((50, 4), (200, 4)):
                half = rest[: len(rest) // 2] if batch_size == 50 else rest[len(rest) // 2 :]
                started = time.perf_counter()
                results = import_records(
                    as_lab, patient.address, Category.LABS, half, batch_size=batch_size, workers=workers
                )
                elapsed = time.perf_counter() - started
                gas = sum(chain.w3.eth.get_transaction_receipt(r.tx_hash)["gasUsed"] for r in results)
                rows.append((f"import, batches of {batch_size}", len(half), elapsed, gas / len(half)))
                imported += [Cid.parse(cid).digest for r in results for cid in r.cids]
            started = time.perf_counter()
            batch = read_records(as_clinic, patient.address, imported, workdir / "batch", workers=4)
            elapsed = time.perf_counter() - started
            for read, source in zip(batch, rest, strict=True):  # a benchmark that lost bytes would be meaningless
                if read.path.read_bytes() != Path(source.path).read_bytes():
                    raise RuntimeError(f"{read.cid} did not round-trip")
            read_rows.append(("fetch in batches of 100", len(batch), elapsed, 0.0))
            default_client().close()
            for thread in threads:
                thread.stop()
            store.close()
    print("record import, 1 KiB records, anvil + js-ipfs on loopback, 2-of-3 service set, one client")
    print(f"{'mode':<30}{'records':>9}{'seconds':>10}{'records/s':>11}   detail")
    name, n, seconds, p50 = rows[0]
    print(f"{name:<30}{n:>9}{seconds:>10.2f}{n / seconds:>11.1f}   p50 {p50 * 1000:.0f} ms per publish")
    for name, n, seconds, gas_per_record in rows[1:]:
        print(f"{name:<30}{n:>9}{seconds:>10.2f}{n / seconds:>11.1f}   {gas_per_record:,.0f} gas per record")
    name, n, seconds, p50 = read_rows[0]
    print(f"{name:<30}{n:>9}{seconds:>10.2f}{n / seconds:>11.1f}   p50 {p50 * 1000:.0f} ms per read")
    name, n, seconds, _ = read_rows[1]
    print(f"{name:<30}{n:>9}{seconds:>10.2f}{n / seconds:>11.1f}   accesses logged 100 per transaction")


if __name__ == "__main__":
    main()
