"""Reading many records at once: the accesses are logged in one transaction, each record's key
is still released only for its own logged access, and anything that would refuse one record
stops the batch before any access is logged."""

from __future__ import annotations

from pathlib import Path

import pytest

from medledger.flows import AccessDeniedError
from medledger.flows.batch_read import read_records
from medledger.flows.ingest import Source, import_records
from medledger.flows.records import publish
from medledger.scopes import Category

from .conftest import LABS, People, grant_read, sha256_of, write_source

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]


def _labs(people: People, tmp_path: Path, count: int) -> tuple[list[bytes], list[Path]]:
    paths = []
    for index in range(count):
        path = tmp_path / "sources" / f"{index}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_source(path, 900 + index, seed=index)
        paths.append(path)
    [batch] = import_records(people.lab, people.patient.address, LABS, [Source(str(p)) for p in paths])
    from medledger.storage import Cid

    return [Cid.parse(cid).digest for cid in batch.cids], paths


def _access_logs(people: People) -> list:
    return people.clinic.ledger.events(
        "AccessLogged", from_block=people.clinic.from_block, accessor=people.clinic.address
    )


def test_a_grantee_reads_many_records_with_one_logged_transaction(people: People, tmp_path: Path) -> None:
    digests, paths = _labs(people, tmp_path, 5)
    grant_read(people, people.clinic)

    reads = read_records(people.clinic, people.patient.address, digests, tmp_path / "out")

    assert [sha256_of(read.path) for read in reads] == [sha256_of(path) for path in paths]
    assert len({read.access_tx for read in reads}) == 1
    logged = _access_logs(people)
    assert sorted(bytes(log.args.digest) for log in logged) == sorted(digests)


def test_a_record_of_a_category_not_granted_stops_the_batch_before_anything_is_logged(
    people: People, tmp_path: Path
) -> None:
    digests, _ = _labs(people, tmp_path, 2)
    note = tmp_path / "note.txt"
    note.write_text("a private note")
    private = publish(people.patient, people.patient.address, int(Category.NOTES), note)
    grant_read(people, people.clinic)

    with pytest.raises(AccessDeniedError, match="nothing was read or logged"):
        read_records(people.clinic, people.patient.address, [*digests, private.digest], tmp_path / "out")

    assert _access_logs(people) == []
    assert not any((tmp_path / "out").iterdir())


def test_without_a_grant_nothing_is_read(people: People, tmp_path: Path) -> None:
    digests, _ = _labs(people, tmp_path, 2)

    with pytest.raises(AccessDeniedError):
        read_records(people.clinic, people.patient.address, digests, tmp_path / "out")
    assert _access_logs(people) == []


def test_each_chunk_is_released_against_its_own_logged_transaction(people: People, tmp_path: Path) -> None:
    digests, paths = _labs(people, tmp_path, 5)
    grant_read(people, people.clinic)

    reads = read_records(people.clinic, people.patient.address, digests, tmp_path / "out", log_batch=2, in_flight=2)

    assert [sha256_of(read.path) for read in reads] == [sha256_of(path) for path in paths]
    assert len({read.access_tx for read in reads}) == 3
    logged = {bytes(log.args.digest): "0x" + bytes(log.transactionHash).hex() for log in _access_logs(people)}
    assert [logged[digest] for digest in digests] == [read.access_tx for read in reads]
