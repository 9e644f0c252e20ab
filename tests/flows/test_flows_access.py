"""Who can read what: the patient always, READ grantees for their purpose, nobody else."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from medledger.flows import AccessDeniedError
from medledger.flows.consent import grant, revoke
from medledger.flows.records import fetch, publish
from medledger.scopes import Category, Permission, Purpose, mask

from .conftest import LABS, TREATMENT, People, enrol, grant_read, make_people, sha256_of, write_source

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]


def test_patient_decrypts_every_record_of_theirs_whoever_wrote_it_and_whatever_the_epoch(
    world, kubo, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]

    people = enrol(make_people(world, kubo, tmp_path), keyring=False)
    published = []

    def write_and_publish(author, seed: int) -> None:  # type: ignore[no-untyped-def]
        source = tmp_path / f"src-{seed}.json"
        expected = write_source(source, 300 + seed, seed=seed)
        published.append((publish(author, people.patient.address, LABS, source).digest, expected))

    write_and_publish(people.lab, 1)  # no keyring yet: sealed to the patient only
    grant_read(people, people.clinic)  # creates the labs keyring (epoch 1)
    write_and_publish(people.lab, 2)
    revoke(people.patient, people.clinic.address)  # epoch 2
    write_and_publish(people.lab, 3)
    write_and_publish(people.patient, 4)  # the patient writing their own record

    for index, (digest, expected) in enumerate(published):
        out = fetch(people.patient, people.patient.address, digest, tmp_path / "out" / f"{index}.bin")
        assert sha256_of(out.path) == expected


def test_read_grantee_reads_a_record_for_the_granted_purpose(people: People, tmp_path: Path) -> None:
    source = tmp_path / "obs.json"
    expected = write_source(source, 2048, seed=7)
    record = publish(people.lab, people.patient.address, LABS, source)
    grant_read(people, people.clinic)

    out = fetch(people.clinic, people.patient.address, record.digest, tmp_path / "clinic.json", purpose=Purpose.TREAT)

    assert sha256_of(out.path) == expected


def test_write_only_grantee_publishes_but_may_not_fetch(people: People, tmp_path: Path) -> None:
    source = tmp_path / "obs.json"
    write_source(source, 2048, seed=8)
    record = publish(people.lab, people.patient.address, LABS, source)

    assert people.patient.ledger.records.get(people.patient.address, record.digest).author == people.lab.address
    with pytest.raises(AccessDeniedError):
        fetch(people.lab, people.patient.address, record.digest, tmp_path / "lab.json")
    assert not (tmp_path / "lab.json").exists()


def test_stranger_may_not_fetch(people: People, tmp_path: Path) -> None:
    source = tmp_path / "obs.json"
    write_source(source, 2048, seed=9)
    record = publish(people.lab, people.patient.address, LABS, source)

    with pytest.raises(AccessDeniedError):
        fetch(people.stranger, people.patient.address, record.digest, tmp_path / "stranger.json")


def test_stranger_may_not_publish(people: People, tmp_path: Path) -> None:
    source = tmp_path / "obs.json"
    write_source(source, 2048, seed=10)

    with pytest.raises(AccessDeniedError):
        publish(people.stranger, people.patient.address, LABS, source)


def test_read_grantee_may_not_fetch_for_a_purpose_it_was_not_granted(people: People, tmp_path: Path) -> None:
    source = tmp_path / "obs.json"
    write_source(source, 2048, seed=11)
    record = publish(people.lab, people.patient.address, LABS, source)
    grant_read(people, people.clinic)  # TREAT only

    with pytest.raises(AccessDeniedError):
        fetch(people.clinic, people.patient.address, record.digest, tmp_path / "clinic.json", purpose=Purpose.HRESCH)


def test_read_grantee_may_not_fetch_a_category_it_was_not_granted(people: People, tmp_path: Path) -> None:
    setup = people.patient
    grant(
        setup,
        people.lab.address,
        categories=mask([Category.IMAGING]),
        purposes=TREATMENT,
        permissions=Permission.WRITE,
        expiry=timedelta(days=30),
    )
    source = tmp_path / "scan.bin"
    write_source(source, 4096, seed=12)
    record = publish(people.lab, people.patient.address, Category.IMAGING, source)
    grant_read(people, people.clinic)  # labs only

    with pytest.raises(AccessDeniedError):
        fetch(people.clinic, people.patient.address, record.digest, tmp_path / "clinic.bin")
