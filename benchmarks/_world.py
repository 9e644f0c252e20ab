"""Shared set-up for the scale benchmarks (ingest, growth): a fresh anvil, a js-ipfs daemon, one
MedLedger deployment with a 2-of-3 key-release service set whose services run as their own
`medledger keyservice serve` processes (as they do in reality: separate operators), a lab that
writes, a clinic that reads, a patient who granted both. Started and stopped by `World`."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from eth_utils import keccak

from medledger.chain.accounts import Signer, anvil_account
from medledger.chain.connection import Chain, connect
from medledger.chain.deploy import Deployment, LedgerSettings, deploy
from medledger.crypto import derive_encryption_keypair
from medledger.devnet.anvil import AnvilNode
from medledger.devnet.ipfs import IpfsDaemon
from medledger.devnet.ports import free_loopback_port
from medledger.flows import Session
from medledger.flows.consent import grant, setup_account
from medledger.ledger import MedLedger, ProviderKind
from medledger.scopes import Category, Permission, Purpose, mask
from medledger.storage import KuboStore

SERVICES, THRESHOLD = 3, 2
KEY_VARIABLE = "MEDLEDGER_BENCH_SERVICE_KEY"


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
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


class CountingProxy:
    """A JSON-RPC proxy in front of a node that counts what passes: HTTP requests and JSON-RPC
    calls (a batch counts each of its calls), by method. Everything a World connects (this
    client, the key-release services) goes through it, so an operation's count is all of it."""

    def __init__(self, upstream: str):
        parts = urlsplit(upstream)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.lock = threading.Lock()
        self.http = 0
        self.calls: Counter[str] = Counter()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    payload = json.loads(body)
                    methods = [
                        call.get("method", "?") for call in (payload if isinstance(payload, list) else [payload])
                    ]
                except ValueError:
                    methods = ["?"]
                with proxy.lock:
                    proxy.http += 1
                    proxy.calls.update(methods)
                connection = getattr(proxy.local, "connection", None)
                if connection is None:
                    connection = proxy.local.connection = http.client.HTTPConnection(proxy.host, proxy.port, timeout=60)
                connection.request("POST", "/", body, {"Content-Type": "application/json"})
                answer = connection.getresponse().read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.local = threading.local()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self) -> tuple[int, int]:
        with self.lock:
            return self.http, sum(self.calls.values())

    def methods(self) -> Counter[str]:
        with self.lock:
            return Counter(self.calls)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class World:
    workdir: Path
    proxied: bool = False  # every JSON-RPC connection through a CountingProxy
    proxy: CountingProxy | None = None
    node: AnvilNode | None = None
    daemon: IpfsDaemon | None = None
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def __enter__(self) -> World:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.stack.close()

    def _start(self) -> None:
        self.node = self.stack.enter_context(AnvilNode())
        self.daemon = self.stack.enter_context(IpfsDaemon(self.workdir / "ipfs-repo"))
        self.store = KuboStore(self.daemon.api_url)
        self.stack.callback(self.store.close)
        rpc_url = self.node.rpc_url
        if self.proxied:
            self.proxy = CountingProxy(rpc_url)
            self.stack.callback(self.proxy.close)
            rpc_url = self.proxy.url
        self.rpc_url = rpc_url
        self.chain: Chain = connect(rpc_url)
        admin, lab, patient, registrar, clinic = (anvil_account(i) for i in (0, 1, 3, 4, 2))
        self.admin, self.lab, self.patient, self.clinic = admin, lab, patient, clinic
        self.deployment: Deployment = deploy(self.chain, admin, settings=LedgerSettings(admin_delay_seconds=60))
        ledger = MedLedger.from_deployment(self.chain, self.deployment)
        self.ledger = ledger
        ledger.as_signer(admin).providers.add_registrar(registrar.address)
        ledger.as_signer(registrar).providers.register(lab.address, ProviderKind.ORGANIZATION)
        ledger.as_signer(registrar).providers.register(clinic.address, ProviderKind.CLINICIAN)
        services = [Signer.from_private_key(keccak(text=f"medledger bench service {i}")) for i in range(SERVICES)]
        keys = [derive_encryption_keypair(s.private_key_bytes()).public for s in services]
        ledger.as_signer(admin).services.propose([s.address for s in services], keys, THRESHOLD)
        self.chain.increase_time(61)
        ports = [free_loopback_port() for _ in services]
        for index, (signer, port) in enumerate(zip(services, ports, strict=True)):
            self.node.rpc("anvil_setBalance", [signer.address, hex(10**20)])
            ledger.as_signer(signer).services.set_endpoint(f"http://127.0.0.1:{port}")
            config = self.workdir / f"service-{index}.toml"
            config.write_text(
                f'[chain]\nrpc_url = "{rpc_url}"\nledger = "{self.deployment.ledger_address}"\n'
                f'chain_id = {self.chain.chain_id}\n[account]\nprivate_key_env = "{KEY_VARIABLE}"\n'
                f"[server]\nport = {port}\n[policy]\nrate_limit = 1000000.0\nrate_burst = 1000000\n"
                f'[log]\ndatabase = "releases-{index}.sqlite"\n'
            )
            env = {**os.environ, KEY_VARIABLE: "0x" + signer.private_key_bytes().hex()}
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "medledger.cli", "keyservice", "serve", "--config", str(config)],
                    env=env,
                    cwd=self.workdir,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port, process in zip(ports, self.processes, strict=True):
            _wait_ready(f"http://127.0.0.1:{port}", process)
        self.as_clinic = Session.open(ledger.as_signer(clinic), self.store, self.workdir / "clinic", self.deployment)
        self.as_patient = Session.open(ledger.as_signer(patient), self.store, self.workdir / "patient", self.deployment)
        self.as_lab = Session.open(ledger.as_signer(lab), self.store, self.workdir / "lab", self.deployment)
        for session in (self.as_clinic, self.as_patient, self.as_lab):
            setup_account(session)
        for grantee, permission in ((lab, Permission.WRITE), (clinic, Permission.READ)):
            grant(
                self.as_patient,
                grantee.address,
                categories=mask([Category.LABS]),
                purposes=mask([Purpose.TREAT]),
                permissions=permission,
                expiry=timedelta(days=365),
            )

    def service_pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def ipfs_pids(self) -> list[int]:
        pid = self.daemon.pid if self.daemon else None
        return [pid] if pid else []


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its reaped children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds each part of a World spent between `start()` and `stop()`: this client, the
    key-release services, anvil, the IPFS daemon."""

    def __init__(self, world: World):
        self.world = world
        self.parts: dict[str, list[int]] = {
            "services": world.service_pids(),
            "anvil": [pid for pid in [world.node.pid if world.node else None] if pid],
            "ipfs": world.ipfs_pids(),
        }
        self._start: dict[str, float] = {}
        self._client = 0.0

    def _now(self) -> dict[str, float]:
        return {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in self.parts.items()}

    def start(self) -> None:
        self._start = self._now()
        self._client = time.process_time()

    def stop(self) -> dict[str, float]:
        end = self._now()
        used = {name: end[name] - self._start[name] for name in end}
        return {"client": time.process_time() - self._client, **used}
