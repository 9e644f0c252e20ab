"""Who can read what: the patient always, READ grantees for their purpose, nobody else."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from medledger.flows import AccessDeniedError
from medledger.flows.consent import grant, revoke
from medledger.flows.records import fetch, publish
from medledger.scopes import Category, Permission, Purpose, mask

from .conftest import LABS, TREATMENT, People, grant_read, sha256_of, write_source

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]


def test_patient_decrypts_every_record_of_theirs_whoever_wrote_it(people: People, tmp_path: Path) -> None:
    published = []
    for seed, author in enumerate((people.lab, people.patient, people.lab)):
        source = tmp_path / f"src-{seed}.json"
        expected = write_source(source, 300 + seed, seed=seed)
        published.append((publish(author, people.patient.address, LABS, source).digest, expected))
    revoke(people.patient, people.lab.address)  # the patient's own reads never depend on a grant

    for index, (digest, expected) in enumerate(published):
        out = fetch(people.patient, people.patient.address, digest, tmp_path / "out" / f"{index}.bin")
        assert out.direct and sha256_of(out.path) == expected


def test_the_author_reads_what_it_wrote_with_its_own_key_even_without_read_consent(
    people: People, tmp_path: Path
) -> None:
    source = tmp_path / "obs.json"
    expected = write_source(source, 700, seed=4)
    record = publish(people.lab, people.patient.address, LABS, source)  # the lab holds WRITE only

    out = fetch(people.lab, people.patient.address, record.digest, tmp_path / "lab.json")

    assert out.direct and out.attempts == () and sha256_of(out.path) == expected


def test_a_grantee_reads_through_the_key_release_services(people: People, tmp_path: Path) -> None:
    source = tmp_path / "obs.json"
    expected = write_source(source, 900, seed=5)
    record = publish(people.lab, people.patient.address, LABS, source)
    grant_read(people, people.clinic)

    out = fetch(people.clinic, people.patient.address, record.digest, tmp_path / "clinic.json")

    assert not out.direct and sha256_of(out.path) == expected
    assert sum(attempt.outcome == "share" for attempt in out.attempts) >= 2  # 2 of 3 needed, all asked at once


def test_read_grantee_reads_a_record_for_the_granted_purpose(people: People, tmp_path: Path) -> None:
    source = tmp_path / "obs.json"
    expected = write_source(source, 2048, seed=7)
    record = publish(people.lab, people.patient.address, LABS, source)
    grant_read(people, people.clinic)

    out = fetch(people.clinic, people.patient.address, record.digest, tmp_path / "clinic.json", purpose=Purpose.TREAT)

    assert sha256_of(out.path) == expected


def test_write_only_grantee_may_not_fetch_a_record_someone_else_wrote(people: People, tmp_path: Path) -> None:
    source = tmp_path / "obs.json"
    write_source(source, 2048, seed=8)
    record = publish(people.patient, people.patient.address, LABS, source)

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
