"""`medledger record import`: a directory or an NDJSON file of FHIR resources, in batches, with
one-line refusals for bad input (nothing journaled or sent), resume and pending lists."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import CLINIC, PATIENT, Cli, address, assert_clear_failure


def _observation(index: int) -> dict:
    return {
        "resourceType": "Observation",
        "id": f"hr-{index}",
        "status": "final",
        "code": {"text": "heart rate"},
        "valueQuantity": {"value": 60 + index, "unit": "/min"},
    }


def _ndjson(path: Path, count: int) -> Path:
    path.write_text("".join(json.dumps(_observation(i)) + "\n" for i in range(count)))
    return path


def _import(cli: Cli, source: Path, *extra: object):  # type: ignore[no-untyped-def]
    return cli.invoke(
        "record", "import", source, "--patient", address(PATIENT), "--category", "labs", *extra, account=PATIENT
    )


def test_an_ndjson_file_becomes_one_record_per_line_in_batches(world: Cli, tmp_path: Path) -> None:
    source = _ndjson(tmp_path / "vitals.ndjson", 5)

    result = _import(world, source, "--batch-size", "2", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["records"] == 5 and [len(b["cids"]) for b in report["batches"]] == [2, 2, 1]
    listed = world.json("record", "list", "--patient", address(PATIENT))
    assert {row["cid"] for row in listed} == {cid for b in report["batches"] for cid in b["cids"]}  # type: ignore[union-attr]
    fetched = tmp_path / "third.json"
    world.ok(
        "record",
        "fetch",
        report["batches"][1]["cids"][0],
        "--patient",
        address(PATIENT),
        "--out",
        fetched,
        account=PATIENT,
    )
    assert json.loads(fetched.read_text()) == _observation(2)


def test_a_directory_imports_each_visible_file(world: Cli, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    for index in range(3):
        (archive / f"{index}.json").write_text(json.dumps(_observation(index)))
    (archive / ".DS_Store").write_text("not a record")

    result = _import(world, archive)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("imported 3 records in 1 batches")


def test_a_bad_ndjson_line_is_named_and_nothing_is_sent(world: Cli, tmp_path: Path) -> None:
    source = tmp_path / "bad.ndjson"
    source.write_text(json.dumps(_observation(0)) + "\n" + '{"resourceType": "Observation", "status": "sideways"}\n')
    nonces = world.nonces()

    message = assert_clear_failure(_import(world, source), 2)

    assert "line 2 of" in message
    assert world.nonces() == nonces
    assert not (world.home / "journal" / "batches").exists()


def test_a_file_that_is_not_ndjson_is_refused_in_one_line(world: Cli, tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("hello")

    message = assert_clear_failure(_import(world, source), 2)

    assert "not a directory or an NDJSON file" in message


def test_resume_of_an_unknown_batch_says_so(world: Cli) -> None:
    message = assert_clear_failure(world.invoke("record", "import", "--resume", "batch-nope", account=PATIENT), 1)

    assert "no batch journal entry batch-nope" in message


def test_pending_lists_nothing_after_a_clean_import(world: Cli, tmp_path: Path) -> None:
    assert _import(world, _ndjson(tmp_path / "v.ndjson", 2)).exit_code == 0

    assert world.json("record", "import", "--pending", account=PATIENT) == []


def test_a_grantee_reads_every_current_record_with_fetch_all(world: Cli, tmp_path: Path) -> None:
    assert _import(world, _ndjson(tmp_path / "v.ndjson", 3)).exit_code == 0
    world.grant(address(CLINIC))

    report = world.json(
        "record", "fetch-all", "--patient", address(PATIENT), "--out-dir", tmp_path / "read", account=CLINIC
    )

    assert report["records"] == 3  # type: ignore[index]
    contents = sorted(json.loads(Path(f["path"]).read_text())["id"] for f in report["files"])  # type: ignore[index]
    assert contents == ["hr-0", "hr-1", "hr-2"]
    assert len({f["accessTx"] for f in report["files"]}) == 1  # type: ignore[index]


def test_fetch_all_without_consent_reads_and_logs_nothing(world: Cli, tmp_path: Path) -> None:
    assert _import(world, _ndjson(tmp_path / "v.ndjson", 2)).exit_code == 0
    nonces = world.nonces()

    result = world.invoke(
        "record", "fetch-all", "--patient", address(PATIENT), "--out-dir", tmp_path / "r", account=CLINIC
    )

    assert "may not read" in assert_clear_failure(result, 3)
    assert world.nonces() == nonces
