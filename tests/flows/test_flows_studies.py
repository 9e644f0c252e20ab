"""A study end to end, through the real key-release services: the researcher registers it with its
documents, the patient publishes de-identified copies and enrols, the researcher reads a copy (never
the original), the patient is paid once, withdrawal stops later reads, the rest is refunded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medledger.chain.errors import ContractRevertError
from medledger.flows import AccessDeniedError
from medledger.flows.studies import (
    StudyError,
    claim_reward,
    close_study,
    enrol,
    publish_study_data,
    read_study_record,
    register_study,
    sign_enrolment,
    withdraw,
)
from medledger.ledger.studies import ParticipantStatus, StudiesClient, deploy_studies
from medledger.ledger.tokens import deploy_token
from medledger.scopes import Category, mask
from medledger.storage import Cid

from .conftest import People

pytestmark = [pytest.mark.anvil]
DAY = 86_400
REWARD = 25_000_000


def _patient_files(directory: Path) -> list[Path]:
    patient = {
        "resourceType": "Patient",
        "id": "p-77",
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.4.1", "value": "123-45-6789"}],
        "name": [{"family": "Rivera", "given": ["Ana"]}],
        "birthDate": "1984-07-19",
        "address": [{"line": ["9 Elm St"], "city": "Somerville", "state": "MA", "postalCode": "02143"}],
    }
    observation = {
        "resourceType": "Observation",
        "id": "o-1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
        "subject": {"reference": "Patient/p-77", "display": "Ana Rivera"},
        "effectiveDateTime": "2026-11-20T09:30:00Z",
        "valueQuantity": {"value": 6.1, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},
    }
    paths = []
    for name, resource in (("patient.json", patient), ("hba1c.json", observation)):
        path = directory / name
        path.write_text(json.dumps(resource))
        paths.append(path)
    return paths


@pytest.fixture
def study(world, people_on_embedded: People, tmp_path: Path):
    people = people_on_embedded
    token = deploy_token(world.chain, world.actors.admin, "Test Dollar", "TUSD", 6)
    token.mint(people.researcher.address, 2 * REWARD)
    studies = deploy_studies(world.chain, world.actors.admin, world.deployment.ledger_address)
    protocol, approval = tmp_path / "protocol.pdf", tmp_path / "approval.pdf"
    protocol.write_bytes(b"%PDF-1.4 glycaemic control study protocol v1")
    approval.write_bytes(b"%PDF-1.4 IRB approval 2026-114")
    now = world.chain.now()
    registered = register_study(
        people.researcher,
        studies,
        token,
        protocol=protocol,
        approval=approval,
        categories=mask([Category.LABS, Category.SUMMARY]),
        reward=REWARD,
        places=2,
        enrolment_end=now + 7 * DAY,
        end=now + 30 * DAY,
    )
    return people, token, studies, registered


def test_a_study_runs_from_registration_to_refund(world, study, tmp_path: Path) -> None:
    people, token, studies, registered = study
    patient, researcher = people.patient, people.researcher
    assert studies.token_balance(token.address) == 2 * REWARD
    stored = Cid.from_digest(studies.study(registered.study_id).protocol_digest, 0x55)
    assert b"".join(people.store.get(stored)).startswith(b"%PDF-1.4 glycaemic")

    copies = publish_study_data(patient, studies, registered.study_id, _patient_files(tmp_path))
    assert [c.category for c in copies] == [int(Category.SUMMARY), int(Category.LABS)]
    enrol(patient, studies, registered.study_id, [c.published.digest for c in copies])
    assert studies.participant(registered.study_id, patient.address).status is ParticipantStatus.ENROLLED

    read = read_study_record(
        researcher, studies, registered.study_id, patient.address, copies[1].published.digest, tmp_path / "r.json"
    )
    assert read.first and read.fetched.access_tx is not None
    seen = json.loads(read.fetched.path.read_text())
    assert seen["effectiveDateTime"] == "2026" and "display" not in seen["subject"]
    again = read_study_record(
        researcher, studies, registered.study_id, patient.address, copies[0].published.digest, tmp_path / "p.json"
    )
    assert not again.first
    person = json.loads(again.fetched.path.read_text())
    assert "name" not in person and "identifier" not in person and person["address"][0]["postalCode"] == "021"

    assert claim_reward(patient, studies, registered.study_id) == REWARD
    with pytest.raises(StudyError, match="paid already"):
        claim_reward(patient, studies, registered.study_id)

    withdraw(patient, studies, registered.study_id)
    assert not world.ledger().consent.get(patient.address, researcher.address).categories
    with pytest.raises((AccessDeniedError, ContractRevertError)):
        read_study_record(
            researcher, studies, registered.study_id, patient.address, copies[1].published.digest, tmp_path / "x.json"
        )

    world.chain.increase_time(31 * DAY)
    refund, _ = close_study(researcher, studies, registered.study_id)
    assert refund == REWARD and studies.token_balance(token.address) == 0


def test_before_any_read_there_is_no_reward_and_a_record_outside_the_study_is_not_read_for_it(
    study, tmp_path: Path
) -> None:
    people, _token, studies, registered = study
    copies = publish_study_data(people.patient, studies, registered.study_id, _patient_files(tmp_path)[1:])
    enrol(people.patient, studies, registered.study_id, [c.published.digest for c in copies])
    with pytest.raises(AccessDeniedError, match="no reward to claim"):
        claim_reward(people.patient, studies, registered.study_id)
    with pytest.raises(StudyError, match="not one of"):
        read_study_record(
            people.researcher, studies, registered.study_id, people.patient.address, b"\x01" * 32, tmp_path / "o"
        )


def test_a_signed_enrolment_is_relayed_by_someone_else(study, tmp_path: Path) -> None:
    people, _token, studies, registered = study
    copies = publish_study_data(people.patient, studies, registered.study_id, _patient_files(tmp_path)[1:])
    signed = sign_enrolment(people.patient, studies, registered.study_id, [c.published.digest for c in copies])
    StudiesClient(studies.chain, studies.address, signer=people.stranger.signer).relay(signed)
    assert studies.participant(registered.study_id, people.patient.address).status is ParticipantStatus.ENROLLED


def test_data_outside_the_study_categories_is_refused_before_anything_is_published(study, tmp_path: Path) -> None:
    people, _token, studies, registered = study
    with pytest.raises(StudyError, match="asks for"):
        publish_study_data(
            people.patient, studies, registered.study_id, _patient_files(tmp_path)[1:], category=int(Category.IMAGING)
        )


def test_the_index_and_the_audit_show_the_study_and_a_read_that_skipped_the_studys_log(
    world, study, tmp_path: Path
) -> None:
    from medledger.flows.audit import study_history
    from medledger.indexer import Indexer, open_store
    from medledger.indexer.studies import participants, patient_studies, unlogged_study_reads
    from medledger.indexer.studies import studies as indexed_studies
    from medledger.scopes import Purpose

    people, _token, studies, registered = study
    patient, researcher = people.patient, people.researcher
    copies = publish_study_data(patient, studies, registered.study_id, _patient_files(tmp_path))
    enrol(patient, studies, registered.study_id, [c.published.digest for c in copies])
    read_study_record(
        researcher, studies, registered.study_id, patient.address, copies[0].published.digest, tmp_path / "a.json"
    )
    # The second copy read through the ledger's log alone: key release would follow, the study's log would not.
    skipped = copies[1].published.digest
    researcher.ledger.records.log_access(patient.address, skipped, Purpose.HRESCH)
    claim_reward(patient, studies, registered.study_id)

    rows = study_history(studies, patient.address)
    assert [row.event for row in rows] == ["ParticipantEnrolled", "StudyDataAccessed", "RewardPaid"]
    assert rows[1].actor == researcher.address and rows[1].details["reward_earned"] is True

    ledger_block = world.deployment.contracts["MedLedger"].block
    modules = {"Studies": (studies.address, ledger_block)}
    with Indexer(world.chain, world.deployment.ledger_address, open_store(tmp_path / "index.sqlite"),
                 deployment_block=ledger_block, modules=modules) as indexer:  # fmt: skip
        indexer.sync()
        [summary] = indexed_studies(indexer.store)
        assert (summary.enrolled, summary.earned, summary.paid, summary.status) == (1, 1, 1, "open")
        [entry] = participants(indexer.store, registered.study_id)
        assert entry.patient == patient.address and entry.earned and entry.paid == REWARD
        assert patient_studies(indexer.store, patient.address) == [registered.study_id]
        [unlogged] = unlogged_study_reads(indexer.store)
        assert unlogged.digest == "0x" + skipped.hex() and unlogged.researcher == researcher.address
        # The patient's indexed history (what `medledger audit` and `export fhir` read) holds the study's rows too.
        from medledger.fhir import audit_events
        from medledger.indexer.queries import history

        trail = history(indexer.store, patient.address)
        assert {"ParticipantEnrolled", "StudyDataAccessed", "RewardPaid"} <= {entry.event for entry in trail}
        assert len(audit_events(trail, chain_id=world.chain.chain_id, patient=patient.address)) == len(trail)


def test_encrypted_study_documents_are_the_researchers_own_records(world, people_on_embedded: People, tmp_path: Path):
    people = people_on_embedded
    token = deploy_token(world.chain, world.actors.admin, "Test Dollar", "TUSD", 6)
    token.mint(people.researcher.address, REWARD)
    studies = deploy_studies(world.chain, world.actors.admin, world.deployment.ledger_address)
    protocol = tmp_path / "protocol.pdf"
    protocol.write_bytes(b"%PDF-1.4 confidential protocol")
    now = world.chain.now()
    registered = register_study(
        people.researcher, studies, token, protocol=protocol, approval=protocol, categories=mask([Category.LABS]),
        reward=REWARD, places=1, enrolment_end=now + DAY, end=now + 2 * DAY, encrypt=True,
    )  # fmt: skip
    pointer = world.ledger().records.get(people.researcher.address, registered.protocol.digest)
    assert pointer.exists and pointer.author == people.researcher.address and pointer.category == Category.NOTES
    stored = b"".join(people.store.get(Cid.parse(registered.protocol.cid)))
    assert b"confidential" not in stored  # encrypted, unlike a public document
