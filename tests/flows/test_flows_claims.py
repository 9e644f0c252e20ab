"""The claims path end to end through the flows, on anvil, the real IPFS daemon and the real
key-release services: a clinic bills an HbA1c test, the insurer reads the claim and the lab result
for payment (HPAYMT, logged on chain), approves, pays; the clinic withdraws; the history exports as
FHIR; the index and the audit say which claims touched which records."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from medledger.chain.accounts import anvil_account
from medledger.fhir.claims import ClaimLine
from medledger.flows import AccessDeniedError
from medledger.flows import claims as flow
from medledger.flows.audit import claim_history, records_claimed
from medledger.flows.consent import grant, setup_account
from medledger.flows.records import fetch, publish
from medledger.indexer import Indexer
from medledger.indexer import claims as claim_index
from medledger.indexer.store import SQLiteStore
from medledger.ledger import ProviderKind
from medledger.ledger.claims import ClaimsClient, ClaimsSettings, ClaimStatus, deploy_claims_contract
from medledger.ledger.tokens import deploy_token
from medledger.scopes import Category, Permission, Purpose, mask

USD = 10**6
HBA1C = {"resourceType": "Observation", "status": "final", "code": {"text": "HbA1c"}, "valueQuantity": {"value": 6.9}}


@pytest.fixture
def billing(world, people, tmp_path: Path):
    """An insurer with a key, a 6-decimal token, Claims beside the ledger, the patient's consents."""
    insurer_signer = anvil_account(9)
    world.ledger(world.actors.registrar).providers.register(insurer_signer.address, ProviderKind.INSURER)
    insurer = people.make(insurer_signer, "insurer")
    setup_account(insurer)
    usdc = deploy_token(world.chain, insurer_signer, "USD Coin (test)", "USDC", 6)
    usdc.mint(insurer_signer.address, 10_000 * USD)
    deployed = deploy_claims_contract(
        world.chain, world.actors.admin, world.deployment.ledger_address, ClaimsSettings()
    )
    both = mask([Category.LABS, Category.BILLING])
    for grantee, purposes in ((people.clinic, [Purpose.TREAT, Purpose.HPAYMT]), (insurer, [Purpose.HPAYMT])):
        grant(
            people.patient,
            grantee.address,
            categories=both,
            purposes=mask(purposes),
            permissions=Permission.READ | Permission.WRITE,
            expiry=timedelta(days=365),
        )
    lab = tmp_path / "hba1c.json"
    lab.write_text(json.dumps(HBA1C))
    lab_record = publish(people.clinic, people.patient.address, int(Category.LABS), lab)

    def client(session):
        return ClaimsClient(world.chain, deployed.address, signer=session.signer)

    return insurer, usdc, client, lab_record, lab


