"""The record's author is bound into its container: the publish flows bind the publishing
account, a re-encryption binds the patient, and a record written before the author was bound
(format version 2) is read by its patient directly, refused by the key-release services, and
moved by `reencrypt` to a container that binds the patient."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from medledger.crypto import AccountRecipient, ContainerHeader, read_header
from medledger.flows import Session
from medledger.flows.records import fetch, migration, publish, reencrypt, sealing_for
from medledger.flows.streams import chunk_reader
from medledger.keyservice.errors import ReleaseFailedError
from medledger.storage import Cid
from tests.crypto.legacy import version_2_container

from .conftest import LABS, People, grant_read, sha256_of, write_source

pytestmark = [pytest.mark.anvil]

OLD_LABS = b"potassium 4.1 mmol/L, written before the author was bound\n"


def _header_of(patient: Session, digest: bytes) -> ContainerHeader:
    """The container header of one of `patient`'s records."""
    pointer = patient.ledger.records.get(patient.address, digest)
    return read_header(chunk_reader(patient.store.get(Cid.from_digest(pointer.digest, pointer.codec))))


def _format_2_record(patient: Session) -> bytes:
    """A version-2 container of the patient's (no author bound), stored and registered by the
    patient; its digest."""
    sealing = sealing_for(patient, patient.address)
    assert sealing.policy is not None
    binding = patient.binding(patient.address, LABS, author=patient.address)
    blob = version_2_container(OLD_LABS, binding, [AccountRecipient(patient.keypair.public)], sealing.policy)
    cid = patient.store.put(io.BytesIO(blob))
    patient.ledger.records.add(patient.address, cid.digest, cid.codec, int(LABS))
    return cid.digest


def test_a_writers_publish_binds_the_writer_as_author(people_on_embedded: People, tmp_path: Path) -> None:
    people = people_on_embedded
    source = tmp_path / "labs.json"
    write_source(source, 700, seed=1)

    record = publish(people.lab, people.patient.address, LABS, source)

    header = _header_of(people.patient, record.digest)
    assert (header.version, header.author) == (3, bytes.fromhex(people.lab.address[2:]))


def test_a_patients_publish_binds_the_patient_as_author(people_on_embedded: People, tmp_path: Path) -> None:
    people = people_on_embedded
    source = tmp_path / "own.json"
    write_source(source, 700, seed=2)

    record = publish(people.patient, people.patient.address, LABS, source)

    assert _header_of(people.patient, record.digest).author == bytes.fromhex(people.patient.address[2:])


def test_the_patient_reads_a_format_2_record_directly(people_on_embedded: People, tmp_path: Path) -> None:
    people = people_on_embedded
    digest = _format_2_record(people.patient)

    out = fetch(people.patient, people.patient.address, digest, tmp_path / "old.txt")

    assert out.direct and out.path.read_bytes() == OLD_LABS


def test_a_grantees_read_of_a_format_2_record_is_refused_before_its_access_is_logged(
    people_on_embedded: People, tmp_path: Path
) -> None:
    people = people_on_embedded
    digest = _format_2_record(people.patient)
    grant_read(people, people.clinic)
    logged = len(people.patient.ledger.events("AccessLogged", from_block=people.patient.from_block))

    with pytest.raises(ReleaseFailedError, match="medledger record reencrypt"):
        fetch(people.clinic, people.patient.address, digest, tmp_path / "clinic.txt")

    assert len(people.patient.ledger.events("AccessLogged", from_block=people.patient.from_block)) == logged


def test_a_format_2_record_under_the_current_set_needs_migration(people_on_embedded: People) -> None:
    people = people_on_embedded
    digest = _format_2_record(people.patient)

    needed = migration(people.patient, digest)

    assert needed is not None and (needed.set_version, needed.current, needed.bound_author) == (1, 1, None)
    assert "format 2" in needed.reason


def test_a_reencrypted_format_2_record_binds_the_patient_and_a_grantee_reads_it(
    people_on_embedded: People, tmp_path: Path
) -> None:
    people = people_on_embedded
    digest = _format_2_record(people.patient)
    grant_read(people, people.clinic)

    fresh = reencrypt(people.patient, digest)

    assert _header_of(people.patient, fresh.digest).author == bytes.fromhex(people.patient.address[2:])
    out = fetch(people.clinic, people.patient.address, fresh.digest, tmp_path / "clinic.txt")
    assert not out.direct and out.path.read_bytes() == OLD_LABS
    assert migration(people.patient, fresh.digest) is None


def test_a_writers_record_the_patient_took_over_is_reencrypted_under_the_patient(
    people_on_embedded: People, tmp_path: Path
) -> None:
    # The chain now names the patient as author, the header the lab: the services would refuse it
    # (wrong-binding), so it needs re-encryption, which binds the patient.
    people = people_on_embedded
    source = tmp_path / "labs.json"
    expected = write_source(source, 900, seed=3)
    record = publish(people.lab, people.patient.address, LABS, source)
    people.patient.ledger.records.add(people.patient.address, record.digest, record.codec, int(LABS))
    grant_read(people, people.clinic)

    needed = migration(people.patient, record.digest)
    assert needed is not None and needed.bound_author == people.lab.address
    fresh = reencrypt(people.patient, record.digest)

    out = fetch(people.clinic, people.patient.address, fresh.digest, tmp_path / "clinic.json")
    assert sha256_of(out.path) == expected
