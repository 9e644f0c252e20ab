"""Every read through `fetch` is logged on chain (AccessLogged: who, which record, why); only the
patient (or the record's author) may opt out, since everyone else needs the logged access to get
a key from the services. A reader without access is refused before anything is logged."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from medledger.flows import AccessDeniedError
from medledger.flows.consent import grant
from medledger.flows.records import PublishResult, fetch, publish
from medledger.scopes import Permission, Purpose, mask

from .conftest import LABS, LABS_MASK, People, grant_read, write_source

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]


@pytest.fixture
def record(people: People, tmp_path: Path) -> PublishResult:
    source = tmp_path / "record.json"
    write_source(source, 2000, seed=11)
    return publish(people.lab, people.patient.address, LABS, source)


def _access_logs(people: People, record: PublishResult) -> list:
    return people.patient.ledger.events(
        "AccessLogged", from_block=people.patient.from_block, patient=people.patient.address, digest=record.digest
    )


def test_fetch_logs_the_access_on_chain_with_reader_and_purpose(
    people: People, record: PublishResult, tmp_path: Path
) -> None:
    grant_read(people, people.clinic)

    fetch(people.clinic, people.patient.address, record.digest, tmp_path / "out.json")

    [logged] = _access_logs(people, record)
    assert logged.args.accessor == people.clinic.address
    assert logged.args.purpose == Purpose.TREAT


def test_fetch_logs_the_purpose_the_reader_gave(people: People, record: PublishResult, tmp_path: Path) -> None:
    grant(
        people.patient,
        people.researcher.address,
        categories=LABS_MASK,
        purposes=mask([Purpose.HRESCH]),
        permissions=Permission.READ,
        expiry=timedelta(days=30),
    )

    fetch(people.researcher, people.patient.address, record.digest, tmp_path / "out.json", purpose=Purpose.HRESCH)

    [logged] = _access_logs(people, record)
    assert (logged.args.accessor, logged.args.purpose) == (people.researcher.address, Purpose.HRESCH)


def test_the_patient_may_read_its_own_record_without_logging(
    people: People, record: PublishResult, tmp_path: Path
) -> None:
    fetch(people.patient, people.patient.address, record.digest, tmp_path / "out.json", log_access=False)

    assert (tmp_path / "out.json").exists()
    assert _access_logs(people, record) == []


def test_a_grantee_may_not_read_without_logging_and_nothing_is_fetched_or_logged(
    people: People, record: PublishResult, tmp_path: Path
) -> None:
    grant_read(people, people.clinic)

    with pytest.raises(AccessDeniedError, match="logged"):
        fetch(people.clinic, people.patient.address, record.digest, tmp_path / "out.json", log_access=False)

    assert not (tmp_path / "out.json").exists()
    assert _access_logs(people, record) == []


def test_each_fetch_is_logged_separately(people: People, record: PublishResult, tmp_path: Path) -> None:
    grant_read(people, people.clinic)

    fetch(people.clinic, people.patient.address, record.digest, tmp_path / "first.json")
    fetch(people.clinic, people.patient.address, record.digest, tmp_path / "second.json")

    assert len(_access_logs(people, record)) == 2


def test_patient_reading_its_own_record_is_logged_too(people: People, record: PublishResult, tmp_path: Path) -> None:
    fetch(people.patient, people.patient.address, record.digest, tmp_path / "out.json")

    [logged] = _access_logs(people, record)
    assert logged.args.accessor == people.patient.address


def test_fetch_without_access_is_refused_and_logs_nothing(
    people: People, record: PublishResult, tmp_path: Path
) -> None:
    with pytest.raises(AccessDeniedError):
        fetch(people.stranger, people.patient.address, record.digest, tmp_path / "refused.json")

    assert _access_logs(people, record) == []
    assert not (tmp_path / "refused.json").exists()


def test_fetch_for_a_purpose_outside_the_grant_is_refused_and_logs_nothing(
    people: People, record: PublishResult, tmp_path: Path
) -> None:
    grant_read(people, people.clinic)  # TREAT only

    with pytest.raises(AccessDeniedError):
        fetch(people.clinic, people.patient.address, record.digest, tmp_path / "refused.json", purpose=Purpose.HPAYMT)

    assert _access_logs(people, record) == []