def test_a_clinic_bills_an_hba1c_test_and_the_insurer_reads_approves_and_pays(world, people, billing, tmp_path):
    insurer, usdc, client, lab_record, lab = billing
    patient, clinic = people.patient, people.clinic
    now = world.chain.now()
    coverage = flow.register_coverage(
        insurer, client(insurer), patient=patient.address, member_id="M-1001", plan="Gold PPO",
        token=usdc.address, start=now - 86400 * 30, end=now + 86400 * 365,
    )  # fmt: skip
    flow.fund_escrow(client(insurer), usdc.address, 1_000 * USD)
    submitted = flow.submit_claim(
        clinic,
        client(clinic),
        coverage_id=coverage.coverage_id,
        encounter="Encounter/2026-0412-17",
        service_date=now - 3600,
        lines=[ClaimLine("83036", "Hemoglobin A1c", 45 * USD)],
        diagnoses=[("E11.9", "Type 2 diabetes mellitus without complications")],
        supporting=[lab_record.digest],
    )
    # The chain holds no clinical code: the encounter and the document are digests.
    event = client(clinic).events("ClaimSubmitted", claimId=submitted.claim_id)[0]["args"]
    assert event["billed"] == 45 * USD and event["digest"] == submitted.document.digest

    # The insurer reads the claim and the supporting lab result for payment, through the services.
    claim_copy = flow.read_for_payment(insurer, client(insurer), submitted.claim_id, tmp_path / "claim.json")
    document = json.loads(claim_copy.path.read_text())
    assert (
        document["resourceType"] == "Claim" and document["item"][0]["productOrService"]["coding"][0]["code"] == "83036"
    )
    assert claim_copy.access_tx is not None and not claim_copy.direct
    lab_copy = flow.read_for_payment(
        insurer, client(insurer), submitted.claim_id, tmp_path / "lab.json", digest=lab_record.digest
    )
    assert lab_copy.path.read_bytes() == lab.read_bytes()
    logged = world.ledger().events("AccessLogged", patient=patient.address)
    assert {int(log["args"]["purpose"]) for log in logged} == {int(Purpose.HPAYMT)}

    decided = flow.adjudicate_claim(
        insurer, client(insurer), submitted.claim_id, approved=40 * USD, patient_share=5 * USD
    )
    assert decided.document is not None
    client(insurer).pay(submitted.claim_id)
    _, amount = client(clinic).withdraw(usdc.address)
    assert amount == 40 * USD and usdc.balance_of(clinic.address) == 40 * USD
    claim = client(clinic).claim(submitted.claim_id)
    assert (claim.status, claim.patient_share) == (ClaimStatus.PAID, 5 * USD)

    # The patient reads the insurer's ClaimResponse directly (its own record).
    response = fetch(patient, patient.address, decided.document.digest, tmp_path / "response.json")
    assert json.loads(response.path.read_text())["outcome"] == "complete"

    # The history as FHIR: the Claim, the decision, the payment.
    bundle = flow.history_bundle(client(clinic), submitted.claim_id)
    kinds = [entry.resource.get_resource_type() for entry in bundle.entry]
    assert kinds == ["Claim", "ClaimResponse", "ExplanationOfBenefit"]
    eob = bundle.entry[2].resource
    assert str(eob.payment.amount.value) in ("40", "40.000000") and eob.payment.amount.currency == "USDC"

    # The audit: which claims touched which records.
    trail = claim_history(client(clinic), patient.address)
    claimed = records_claimed(trail)
    claim_hex = "0x" + submitted.claim_id.hex()
    assert claimed["0x" + submitted.document.digest.hex()] == [claim_hex]
    assert claimed["0x" + decided.document.digest.hex()] == [claim_hex]

    # The index folds the same events, and links the insurer's reads for payment to the claim.
    deployment = world.deployment
    store = SQLiteStore(tmp_path / "index.db")
    indexer = Indexer(
        world.chain, deployment.ledger_address, store, deployment_block=deployment.contracts["MedLedger"].block,
        modules={"Claims": (client(clinic).address, deployment.contracts["MedLedger"].block)},
    )  # fmt: skip
    indexer.sync()
    (summary,) = claim_index.claims(store, patient=patient.address)
    assert (summary.status, summary.paid, summary.patient_share) == ("paid", 40 * USD, 5 * USD)
    uses = {(use.how, use.digest) for use in claim_index.records_touched(store, patient.address)}
    assert ("read for payment", "0x" + lab_record.digest.hex()) in uses
    assert ("claim", "0x" + submitted.document.digest.hex()) in uses
    indexer.close()


def test_a_claim_the_insurer_could_not_read_is_refused_before_anything_is_published(world, people, billing):
    insurer, usdc, client, _, _ = billing
    now = world.chain.now()
    coverage = flow.register_coverage(
        insurer, client(insurer), patient=people.patient.address, member_id="M-2", plan="Basic",
        token=usdc.address, start=now - 86400, end=now + 86400,
    )  # fmt: skip
    grant(
        people.patient,
        insurer.address,
        categories=mask([Category.LABS]),
        purposes=mask([Purpose.HPAYMT]),
        permissions=Permission.READ,
        expiry=timedelta(days=30),
    )
    records_before = len(world.ledger().events("RecordAdded", patient=people.patient.address))
    with pytest.raises(AccessDeniedError, match="HPAYMT"):
        flow.submit_claim(
            people.clinic,
            client(people.clinic),
            coverage_id=coverage.coverage_id,
            encounter="Encounter/9",
            service_date=now - 60,
            lines=[ClaimLine("83036", "HbA1c", 45 * USD)],
        )
    assert len(world.ledger().events("RecordAdded", patient=people.patient.address)) == records_before
