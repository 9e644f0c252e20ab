"""Key-release benchmark: what threshold key release costs a reader, and what one service sustains.

Real parts, started and stopped here: a fresh anvil, one MedLedger deployment with a 3-of-5
service set, five `medledger keyservice serve` processes on loopback.

1. Read latency. For a record already fetched and verified (the blob is on local disk):
   - direct:   the patient opens its own sealed data key and decrypts;
   - released: a granted clinic, whose `logAccess` is already confirmed (not timed), asks the five
               services in parallel, verifies and combines 3 shares, and decrypts.
   Overhead = released - direct, at p50 and p99; and the CPU one read costs the reader and the
   five services (on a shared 2-core machine that CPU, not the network, sets the latency).
2. Releases per second of one service pinned to one core: N distinct logged accesses (each a
   fresh (accessTx, digest, reader) triple, so none is a replay), signed beforehand, sent with
   C requests in flight. Reported per wall-clock second and per second of the service's own CPU
   time (the machine may be shared; CPU time is what "one core" buys).

Run with `make bench-keyservice`, or `python benchmarks/keyservice.py [READS [RELEASES]]`
(defaults 100 and 600). Prints a table; no pass/fail.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
from eth_utils import keccak

from medledger.chain.accounts import Signer, anvil_account
from medledger.chain.connection import connect
from medledger.chain.deploy import LedgerSettings, deploy
from medledger.crypto.container import (
    AccountRecipient,
    ServiceRecipient,
    ThresholdPolicy,
    decrypt_stream,
    encrypt_stream,
)
from medledger.crypto.keys import derive_encryption_keypair
from medledger.devnet.anvil import AnvilNode
from medledger.devnet.ports import free_loopback_port
from medledger.flows import Session
from medledger.flows.release import decrypt_blob, fetch_blob, log_read, release_key
from medledger.keyservice.client import KeyReleaseClient, service_directory
from medledger.keyservice.requests import ReleaseDomain, ReleaseRequest, SignedRelease
from medledger.ledger import MedLedger, ProviderKind
from medledger.scopes import Category, Permission, Purpose, mask
from medledger.storage import LocalBlockStore

SERVICES, THRESHOLD = 5, 3
RECORD_BYTES = 1024  # a FHIR-resource-sized record: the release cost dominates
KEY_VARIABLE = "MEDLEDGER_BENCH_SERVICE_KEY"
IN_FLIGHT = 16


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(url: str, process: subprocess.Popen) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service at {url} exited with {process.returncode}")
        try:
            httpx.get(url + "/health", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"service at {url} did not start")


def main() -> None:
    reads = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    releases = int(sys.argv[2]) if len(sys.argv) > 2 else 600
    work = Path(tempfile.mkdtemp(prefix="medledger-bench-ks-"))
    anvil = AnvilNode().start()
    processes: list[subprocess.Popen] = []  # type: ignore[type-arg]
    try:
        chain = connect(anvil.rpc_url)
        admin, registrar, clinic, patient = (anvil_account(i) for i in (0, 1, 2, 4))
        deployment = deploy(chain, admin, settings=LedgerSettings(admin_delay_seconds=60))
        ledger = MedLedger.from_deployment(chain, deployment, signer=admin)
        ledger.providers.add_registrar(registrar.address)
        ledger.as_signer(registrar).providers.register(clinic.address, ProviderKind.CLINICIAN)
        signers = [Signer.from_private_key(keccak(text=f"medledger bench service {i}")) for i in range(SERVICES)]
        ports = [free_loopback_port() for _ in signers]
        keys = [derive_encryption_keypair(s.private_key_bytes()).public for s in signers]
        ledger.services.propose([s.address for s in signers], keys, THRESHOLD)
        version = ledger.services.count()
        chain.increase_time(61)
        for signer, port in zip(signers, ports, strict=True):
            anvil.rpc("anvil_setBalance", [signer.address, hex(10**20)])
            ledger.as_signer(signer).services.set_endpoint(f"http://127.0.0.1:{port}")
        for index, (signer, port) in enumerate(zip(signers, ports, strict=True)):
            config = work / f"service-{index}.toml"
            config.write_text(
                f'[chain]\nrpc_url = "{anvil.rpc_url}"\nledger = "{deployment.ledger_address}"\n'
                f'chain_id = {chain.chain_id}\n[account]\nprivate_key_env = "{KEY_VARIABLE}"\n'
                f"[server]\nport = {port}\n[policy]\nrate_limit = 100000.0\nrate_burst = 100000\n"
                f'[log]\ndatabase = "releases-{index}.sqlite"\n'
            )
            env = {**os.environ, KEY_VARIABLE: "0x" + signer.private_key_bytes().hex()}
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "medledger.cli", "keyservice", "serve", "--config", str(config)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port, process in zip(ports, processes, strict=True):
            wait_ready(f"http://127.0.0.1:{port}", process)

        store = LocalBlockStore(work / "blocks", fsync=False)
        patient_session = Session.open(
            MedLedger.from_deployment(chain, deployment, signer=patient), store, work / "patient", deployment
        )
        binding = patient_session.binding(patient.address, Category.LABS, author=patient.address)
        policy = ThresholdPolicy(version, THRESHOLD, tuple(ServiceRecipient(i + 1, key) for i, key in enumerate(keys)))
        container = io.BytesIO()
        encrypt_stream(
            io.BytesIO(os.urandom(RECORD_BYTES)),
            container,
            binding=binding,
            recipients=[AccountRecipient(patient_session.keypair.public)],
            threshold_policy=policy,
        )
        cid = store.put(io.BytesIO(container.getvalue()))
        patient_session.ledger.records.add(patient.address, cid.digest, cid.codec, int(Category.LABS))
        patient_session.ledger.consent.grant(
            clinic.address,
            categories=mask([Category.LABS]),
            purposes=mask([Purpose.TREAT]),
            permissions=Permission.READ,
            expiry=timedelta(days=30),
        )
        reader = Session.open(
            MedLedger.from_deployment(chain, deployment, signer=clinic), store, work / "clinic", deployment
        )
        blob = fetch_blob(reader, patient.address, cid.digest, work / "blobs")
        blob_bytes = blob.path.read_bytes()

        direct = []
        for _ in range(reads):
            start = time.perf_counter()
            decrypt_stream(io.BytesIO(blob_bytes), io.BytesIO(), binding=binding, identity=patient_session.keypair)
            direct.append(time.perf_counter() - start)

        client = KeyReleaseClient()
        released = []
        reader_cpu = 0.0
        # The services' CPU over the whole loop: those not needed finish their release after the
        # read returns; between reads they are idle.
        services_cpu = -sum(cpu_seconds(process.pid) for process in processes)
        for _ in range(reads):
            access_tx = log_read(reader, blob)  # confirmed before the clock starts
            start, start_cpu = time.perf_counter(), time.process_time()
            result = release_key(reader, blob, access_tx, client=client)
            decrypt_blob(reader, blob, result.data_key, work / "out.bin")
            released.append(time.perf_counter() - start)
            reader_cpu += time.process_time() - start_cpu
        services_cpu += sum(cpu_seconds(process.pid) for process in processes)

        # One service on one core: distinct logged accesses, signed beforehand.
        target = processes[0]
        os.sched_setaffinity(target.pid, {max(os.sched_getaffinity(0))})
        domain = ReleaseDomain(chain.chain_id, deployment.ledger_address)
        service = service_directory(reader.ledger, version)[0]
        now = chain.now()
        bodies = []
        for _ in range(releases):
            access_tx = log_read(reader, blob)
            request = ReleaseRequest(
                service.address, patient.address, cid.digest, 0, access_tx, os.urandom(32), now + 100
            )
            bodies.append(SignedRelease(request, request.sign(clinic, domain), blob.proof).to_json())

        async def fire() -> list[int]:
            limit = asyncio.Semaphore(IN_FLIGHT)
            async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=IN_FLIGHT)) as http:

                async def one(body: dict) -> int:  # type: ignore[type-arg]
                    async with limit:
                        return (await http.post(service.url + "/v1/release", json=body)).status_code

                return list(await asyncio.gather(*(one(body) for body in bodies)))

        cpu_before = cpu_seconds(target.pid)
        start = time.perf_counter()
        statuses = asyncio.run(fire())
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds(target.pid) - cpu_before
        ok = statuses.count(200)

        def ms(value: float) -> str:
            return f"{value * 1000:8.2f}"

        print(
            f"threshold key release, {THRESHOLD} of {SERVICES} services on loopback, {RECORD_BYTES} B record, "
            f"{reads} reads (anvil, blob already fetched, logAccess already confirmed)"
        )
        print(f"{'path':<34}{'p50 ms':>10}{'p99 ms':>10}")
        print(f"{'direct decrypt (patient key)':<34}{ms(percentile(direct, 50)):>10}{ms(percentile(direct, 99)):>10}")
        print(
            f"{'released (5 asked, 3 combined)':<34}{ms(percentile(released, 50)):>10}"
            f"{ms(percentile(released, 99)):>10}"
        )
        print(
            f"{'overhead':<34}{ms(percentile(released, 50) - percentile(direct, 50)):>10}"
            f"{ms(percentile(released, 99) - percentile(direct, 99)):>10}"
        )
        print(f"mean released read {statistics.mean(released) * 1000:.2f} ms")
        print(
            f"CPU per released read: reader {reader_cpu / reads * 1000:.2f} ms, the five services together "
            f"{services_cpu / reads * 1000:.2f} ms (what bounds the latency on a busy 2-core machine)"
        )
        print()
        parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
        loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
        print(
            f"one service pinned to one core: {ok}/{len(statuses)} released, {IN_FLIGHT} in flight "
            f"(uvicorn with {parser} and {loop}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
        )
        print(f"{'releases per wall-clock second':<34}{ok / elapsed:>10.0f}")
        print(f"{'releases per CPU second (service)':<34}{ok / cpu if cpu else float('nan'):>10.0f}")
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        anvil.stop()


if __name__ == "__main__":
    main()
