"""Device-gateway benchmark: simulated bedside devices post signed heart-rate Observations to a real
gateway (`medledger.gateway`, its own process, HTTP on loopback) on a fresh anvil and js-ipfs daemon.

Set-up: one provider with 100 registered devices and an authorised gateway, 10 patients who granted
the provider WRITE for labs and published their keys, a current 2-of-3 key-release service set (so
each window's key is split as for any record). Device i reports on patient i mod 10.

Load: each device sends `--rate` readings a second (default 10, so 1,000 readings/s in all), one
signed request a second carrying them, from `--load-processes` processes of threads (default 2).
The gateway checks and buffers them, seals each patient's window (`--window`, default 60 s) into one
encrypted record, stores it on the daemon and anchors every closed window in one transaction.

Prints: readings accepted per second over the run and over its worst 10-second stretch, refusals,
request latency, windows and transactions, gas per window and per anchored reading, the proof
size, and the gas of verifying a reading on chain (eth_estimateGas of `verifyReading`, the whole
call; its execution alone is about that minus 21,000 and the calldata).

Run with `make bench-gateway` (60 s) or `python benchmarks/gateway.py --minutes 10`.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from eth_utils import keccak

from medledger.chain.accounts import Signer, anvil_account
from medledger.chain.connection import connect
from medledger.chain.deploy import LedgerSettings, deploy
from medledger.crypto import derive_encryption_keypair
from medledger.devnet.anvil import AnvilNode
from medledger.devnet.ipfs import IpfsDaemon
from medledger.devnet.ports import free_loopback_port
from medledger.flows import Session
from medledger.flows.consent import grant, setup_account
from medledger.flows.windows import reading_digest, reading_hash, sign_reading
from medledger.ledger import MedLedger, ProviderKind
from medledger.scopes import Category, Permission, Purpose, mask
from medledger.storage import KuboStore

CATEGORY = int(Category.LABS)


def device_signer(index: int) -> Signer:
    return Signer.from_private_key(keccak(text=f"medledger benchmark device {index}"))


def patient_signer(index: int) -> Signer:
    return Signer.from_private_key(keccak(text=f"medledger benchmark patient {index}"))


# -- the gateway process --------------------------------------------------------------------------


def serve_gateway(rpc_url: str, ledger: str, key: bytes, ipfs_api: str, home: str, port: int, window: int) -> None:
    """The child process: one gateway, served until SIGTERM (then it seals and anchors what is open)."""
    from medledger.gateway import Gateway, GatewayPolicy, GatewayStore
    from medledger.gateway.server import serve

    chain = connect(rpc_url)
    session = Session(MedLedger(chain, ledger, signer=Signer.from_private_key(key)), KuboStore(ipfs_api), Path(home))
    policy = GatewayPolicy(category=CATEGORY, window_seconds=window, grace_seconds=min(5, window - 1))
    gateway = Gateway(session, GatewayStore(Path(home) / "gateway.sqlite"), policy)
    serve(gateway, port=port)
    gateway.close()


# -- the simulated devices ------------------------------------------------------------------------


def observation(chain_id: int, patient: str, value: int, timestamp: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"identifier": {"system": "urn:ietf:rfc:3986", "value": f"eip155:{chain_id}:{patient}"}},
        "effectiveDateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp)),
        "valueQuantity": {
            "value": value,
            "unit": "beats/minute",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }


def run_devices(
    port: int,
    chain_id: int,
    anchors: str,
    devices: list[int],
    patients: list[str],
    rate: int,
    start_at: float,
    until: float,
    threads: int,
    results: Any,
) -> None:
    """A load process: `threads` threads share `devices`; each device posts `rate` readings a second
    from `start_at` (wall clock, so every process starts together once imported) until `until`."""
    time.sleep(max(0.0, start_at - time.time()))
    counts = {"accepted": 0, "refused": 0, "errors": 0, "latencies": [], "codes": {}}
    lock = threading.Lock()

    def work(mine: list[int]) -> None:
        signers = {d: device_signer(d) for d in mine}
        sequence = dict.fromkeys(mine, 0)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies: list[float] = []
        next_tick = time.time()
        while time.time() < until:
            now = int(time.time())
            for d in mine:
                patient = patients[d % len(patients)]
                readings = []
                for k in range(rate):
                    obs = observation(chain_id, patient, 60 + (d + k + now) % 40, now)
                    hashed = reading_hash(obs)
                    digest = reading_digest(chain_id, anchors, signers[d].address, sequence[d], now, hashed)
                    signature = sign_reading(signers[d].private_key_bytes(), digest)
                    readings.append(
                        {
                            "device": signers[d].address,
                            "sequence": sequence[d],
                            "timestamp": now,
                            "observation": obs,
                            "signature": "0x" + signature.hex(),
                        }
                    )
                    sequence[d] += 1
                body = json.dumps({"readings": readings})
                started = time.perf_counter()
                try:
                    connection.request("POST", "/v1/readings", body, {"Content-Type": "application/json"})
                    response = connection.getresponse()
                    reply = response.read()
                except (OSError, http.client.HTTPException):
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    with lock:
                        counts["errors"] += 1
                    continue
                latencies.append(time.perf_counter() - started)
                with lock:
                    if response.status == 202:
                        counts["accepted"] += rate
                    else:
                        counts["refused"] += rate
                        code = json.loads(reply).get("error", {}).get("code", str(response.status))
                        counts["codes"][code] = counts["codes"].get(code, 0) + 1
            next_tick += 1.0
            time.sleep(max(0.0, next_tick - time.time()))
        connection.close()
        with lock:
            counts["latencies"].extend(latencies)

    groups = [devices[i::threads] for i in range(threads)]
    workers = [threading.Thread(target=work, args=(group,)) for group in groups if group]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    results.put(counts)


# -- the run --------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("MEDLEDGER_BENCH_SECONDS", "60")))
    parser.add_argument("--minutes", type=float, default=None, help="Run this many minutes (overrides --seconds).")
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--patients", type=int, default=10)
    parser.add_argument("--rate", type=int, default=10, help="Readings per device per second.")
    parser.add_argument("--window", type=int, default=60, help="Seconds per window.")
    parser.add_argument("--load-processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=25, help="Threads per load process.")
    args = parser.parse_args(argv)
    seconds = int(args.minutes * 60) if args.minutes else args.seconds

    with tempfile.TemporaryDirectory(prefix="medledger-bench-gateway-") as scratch:
        workdir = Path(scratch)
        with AnvilNode() as node, IpfsDaemon(workdir / "ipfs-repo") as daemon:
            return run(node, daemon, workdir, args, seconds)


def run(node: AnvilNode, daemon: IpfsDaemon, workdir: Path, args: argparse.Namespace, seconds: int) -> int:
    chain = connect(node.rpc_url)
    admin, registrar, provider, gateway_account, *services = (anvil_account(i) for i in range(7))
    deployment = deploy(chain, admin, settings=LedgerSettings(admin_delay_seconds=60))
    ledger = MedLedger.from_deployment(chain, deployment)
    ledger.as_signer(admin).providers.add_registrar(registrar.address)
    ledger.as_signer(registrar).providers.register(provider.address, ProviderKind.CLINICIAN)
    keys = [derive_encryption_keypair(s.private_key_bytes()).public for s in services]
    ledger.as_signer(admin).services.propose([s.address for s in services], keys, 2)
    chain.increase_time(61)
    store = KuboStore(daemon.api_url)
    as_provider = Session.open(ledger.as_signer(provider), store, workdir / "provider", deployment)
    setup_account(as_provider)
    streams = as_provider.ledger.streams
    streams.authorize_gateway(gateway_account.address)
    print(f"registering {args.devices} devices and {args.patients} patients ...", file=sys.stderr)
    for d in range(args.devices):
        streams.register_device(device_signer(d).address)
    patients = []
    for p in range(args.patients):
        signer = patient_signer(p)
        node.rpc("anvil_setBalance", [signer.address, hex(10**20)])
        session = Session.open(ledger.as_signer(signer), store, workdir / f"patient-{p}", deployment)
        setup_account(session)
        grant(
            session,
            provider.address,
            categories=mask([CATEGORY]),
            purposes=mask([Purpose.TREAT]),
            permissions=Permission.WRITE,
            expiry=timedelta(days=365),
        )
        patients.append(signer.address)

    port = free_loopback_port()
    spawn = multiprocessing.get_context("spawn")
    child = spawn.Process(
        target=serve_gateway,
        args=(
            node.rpc_url,
            deployment.ledger_address,
            gateway_account.private_key_bytes(),
            daemon.api_url,
            str(workdir / "gateway"),
            port,
            args.window,
        ),
    )
    child.start()
    url = f"http://127.0.0.1:{port}"
    health = _wait_health(url, child)
    try:
        return _load(url, chain, streams, health, patients, args, seconds, spawn)
    finally:
        child.terminate()
        child.join(120)
        store.close()


def _wait_health(url: str, child: Any, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.is_alive():
            raise SystemExit("the gateway process exited")
        try:
            return dict(httpx.get(url + "/health", timeout=2).json())
        except (httpx.HTTPError, ValueError):
            time.sleep(0.2)
    raise SystemExit("the gateway did not start")


def _load(url, chain, streams, health, patients, args, seconds, spawn) -> int:  # type: ignore[no-untyped-def]
    chain_id, anchors = health["chainId"], health["streamAnchors"]
    results = spawn.Queue()
    start_at = time.time() + 15  # the load processes import medledger first
    until = start_at + seconds
    devices = list(range(args.devices))
    loaders = [
        spawn.Process(
            target=run_devices,
            args=(
                int(url.rsplit(":", 1)[1]),
                chain_id,
                anchors,
                devices[i :: args.load_processes],
                patients,
                args.rate,
                start_at,
                until,
                args.threads,
                results,
            ),
        )
        for i in range(args.load_processes)
    ]
    print(f"{args.devices} devices x {args.rate} readings/s for {seconds} s ...", file=sys.stderr)
    for loader in loaders:
        loader.start()
    time.sleep(max(0.0, start_at - time.time()))
    started = time.time()
    samples: list[tuple[float, int]] = [(started, int(httpx.get(url + "/health", timeout=10).json()["accepted"]))]
    while time.time() < until - 1:
        time.sleep(max(0.0, min(10 - (time.time() - started) % 10, until - time.time())))
        samples.append((time.time(), int(httpx.get(url + "/health", timeout=10).json()["accepted"])))
    counts = [results.get() for _ in loaders]
    for loader in loaders:
        loader.join()
    elapsed = max(time.time(), until) - started
    accepted = sum(c["accepted"] for c in counts)
    refused = sum(c["refused"] for c in counts)
    errors = sum(c["errors"] for c in counts)
    codes: dict[str, int] = {}
    for c in counts:
        for code, n in c["codes"].items():
            codes[code] = codes.get(code, 0) + n
    latencies = sorted(latency for c in counts for latency in c["latencies"])
    rates = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in itertools.pairwise(samples)]

    print("waiting for the last windows to close and anchor ...", file=sys.stderr)
    deadline = time.time() + args.window + 120
    final = httpx.get(url + "/health", timeout=10).json()
    while time.time() < deadline:
        final = httpx.get(url + "/health", timeout=10).json()
        if final["anchoredReadings"] + final["buffered"] >= final["accepted"] and final["buffered"] == 0:
            break
        time.sleep(2)
    proof = _some_proof(url, patients, args)
    verify_gas = None
    if proof is not None:
        reading, found = proof
        function = streams.verify_reading_function(
            bytes.fromhex(found["windowId"][2:]),
            reading[0],
            reading[1],
            reading[2],
            reading[3],
            [bytes.fromhex(p[2:]) for p in found["proof"]],
        )
        verify_gas = int(function.estimate_gas())
        assert function.call() is True
    rows = [
        ("devices / patients", f"{args.devices} / {len(patients)}"),
        ("offered load", f"{args.devices * args.rate:,} readings/s for {seconds} s"),
        ("readings accepted", f"{accepted:,} ({refused:,} refused {codes or ''}, {errors} errors)"),
        ("sustained rate (whole run)", f"{accepted / elapsed:,.0f} readings/s"),
        ("worst 10 s stretch", f"{min(rates):,.0f} readings/s" if rates else "n/a"),
        (
            "request latency p50 / p99",
            f"{_pct(latencies, 50) * 1000:.1f} / {_pct(latencies, 99) * 1000:.1f} ms ({args.rate} readings each)",
        ),
        ("windows anchored / skipped", f"{final['anchoredWindows']} / {final['skippedWindows']}"),
        ("anchor transactions", f"{final['transactions']}"),
        ("readings anchored", f"{final['anchoredReadings']:,}"),
        ("gas per window", f"{final['anchorGas'] / max(1, final['anchoredWindows']):,.0f}"),
        ("gas per anchored reading", f"{final['anchorGas'] / max(1, final['anchoredReadings']):,.1f}"),
    ]
    if proof is not None:
        siblings = len(proof[1]["proof"])
        rows += [
            ("proof size", f"{siblings} siblings = {siblings * 32} bytes (window of {proof[1]['count']:,} readings)"),
            ("verifyReading gas (eth_estimateGas)", f"{verify_gas:,}"),
        ]
    width = max(len(name) for name, _ in rows)
    print(f"\nmedledger gateway on anvil + js-ipfs ({args.window} s windows, {os.cpu_count()} cores)")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    return 0


def _some_proof(url: str, patients: list[str], args: argparse.Namespace) -> tuple[tuple, dict[str, Any]] | None:
    """The proof of device 0's first reading, with the values it proves (rebuilt as the device made them)."""
    response = httpx.get(f"{url}/v1/proofs/{device_signer(0).address}/0", timeout=30)
    if response.status_code != 200:
        print(f"no proof: {response.text}", file=sys.stderr)
        return None
    found = response.json()
    # the device's first reading: timestamp is the window's first second with a reading; recover it
    # by trying the window's seconds (the benchmark does not keep what it sent)
    for timestamp in range(found["start"], found["end"]):
        value = 60 + (0 + 0 + timestamp) % 40
        obs = observation(found["chainId"], patients[0], value, timestamp)
        reading = (device_signer(0).address, 0, timestamp, reading_hash(obs))
        from medledger.crypto.merkle import leaf_hash
        from medledger.flows.windows import LEAF_TYPES

        if "0x" + leaf_hash(LEAF_TYPES, reading).hex() == found["leaf"]:
            return reading, found
    return None


def _pct(values: list[float], p: int) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(len(values) * p / 100))] if p < 100 else values[-1]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
