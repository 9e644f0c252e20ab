"""The README's main job: the whole medledger story, end to end, on real components.

The admin proposes a 2-of-3 set of key-release services (three real HTTP services, run here
in-process) and the set takes effect after the admin delay. A lab publishes two encrypted FHIR R4
resources for a patient (an HbA1c Observation under labs, a penicillin AllergyIntolerance under
allergies); each record's key is sealed to the patient and the lab and split 2-of-3 over the
services. The patient grants a clinic labs and allergies for treatment; the clinic reads through
the services (fetch and verify, log the access on chain, two shares, decrypt). Then every change
the patient makes holds for the records already written, because the services check the chain at
each release: after the patient narrows the grant to allergies only, the services refuse the
clinic the lab record; after the grant expires (time travel), they refuse the allergies record;
after a revocation, likewise.

By default everything is embedded (an in-process py-evm chain, a local block store); with an
RPC URL (anvil: its dev accounts are used) and/or a Kubo-compatible IPFS API the same story runs
against them. The services always run in this process, on loopback, and stop at the end.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from eth_utils import keccak

from medledger.chain.accounts import Signer, anvil_account
from medledger.chain.connection import EMBEDDED, connect
from medledger.chain.deploy import LedgerSettings, deploy
from medledger.crypto import derive_encryption_keypair
from medledger.fhir import validate_resource
from medledger.flows import Session
from medledger.flows.consent import grant, revoke, setup_account
from medledger.flows.records import fetch, publish
from medledger.flows.release import fetch_blob, log_read, release_key
from medledger.keyservice.client import KeyReleaseClient
from medledger.keyservice.errors import ReleaseFailedError
from medledger.keyservice.server import ServiceThread, start_local_services
from medledger.ledger import MedLedger, ProviderKind
from medledger.scopes import Category, Permission, Purpose, mask
from medledger.storage import BlobStore, KuboStore, LocalBlockStore

ADMIN_DELAY = 60  # seconds before the proposed service set takes effect (the demo deployment's setting)
SERVICES, THRESHOLD = 3, 2
SHORT_GRANT = timedelta(minutes=5)  # the narrowed grant, so that its expiry can be shown


@dataclass
class DemoStep:
    title: str
    details: dict[str, object] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)  # per-step progress lines of a read, or a refusal


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


def penicillin_allergy(patient_ref: str) -> dict[str, Any]:
    """A FHIR R4 AllergyIntolerance (penicillin, SNOMED CT 764146007). Synthetic."""
    return {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}
            ]
        },
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "764146007", "display": "Penicillin"}]},
        "patient": {"reference": patient_ref},
        "criticality": "high",
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

    def done(title: str, lines: list[str] | None = None, **details: object) -> None:
        step = DemoStep(title, details, lines or [])
        steps.append(step)
        report(step)

    chain = connect(rpc_url)
    service_signers = [
        Signer.from_private_key(keccak(text=f"medledger demo key-release service {i}")) for i in range(3)
    ]
    if chain.is_embedded:
        admin, lab, clinic, patient, registrar_account, insurer_signer = (
            Signer.from_private_key(os.urandom(32)) for _ in range(6)
        )
        for signer in (admin, lab, clinic, patient, registrar_account, insurer_signer, *service_signers):
            chain.fund(signer.address, 10**20)
    else:  # a development chain: anvil's funded accounts
        admin, lab, clinic, patient, registrar_account, insurer_signer = (anvil_account(i) for i in (0, 7, 8, 9, 6, 2))
        service_signers = [anvil_account(i) for i in (3, 4, 5)]
    workdir = Path(workdir or tempfile.mkdtemp(prefix="medledger-demo-"))
    store: BlobStore = KuboStore(ipfs_api) if ipfs_api else LocalBlockStore(workdir / "blocks")
    threads: list[ServiceThread] = []
    client = KeyReleaseClient()
    try:
        deployment = deploy(chain, admin, settings=LedgerSettings(admin_delay_seconds=ADMIN_DELAY))
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

        keys = [derive_encryption_keypair(s.private_key_bytes()).public for s in service_signers]
        ledger.as_signer(admin).services.propose([s.address for s in service_signers], keys, THRESHOLD)
        version = ledger.services.count()
        chain.increase_time(ADMIN_DELAY + 1)  # the admin delay passes (time travel on a dev chain)
        threads = start_local_services(chain, deployment.ledger_address, service_signers, workdir / "services")
        for signer, thread in zip(service_signers, threads, strict=True):
            ledger.as_signer(signer).services.set_endpoint(thread.url)
        done(
            f"Admin proposed a {THRESHOLD}-of-{SERVICES} key-release service set; current after the admin delay",
            lines=[f"service {s.address} at {t.url}" for s, t in zip(service_signers, threads, strict=True)],
            version=version,
            current=ledger.services.current_version(),
            admin_delay_seconds=ADMIN_DELAY,
        )

        def session(signer: Signer, name: str) -> Session:
            return Session.open(ledger.as_signer(signer), store, workdir / name, deployment)

        as_patient, as_lab, as_clinic = session(patient, "patient"), session(lab, "lab"), session(clinic, "clinic")
        for account in (as_patient, as_lab, as_clinic):
            setup_account(account)
        done("Patient, lab and clinic published their X25519 keys", patient=patient.address)

        labs, allergies, treatment = Category.LABS, Category.ALLERGIES, mask([Purpose.TREAT])
        grant(
            as_patient,
            lab.address,
            categories=mask([labs, allergies]),
            purposes=treatment,
            permissions=Permission.WRITE,
            expiry=timedelta(days=365),
        )
        lab_record = _publish_fhir(as_lab, patient.address, labs, hba1c_observation("Patient/example"), workdir)
        allergy_record = _publish_fhir(
            as_lab, patient.address, allergies, penicillin_allergy("Patient/example"), workdir
        )
        done(
            "Lab published two encrypted FHIR R4 resources (validated first)",
            labs=lab_record.cid,
            allergies=allergy_record.cid,
            key_split_over_service_set=lab_record.service_set,
            on_chain="sha2-256 digest + codec only",
        )

        receipt = grant(
            as_patient,
            clinic.address,
            categories=mask([labs, allergies]),
            purposes=treatment,
            permissions=Permission.READ,
            expiry=timedelta(days=30),
        )
        done("Patient granted the clinic: read labs and allergies, for treatment, 30 days", gas=receipt.gas_used)

        lines: list[str] = []
        fetched = fetch(
            as_clinic, patient.address, lab_record.digest, workdir / "clinic" / "hba1c.json", **_read(lines, client)
        )
        value = json.loads(fetched.path.read_text())["valueQuantity"]
        done(
            "Clinic read the lab record through the key-release services",
            lines=lines,
            value=f"{value['value']} {value['unit']}",
            access_logged_in=fetched.access_tx,
        )

        _claims_chapter(
            done,
            chain=chain,
            ledger=ledger,
            deployment_ledger=deployment.ledger_address,
            admin=admin,
            registrar=registrar,
            insurer_signer=insurer_signer,
            as_patient=as_patient,
            as_clinic=as_clinic,
            make_session=session,
            lab_record=lab_record,
            workdir=workdir,
            client=client,
        )

        _study_chapter(chain, ledger, store, workdir, deployment, admin, registrar, patient, as_patient, client, done)

        def narrow() -> None:
            grant(
                as_patient,
                clinic.address,
                categories=mask([allergies]),
                purposes=treatment,
                permissions=Permission.READ,
                expiry=SHORT_GRANT,
            )

        refusal = _refused_after(as_clinic, patient.address, lab_record.digest, workdir, client, narrow)
        done(
            "Patient narrowed the grant to allergies only (5 minutes): the services refuse the clinic the lab record",
            lines=refusal,
            clinic_has_access=_has_access(ledger, patient.address, clinic.address, labs),
        )

        lines = []
        fetch(
            as_clinic,
            patient.address,
            allergy_record.digest,
            workdir / "clinic" / "allergy.json",
            **_read(lines, client),
        )
        done("Clinic still reads the allergies record", lines=lines)

        def expire() -> None:
            chain.increase_time(int(SHORT_GRANT.total_seconds()) + 1)

        refusal = _refused_after(as_clinic, patient.address, allergy_record.digest, workdir, client, expire)
        done(
            "The narrowed grant expired (time travel): the services refuse the allergies record too",
            lines=refusal,
            clinic_has_access=_has_access(ledger, patient.address, clinic.address, allergies),
        )

        grant(
            as_patient,
            clinic.address,
            categories=mask([allergies]),
            purposes=treatment,
            permissions=Permission.READ,
            expiry=timedelta(days=30),
        )
        refusal = _refused_after(
            as_clinic,
            patient.address,
            allergy_record.digest,
            workdir,
            client,
            lambda: revoke(as_patient, clinic.address),
        )
        done(
            "Patient granted allergies again, then revoked: the services refuse the clinic",
            lines=refusal,
            clinic_has_access=_has_access(ledger, patient.address, clinic.address, allergies),
            clinic_can_decrypt=False,
        )
        return steps
    finally:
        client.close()
        for thread in threads:
            thread.stop()
        store.close()


def _claims_chapter(
    done: Callable[..., None],
    *,
    chain: Any,
    ledger: MedLedger,
    deployment_ledger: str,
    admin: Signer,
    registrar: Any,
    insurer_signer: Signer,
    as_patient: Session,
    as_clinic: Session,
    make_session: Callable[[Signer, str], Session],
    lab_record: Any,
    workdir: Path,
    client: KeyReleaseClient,
) -> None:
    """Claims: the clinic bills the HbA1c test, the insurer reads the claim and the lab result for
    payment (HPAYMT, through the key-release services, logged), approves and pays; the clinic pulls
    the payment. Every document is an encrypted billing record; the chain sees digests and amounts."""
    from medledger.fhir.claims import ClaimLine
    from medledger.flows import claims as billing
    from medledger.ledger.claims import ClaimsSettings, deploy_claims_contract
    from medledger.ledger.tokens import deploy_token

    registrar.register(insurer_signer.address, ProviderKind.INSURER)
    usdc = deploy_token(chain, insurer_signer, "USD Coin (demo)", "USDC", 6)
    usdc.mint(insurer_signer.address, usdc.parse("10000"))
    claims = deploy_claims_contract(chain, admin, deployment_ledger, ClaimsSettings())
    as_insurer = make_session(insurer_signer, "insurer")
    setup_account(as_insurer)
    done(
        "Registrar credentialed an insurer; Claims deployed beside the ledger; the insurer pays in its ERC-20",
        insurer=insurer_signer.address,
        claims=claims.address,
        token=f"{usdc.address} ({usdc.symbol}, {usdc.decimals} decimals)",
        deadlines="timely filing 90 days, adjudication 30 days, appeal 60 days",
    )
    clinic, insurer, patient = as_clinic.address, claims.as_signer(insurer_signer), as_patient.address
    billing_scope = mask([Category.LABS, Category.ALLERGIES, Category.BILLING])
    grant(
        as_patient,
        clinic,
        categories=billing_scope,
        purposes=mask([Purpose.TREAT, Purpose.HPAYMT]),
        permissions=Permission.READ | Permission.WRITE,
        expiry=timedelta(days=30),
    )
    grant(
        as_patient,
        insurer_signer.address,
        categories=mask([Category.LABS, Category.BILLING]),
        purposes=mask([Purpose.HPAYMT]),
        permissions=Permission.READ | Permission.WRITE,
        expiry=timedelta(days=365),
    )
    now = chain.now()
    coverage = billing.register_coverage(
        as_insurer, insurer, patient=patient, member_id="DEMO-1001", plan="Gold PPO",
        token=usdc.address, start=now - 30 * 86400, end=now + 365 * 86400,
    )  # fmt: skip
    billing.fund_escrow(insurer, usdc.address, usdc.parse("1000"))
    done(
        "Patient let the clinic bill and the insurer read labs and billing for payment (HPAYMT); "
        "the insurer registered the coverage and funded its escrow",
        coverage=coverage.coverage_id.hex(),
        coverage_document=coverage.document.cid,
        escrow=usdc.format(insurer.escrow_of(insurer_signer.address, usdc.address)),
    )
    submitted = billing.submit_claim(
        as_clinic,
        claims.as_signer(as_clinic.signer),
        coverage_id=coverage.coverage_id,
        encounter="Encounter/demo-hba1c",
        service_date=now - 3600,
        lines=[ClaimLine("83036", "Hemoglobin; glycosylated (A1C)", usdc.parse("45"))],
        diagnoses=[("E11.9", "Type 2 diabetes mellitus without complications")],
        supporting=[lab_record.digest],
    )
    done(
        "Clinic billed the HbA1c test (CPT 83036, ICD-10 E11.9): an encrypted FHIR Claim; on chain only digests",
        claim=submitted.claim_id.hex(),
        billed=usdc.format(submitted.billed),
        claim_document=submitted.document.cid,
    )
    lines: list[str] = []
    read_claim = billing.read_for_payment(as_insurer, insurer, submitted.claim_id, workdir / "insurer" / "claim.json")
    read_lab = billing.read_for_payment(
        as_insurer, insurer, submitted.claim_id, workdir / "insurer" / "hba1c.json", digest=lab_record.digest
    )
    lines.append(f"claim document read, access logged in {read_claim.access_tx}")
    lines.append(f"supporting lab record read, access logged in {read_lab.access_tx}")
    done("Insurer read the claim and the lab result for payment (HPAYMT), through the services", lines=lines)
    decided = billing.adjudicate_claim(
        as_insurer, insurer, submitted.claim_id, approved=usdc.parse("40"), patient_share=usdc.parse("5")
    )
    paid = insurer.pay(submitted.claim_id)
    _, amount = claims.as_signer(as_clinic.signer).withdraw(usdc.address)
    done(
        "Insurer approved 40.00 USDC (the patient owes 5.00 USDC) and paid; the clinic withdrew its payment",
        decision_document=decided.document.cid if decided.document else None,
        pay_gas=paid.gas_used,
        clinic_received=usdc.format(amount),
        claim_status=str(insurer.claim(submitted.claim_id).status.label),  # type: ignore[union-attr]
    )


def synthetic_patient() -> dict[str, Any]:
    """A FHIR R4 Patient full of identifiers (all invented), to show what de-identification removes."""
    return {
        "resourceType": "Patient",
        "id": "mrn-004217",
        "identifier": [{"system": "http://hospital.example/mrn", "value": "004217"}],
        "name": [{"family": "Rivera", "given": ["Ana"]}],
        "telecom": [{"system": "phone", "value": "617-555-0142"}],
        "gender": "female",
        "birthDate": "1984-07-19",
        "address": [{"line": ["9 Elm Street"], "city": "Somerville", "state": "MA", "postalCode": "02143"}],
    }


def _study_chapter(
    chain: Any,
    ledger: MedLedger,
    store: BlobStore,
    workdir: Path,
    deployment: Any,
    admin: Signer,
    registrar: Any,
    patient: Signer,
    as_patient: Session,
    client: KeyReleaseClient,
    done: Callable[..., None],
) -> None:
    """A paid study: escrowed rewards, enrolment by consent with de-identified copies, a logged read
    that earns the reward, one payment, withdrawal, and the refund of the places never earned."""
    from medledger.flows import studies as study_flows
    from medledger.ledger.studies import deploy_studies
    from medledger.ledger.tokens import deploy_token

    if chain.is_embedded:
        researcher = Signer.from_private_key(os.urandom(32))
        chain.fund(researcher.address, 10**20)
    else:
        researcher = anvil_account(1)  # 0 and 2-9 have other parts in the demo
    registrar.register(researcher.address, ProviderKind.RESEARCHER)
    token = deploy_token(chain, admin, "Test USD Coin", "USDC", 6)
    studies = deploy_studies(chain, admin, deployment.ledger_address)
    token.mint(researcher.address, token.parse("75"))
    as_researcher = Session.open(ledger.as_signer(researcher), store, workdir / "researcher", deployment)
    setup_account(as_researcher)
    documents = workdir / "study"
    documents.mkdir(parents=True, exist_ok=True)
    (documents / "protocol.txt").write_text("Glycaemic control in adults: protocol v1 (synthetic)\n")
    (documents / "approval.txt").write_text("Ethics board decision 2026-114: approved (synthetic)\n")
    now = chain.now()
    registered = study_flows.register_study(
        as_researcher,
        studies,
        token,
        protocol=documents / "protocol.txt",
        approval=documents / "approval.txt",
        categories=mask([Category.LABS, Category.SUMMARY]),
        reward=token.parse("25.00"),
        places=3,
        enrolment_end=now + 3600,
        end=now + 7200,
    )
    done(
        "Researcher registered a study: 3 places x 25.00 USDC escrowed, labs and summary, protocol and approval by CID",
        studies=studies.address,
        study=registered.study_id,
        escrow=token.format(registered.deposit),
        protocol=registered.protocol.cid,
        approval=registered.approval.cid,
    )
    sources = []
    for name, resource in (("patient", synthetic_patient()), ("hba1c", hba1c_observation("Patient/mrn-004217"))):
        path = documents / f"original-{name}.json"
        path.write_text(json.dumps(resource, indent=1))
        sources.append(path)
    copies = study_flows.publish_study_data(as_patient, studies, registered.study_id, sources)
    study_flows.enrol(as_patient, studies, registered.study_id, [c.published.digest for c in copies])
    done(
        "Patient published de-identified copies (HIPAA Safe Harbor) and enrolled: research consent until the end",
        lines=[
            f"{Path(c.source).name}: removed {', '.join(c.removed) or 'nothing'}; "
            f"generalised {', '.join(c.generalised) or 'nothing'}"
            for c in copies
        ],
        records=[c.published.cid for c in copies],
    )
    read = study_flows.read_study_record(
        as_researcher,
        studies,
        registered.study_id,
        patient.address,
        copies[0].published.digest,
        documents / "read-patient.json",
        client=client,
    )
    seen = json.loads(read.fetched.path.read_text())
    done(
        "Researcher read the de-identified Patient copy (logged on the ledger and in the study): the reward is earned",
        seen={key: seen[key] for key in ("gender", "birthDate", "address") if key in seen},
        reward_earned=read.first,
    )
    amount = study_flows.claim_reward(as_patient, studies, registered.study_id)
    try:
        study_flows.claim_reward(as_patient, studies, registered.study_id)
        paid_twice = True
    except study_flows.StudyError:
        paid_twice = False
    done("Patient claimed the reward once", paid=token.format(amount), paid_twice=paid_twice)
    study_flows.withdraw(as_patient, studies, registered.study_id)
    try:
        study_flows.read_study_record(
            as_researcher,
            studies,
            registered.study_id,
            patient.address,
            copies[1].published.digest,
            documents / "read-hba1c.json",
            client=client,
        )
        refused = "not refused"
    except Exception as exc:  # the demo reports the refusal, whichever layer says it first
        refused = str(exc)
    done("Patient withdrew (consent revoked): the researcher's next read is refused", refusal=refused)
    chain.increase_time(7201)
    refund, _ = study_flows.close_study(as_researcher, studies, registered.study_id)
    done(
        "The study ended: the places never earned went back to the researcher",
        refund=token.format(refund),
        escrow_left=token.format(studies.token_balance(token.address)),
    )


def _publish_fhir(author: Session, patient: str, category: Category, resource: dict[str, Any], workdir: Path) -> Any:
    validate_resource(resource)  # only valid FHIR R4 is published
    path = workdir / f"{resource['resourceType'].lower()}.json"
    path.write_text(json.dumps(resource, indent=1))
    return publish(author, patient, category, path)


def _read(lines: list[str], client: KeyReleaseClient) -> dict[str, Any]:
    return {"step": lines.append, "client": client}


def _has_access(ledger: MedLedger, patient: str, reader: str, category: Category) -> bool:
    return ledger.consent.has_access(patient, reader, category, Purpose.TREAT, Permission.READ)


def _refused_after(
    session: Session,
    patient: str,
    digest: bytes,
    workdir: Path,
    client: KeyReleaseClient,
    change: Callable[[], object],
) -> list[str]:
    """A read already under way (blob fetched, access logged while allowed) when the patient's
    change lands: the services, which check the chain at release time, refuse it. Returns
    what each service answered."""
    blob = fetch_blob(session, patient, digest, workdir / "clinic")
    try:
        access_tx = log_read(session, blob)
        change()
        try:
            release_key(session, blob, access_tx, client=client)
        except ReleaseFailedError as failed:
            return [f"key service {attempt.describe()}" for attempt in failed.attempts]
        raise RuntimeError("the key-release services released a key the patient's change should have stopped")
    finally:
        blob.path.unlink(missing_ok=True)
