"""Indexer benchmark: events synced per second into SQLite, for the same number of events spread
one per block and 200 per block, from a fresh anvil (started and stopped here).

The events are AccessLogged (the patient logging reads of its own record): one transaction per
block for the first shape, a multicall of 200 logAccess calls per block for the second. The
timed part is `Indexer.sync()` from the deployment block into a new SQLite file; building the
chain is not timed.

Run with `make bench-indexer`, or `python benchmarks/indexer.py [EVENTS]` (also
MEDLEDGER_BENCH_EVENTS; default 20000). Prints a table; no pass/fail.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from medledger.chain.accounts import Signer, anvil_account
from medledger.chain.connection import Chain, connect
from medledger.chain.deploy import Deployment, deploy
from medledger.devnet.anvil import AnvilNode
from medledger.indexer import Indexer
from medledger.ledger import MedLedger
from medledger.scopes import Category, Purpose

PER_BLOCK_WIDE = 200
GAS_PER_LOG = 40_000  # logAccess by the patient costs ~30.5k; a fixed limit saves an estimate per tx


def _send_raw(chain: Chain, signer: Signer, to: str, calls: list[bytes], nonce: int, ledger: MedLedger) -> bytes:
    data = calls[0] if len(calls) == 1 else ledger.contract.encode_abi("multicall", args=[calls])
    tx = {
        "to": to,
        "data": data,
        "nonce": nonce,
        "gas": 60_000 + GAS_PER_LOG * len(calls),
        "maxFeePerGas": 10**11,
        "maxPriorityFeePerGas": 10**9,
        "chainId": chain.chain_id,
        "value": 0,
    }
    return bytes(chain.w3.eth.send_raw_transaction(signer.sign_transaction(tx)))


def build_history(events: int, per_block: int) -> tuple[AnvilNode, Chain, Deployment]:
    node = AnvilNode().start()
    chain = connect(node.rpc_url)
    admin, patient = anvil_account(0), anvil_account(3)
    deployment = deploy(chain, admin)
    ledger = MedLedger.from_deployment(chain, deployment, signer=patient)
    digest = bytes(range(32))
    ledger.records.add(patient.address, digest, 0x55, int(Category.LABS))
    call = ledger.contract.encode_abi("logAccess", args=[patient.address, digest, int(Purpose.TREAT)])
    nonce = chain.w3.eth.get_transaction_count(patient.address)
    last = b""
    for _ in range(events // per_block):
        last = _send_raw(chain, patient, ledger.address, [bytes.fromhex(call[2:])] * per_block, nonce, ledger)
        nonce += 1
    chain.w3.eth.wait_for_transaction_receipt(last, timeout=300)  # every one mined before the clock starts
    return node, chain, deployment


def measure(events: int, per_block: int) -> tuple[int, int, float]:
    node, chain, deployment = build_history(events, per_block)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            indexer = Indexer.from_deployment(chain, deployment, Path(tmp) / "index.sqlite")
            started = time.perf_counter()
            report = indexer.sync()
            elapsed = time.perf_counter() - started
            indexer.close()
        return report.events, report.to_block - report.from_block + 1, elapsed
    finally:
        node.stop()


def main() -> None:
    events = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MEDLEDGER_BENCH_EVENTS", 20000))
    print(f"indexer sync into SQLite, {events:,} AccessLogged events, anvil on loopback")
    print(f"{'shape':<22}{'events':>9}{'blocks':>9}{'seconds':>10}{'events/s':>11}")
    for per_block in (1, PER_BLOCK_WIDE):
        synced, blocks, elapsed = measure(events, per_block)
        shape = f"{per_block} per block"
        print(f"{shape:<22}{synced:>9,}{blocks:>9,}{elapsed:>10.2f}{synced / elapsed:>11,.0f}", flush=True)


if __name__ == "__main__":
    main()
