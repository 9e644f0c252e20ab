"""The README's main job: the whole medledger story, end to end, on real components.

A lab publishes an encrypted FHIR R4 Observation for a patient; the patient grants a clinic
read access to labs for treatment for 30 days; the clinic fetches and decrypts it; the patient
revokes; a new record is unreadable to the clinic and the clinic's hasAccess is false.

By default everything is embedded (an in-process py-evm chain, a local block store); with an
RPC URL (e.g. anvil) and/or a Kubo-compatible IPFS API the same story runs against them.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from medledger.chain.accounts import Signer, anvil_account
from medledger.chain.connection import EMBEDDED, connect
from medledger.chain.deploy import deploy
from medledger.crypto import CategoryKeyring, EncryptionKeyPair, NotARecipientError, decrypt_stream
from medledger.fhir import validate_resource
from medledger.flows import Session
from medledger.flows.consent import grant, revoke, setup_account
from medledger.flows.keyrings import granted_keyrings
from medledger.flows.records import fetch, publish
from medledger.flows.streams import chunk_reader
from medledger.ledger import MedLedger, ProviderKind
from medledger.scopes import Category, Permission, Purpose, mask
from medledger.storage import BlobStore, Cid, KuboStore, LocalBlockStore


@dataclass
class DemoStep:
    title: str
    details: dict[str, object] = field(default_factory=dict)


def hba1c_observation(patient_ref: str) -> dict[str, Any]:
    """A FHIR R4 Observation (HbA1c, LOINC 4548-4). Synthetic: no real person."""
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}
        ],
        "code": {
            "coding": [
                {"system": "http://loinc.org", "code": "4548-4", "display": "Hemoglobin A1c/Hemoglobin.total in Blood"}
            ]
        },
        "subject": {"reference": patient_ref},
        "effectiveDateTime": "2026-11-20T09:30:00Z",
        "valueQuantity": {"value": 6.1, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},
    }


def run_demo(
    *,
    rpc_url: str = EMBEDDED,
    ipfs_api: str | None = None,
    workdir: Path | None = None,
    report: Callable[[DemoStep], None] = lambda step: None,
) -> list[DemoStep]:
    """Run the story; `report` sees each step as it completes. Returns all steps."""
    steps: list[DemoStep] = []

    def done(title: str, **details: object) -> None:
        step = DemoStep(title, details)
        steps.append(step)
        report(step)

    chain = connect(rpc_url)
    if chain.is_embedded:
        admin, lab, clinic, patient, registrar_account = (Signer.from_private_key(os.urandom(32)) for _ in range(5))
        for signer in (admin, lab, clinic, patient, registrar_account):
            chain.fund(signer.address, 10**20)
    else:  # a development chain: anvil's funded accounts
        admin, lab, clinic, patient, registrar_account = (anvil_account(i) for i in (0, 7, 8, 9, 6))
    workdir = Path(workdir or tempfile.mkdtemp(prefix="medledger-demo-"))
    store: BlobStore = KuboStore(ipfs_api) if ipfs_api else LocalBlockStore(workdir / "blocks")
    try:
        deployment = deploy(chain, admin)
        done(
            "Deployed MedLedger",
            chain=chain.endpoint,
            chain_id=chain.chain_id,
            address=deployment.ledger_address,
            gas=deployment.contracts["MedLedger"].gas_used,
        )
        ledger = MedLedger.from_deployment(chain, deployment)
        # Duties sit on separate accounts (enforced on chain): the admin appoints a registrar.
        ledger.as_signer(admin).providers.add_registrar(registrar_account.address)
        registrar = ledger.as_signer(registrar_account).providers
        registrar.register(lab.address, ProviderKind.ORGANIZATION)
        registrar.register(clinic.address, ProviderKind.CLINICIAN)
        done("Registrar credentialed a lab and a clinic", lab=lab.address, clinic=clinic.address)

        def session(signer: Signer, name: str) -> Session:
            return Session.open(ledger.as_signer(signer), store, workdir / name, deployment)

        as_patient, as_lab, as_clinic = session(patient, "patient"), session(lab, "lab"), session(clinic, "clinic")
        setup_account(as_patient, [Category.LABS])
        setup_account(as_lab)
        setup_account(as_clinic)
        done("Everyone published an X25519 key; the patient created a labs keyring", patient=patient.address)

        labs, treatment = mask([Category.LABS]), mask([Purpose.TREAT])
        grant(
            as_patient,
            lab.address,
            categories=labs,
            purposes=treatment,
            permissions=Permission.WRITE,
            expiry=timedelta(days=365),
        )
        observation = workdir / "hba1c.json"
        resource = hba1c_observation("Patient/example")
        validate_resource(resource, resource_type="Observation")  # only valid FHIR R4 is published
        observation.write_text(json.dumps(resource, indent=1))
        first = publish(as_lab, patient.address, Category.LABS, observation)
        done(
            "Lab published an encrypted FHIR R4 Observation (validated first)",
            cid=first.cid,
            on_chain="sha2-256 digest + codec only",
        )

        receipt = grant(
            as_patient,
            clinic.address,
            categories=labs,
            purposes=treatment,
            permissions=Permission.READ,
            expiry=timedelta(days=30),
        )
        done("Patient granted the clinic: read labs, for treatment, 30 days", gas=receipt.gas_used)

        fetched = fetch(as_clinic, patient.address, first.digest, workdir / "clinic" / "hba1c.json")
        value = json.loads(fetched.path.read_text())["valueQuantity"]
        done("Clinic fetched and decrypted it", value=f"{value['value']} {value['unit']}", bytes=fetched.size)

        receipt = revoke(as_patient, clinic.address)
        keyring = ledger.keys.keyring_of(patient.address, Category.LABS)  # (public key, epoch)
        done(
            "Patient revoked the clinic; the labs keyring moved to a new epoch",
            gas=receipt.gas_used,
            keyring_epoch=keyring[1] if keyring else None,
        )

        amended = {**resource, "valueQuantity": {**resource["valueQuantity"], "value": 5.8}}
        validate_resource(amended, resource_type="Observation")
        observation.write_text(json.dumps(amended, indent=1))
        second = publish(as_lab, patient.address, Category.LABS, observation)
        has_access = ledger.consent.has_access(
            patient.address, clinic.address, Category.LABS, Purpose.TREAT, Permission.READ
        )
        readable = _clinic_can_decrypt(as_clinic, patient.address, second.digest, second.codec)
        done(
            "Lab published a new record after the revocation",
            cid=second.cid,
            clinic_has_access=has_access,
            clinic_can_decrypt=readable,
        )
        return steps
    finally:
        store.close()


def _clinic_can_decrypt(session: Session, patient: str, digest: bytes, codec: int) -> bool:
    """Try every key the clinic ever received, bypassing the chain's access check on purpose:
    the point is that the cryptography, not just the contract, keeps the clinic out."""
    identities: list[EncryptionKeyPair | CategoryKeyring] = [session.keypair, *granted_keyrings(session, patient)]
    blob = chunk_reader(session.store.get(Cid.from_digest(digest, codec)))
    try:
        decrypt_stream(blob, io.BytesIO(), binding=session.binding(patient, Category.LABS), identity=identities)
        return True
    except NotARecipientError:
        return False
