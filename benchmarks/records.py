"""Record-flow benchmark: publish and fetch throughput (records/s and MB/s of plaintext) for
small (1 KiB, FHIR-resource sized) and 1 MiB records, on two stacks:

- real parts: a fresh anvil and a fresh js-ipfs daemon, started and stopped here;
- embedded: the in-process py-evm chain and the local block store.

publish = encrypt + store and pin + register the pointer (one transaction), journaled;
fetch   = resolve the pointer + hasAccess + get (every block verified) + logAccess (confirmed) +
          k shares from a 2-of-3 set of key-release services (real HTTP servers on loopback, in
          this process) + combine + decrypt, done by a clinic holding a read grant.

Run with `make bench-records`, or `python benchmarks/records.py [SMALL_COUNT [LARGE_COUNT]]`
(also MEDLEDGER_BENCH_SMALL / MEDLEDGER_BENCH_LARGE; defaults 30 and 10). Prints a table; no
pass/fail.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from medledger.chain.accounts import Signer, anvil_account
from medledger.chain.connection import EMBEDDED, Chain, connect
from medledger.chain.deploy import LedgerSettings, deploy
from medledger.crypto import derive_encryption_keypair
from medledger.devnet.anvil import AnvilNode
from medledger.devnet.ipfs import IpfsDaemon
from medledger.flows import Session
from medledger.flows.consent import grant, setup_account
from medledger.flows.records import fetch, publish
from medledger.flows.release import default_client
from medledger.keyservice.server import start_local_services
from medledger.ledger import MedLedger, ProviderKind
from medledger.scopes import Category, Permission, Purpose, mask
from medledger.storage import BlobStore, KuboStore, LocalBlockStore

KiB, MiB, MB = 1024, 1024 * 1024, 1_000_000
SIZES = (("1 KiB", KiB), ("1 MiB", MiB))


@dataclass(frozen=True)
class Row:
    stack: str
    size_name: str
    size: int
    count: int
    publish_s: float
    fetch_s: float

    def rates(self) -> tuple[float, float, float, float]:
        volume = self.count * self.size / MB
        return (self.count / self.publish_s, volume / self.publish_s, self.count / self.fetch_s, volume / self.fetch_s)


@contextlib.contextmanager
def real_stack(workdir: Path) -> Iterator[tuple[str, Chain, list[Signer], BlobStore]]:
    with AnvilNode() as node, IpfsDaemon(workdir / "ipfs-repo") as daemon:
        store = KuboStore(daemon.api_url)
        try:
            yield "anvil + js-ipfs", connect(node.rpc_url), [anvil_account(i) for i in range(8)], store
        finally:
            store.close()


@contextlib.contextmanager
def embedded_stack(workdir: Path) -> Iterator[tuple[str, Chain, list[Signer], BlobStore]]:
    chain = connect(EMBEDDED)
    signers = [Signer.from_private_key(os.urandom(32)) for _ in range(8)]
    for signer in signers:
        chain.fund(signer.address, 10**20)
    store = LocalBlockStore(workdir / "blocks")
    try:
        yield "embedded (py-evm + block store)", chain, signers, store
    finally:
        store.close()


def run_stack(stack, workdir: Path, counts: dict[int, int]) -> list[Row]:  # type: ignore[no-untyped-def]
    with stack(workdir) as (name, chain, (admin, lab, clinic, patient, registrar, *services), store):
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
        try:
            return _measure(name, ledger, deployment, store, workdir, (lab, clinic, patient), counts)
        finally:
            default_client().close()  # the reads' shared client: its connections end with the services
            for thread in threads:
                thread.stop()


def _measure(name, ledger, deployment, store, workdir, signers, counts) -> list[Row]:  # type: ignore[no-untyped-def]
    lab, clinic, patient = signers

    def session(signer: Signer, home: str) -> Session:
        return Session.open(ledger.as_signer(signer), store, workdir / home, deployment)

    as_patient, as_lab, as_clinic = session(patient, "patient"), session(lab, "lab"), session(clinic, "clinic")
    setup_account(as_patient)
    setup_account(as_lab)
    setup_account(as_clinic)
    labs, treatment = mask([Category.LABS]), mask([Purpose.TREAT])
    grant(
        as_patient,
        lab.address,
        categories=labs,
        purposes=treatment,
        permissions=Permission.WRITE,
        expiry=timedelta(days=365),
    )
    grant(
        as_patient,
        clinic.address,
        categories=labs,
        purposes=treatment,
        permissions=Permission.READ,
        expiry=timedelta(days=365),
    )

    rows = []
    for size_name, size in SIZES:
        count = counts[size]
        sources = []
        for i in range(count):
            path = workdir / "sources" / f"{size}-{i}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(random.Random(size * 7919 + i).randbytes(size))
            sources.append(path)
        start = time.perf_counter()
        published = [publish(as_lab, patient.address, Category.LABS, path) for path in sources]
        publish_s = time.perf_counter() - start
        start = time.perf_counter()
        for i, record in enumerate(published):
            fetch(as_clinic, patient.address, record.digest, workdir / "fetched" / f"{size}-{i}.bin")
        fetch_s = time.perf_counter() - start
        for i, path in enumerate(sources):  # a benchmark that lost bytes would be meaningless
            if (workdir / "fetched" / f"{size}-{i}.bin").read_bytes() != path.read_bytes():
                raise RuntimeError(f"{name}: record {i} of {size_name} did not round-trip")
        rows.append(Row(name, size_name, size, count, publish_s, fetch_s))
    return rows


def render(rows: list[Row]) -> str:
    header = (
        f"{'stack':32} {'record':>7} {'n':>4} {'publish rec/s':>14} {'publish MB/s':>13} "
        f"{'fetch rec/s':>12} {'fetch MB/s':>11}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        pub_n, pub_mb, get_n, get_mb = row.rates()
        lines.append(
            f"{row.stack:32} {row.size_name:>7} {row.count:>4} {pub_n:>14.1f} {pub_mb:>13.3f} "
            f"{get_n:>12.1f} {get_mb:>11.3f}"
        )
    return "\n".join(lines)


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
    counts = {KiB: _count(argv, 1, "MEDLEDGER_BENCH_SMALL", 30), MiB: _count(argv, 2, "MEDLEDGER_BENCH_LARGE", 10)}
    rows: list[Row] = []
    for stack in (real_stack, embedded_stack):
        with tempfile.TemporaryDirectory(prefix="medledger-bench-records-") as tmp:
            rows += run_stack(stack, Path(tmp), counts)
    print(
        "publish = encrypt + store/pin + register on chain; fetch = pointer + hasAccess + verified get"
        " + logAccess + 2 of 3 key shares + decrypt"
    )
    print("sequential, one client; MB = 10^6 B of plaintext\n")
    print(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
