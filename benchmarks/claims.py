"""Claims throughput on anvil: how many claims per second go through submit + adjudicate + pay.

Run with `make bench-claims` (CLAIMS_N claims per mode, default 60). Two modes:

* sequential: each transaction is sent through the ClaimsClient and waited for (what the CLI does);
* pipelined: the clinic signs all its submissions with consecutive nonces and sends them before
  waiting for any receipt, then the insurer does the same with its decisions and payments (what a
  clearing-house batch job would do).

The claim documents' records (one addRecord each, the clinic's) are registered beforehand and timed
on their own line. anvil mines each transaction at once (automine), so the figures are client and
node costs, not block times: on a real network the block time bounds latency, not throughput.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from typing import Any

from medledger.chain.accounts import Signer, anvil_account
from medledger.chain.connection import Chain, connect
from medledger.chain.deploy import deploy
from medledger.devnet.anvil import AnvilNode
from medledger.ledger import MedLedger, ProviderKind
from medledger.ledger.claims import ClaimsClient, ClaimsSettings, claim_id_of, deploy_claims_contract, encounter_digest
from medledger.ledger.tokens import deploy_token
from medledger.scopes import Category, Permission, Purpose, mask

BILLING = int(Category.BILLING)


def _setup(chain: Chain) -> tuple[MedLedger, ClaimsClient, Signer, Signer, Signer, bytes, str]:
    admin, registrar, clinic, patient, insurer = (anvil_account(i) for i in range(5))
    deployment = deploy(chain, admin)
    ledger = MedLedger.from_deployment(chain, deployment)
    ledger.as_signer(admin).providers.add_registrar(registrar.address)
    providers = ledger.as_signer(registrar).providers
    providers.register(clinic.address, ProviderKind.CLINICIAN)
    providers.register(insurer.address, ProviderKind.INSURER)
    for grantee, purposes in ((clinic, [Purpose.TREAT, Purpose.HPAYMT]), (insurer, [Purpose.HPAYMT])):
        ledger.as_signer(patient).consent.grant(
            grantee.address,
            categories=mask([Category.BILLING]),
            purposes=mask(purposes),
            permissions=Permission.READ | Permission.WRITE,
            expiry=timedelta(days=365),
        )
    claims = deploy_claims_contract(chain, admin, deployment.ledger_address, ClaimsSettings()).as_signer(insurer)
    usdc = deploy_token(chain, insurer, "USD Coin (test)", "USDC", 6)
    usdc.mint(insurer.address, 10**15)
    usdc.approve(claims.address, 10**15)
    claims.fund(usdc.address, 10**15)
    coverage_digest = os.urandom(32)
    ledger.as_signer(insurer).records.add(patient.address, coverage_digest, 0x55, BILLING)
    now = chain.now()
    _, coverage = claims.register_coverage(
        patient.address, coverage_digest, usdc.address, now - 86400, now + 86400 * 365
    )
    return ledger, claims, clinic, patient, insurer, coverage, usdc.address


def _records(ledger: MedLedger, clinic: Signer, patient: Signer, n: int) -> tuple[list[bytes], float]:
    started = time.perf_counter()
    digests = [os.urandom(32) for _ in range(n)]
    author = ledger.as_signer(clinic).records
    for digest in digests:
        author.add(patient.address, digest, 0x55, BILLING)
    return digests, time.perf_counter() - started


def sequential(claims: ClaimsClient, clinic: Signer, patient: Signer, coverage: bytes, digests: list[bytes]) -> float:
    provider = claims.as_signer(clinic)
    now = claims.chain.now()
    started = time.perf_counter()
    for n, digest in enumerate(digests):
        _, claim_id = provider.submit(
            coverage, encounter_digest(patient.address, f"S/{n}"), digest, now - 60, 45_000_000
        )
        claims.adjudicate(claim_id, 40_000_000, 5_000_000)
        claims.pay(claim_id)
    return time.perf_counter() - started


def _pipeline(chain: Chain, signer: Signer, functions: list[Any]) -> None:
    """Sign `functions` with consecutive nonces, send them all, then wait for every receipt."""
    w3 = chain.w3
    nonce = w3.eth.get_transaction_count(signer.address)
    gas = int(functions[0].estimate_gas({"from": signer.address}) * 1.3)
    fees = {"maxFeePerGas": 2 * w3.eth.get_block("latest")["baseFeePerGas"] + 10**9, "maxPriorityFeePerGas": 10**9}
    hashes = []
    for offset, function in enumerate(functions):
        tx = function.build_transaction(
            {"from": signer.address, "nonce": nonce + offset, "gas": gas, "chainId": chain.chain_id, **fees}
        )
        hashes.append(w3.eth.send_raw_transaction(signer._account.sign_transaction(tx).raw_transaction))
    for tx_hash in hashes:
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
        if receipt["status"] != 1:
            raise SystemExit(f"pipelined transaction {tx_hash.hex()} reverted")


def pipelined(claims: ClaimsClient, clinic: Signer, patient: Signer, coverage: bytes, digests: list[bytes]) -> float:
    chain = claims.chain
    now = chain.now()
    encounters = [encounter_digest(patient.address, f"P/{n}") for n in range(len(digests))]
    ids = [claim_id_of(coverage, clinic.address, encounter) for encounter in encounters]
    insurer = claims.signer
    assert insurer is not None
    started = time.perf_counter()
    _pipeline(
        chain,
        clinic,
        [claims.submit_call(coverage, e, d, now - 60, 45_000_000) for e, d in zip(encounters, digests, strict=True)],
    )
    _pipeline(chain, insurer, [claims.adjudicate_call(claim_id, 40_000_000, 5_000_000) for claim_id in ids])
    _pipeline(chain, insurer, [claims.pay_call(claim_id) for claim_id in ids])
    return time.perf_counter() - started


def main() -> int:
    n = int(os.environ.get("CLAIMS_N", "60"))
    with AnvilNode() as node:
        chain = connect(node.rpc_url)
        ledger, claims, clinic, patient, _, coverage, _ = _setup(chain)
        digests, record_seconds = _records(ledger, clinic, patient, 2 * n)
        seq = sequential(claims, clinic, patient, coverage, digests[:n])
        pipe = pipelined(claims, clinic, patient, coverage, digests[n:])
    rows = [
        ("claim documents registered (addRecord, sequential)", 2 * n, record_seconds, 1),
        ("submit + adjudicate + pay, sequential", n, seq, 3),
        ("submit + adjudicate + pay, pipelined", n, pipe, 3),
    ]
    width = max(len(name) for name, *_ in rows)
    print(f"{'claims on anvil':{width}} {'count':>6} {'seconds':>8} {'claims/s':>9} {'tx/s':>7}")
    print("-" * (width + 34))
    for name, count, seconds, txs in rows:
        print(f"{name:{width}} {count:>6} {seconds:>8.2f} {count / seconds:>9.1f} {count * txs / seconds:>7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
