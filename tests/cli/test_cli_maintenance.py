"""Threshold key release from the command line: `record fetch` (a progress line per step, exit 3
when the key-release services do not release), `provider keyservices`, `record reencrypt`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import Result

from medledger.chain.accounts import anvil_account
from medledger.chain.connection import connect
from medledger.ledger import MedLedger

from .conftest import (
    ADMIN,
    CLINIC,
    PATIENT,
    REGISTRAR,
    Cli,
    KeyServices,
    address,
    assert_clear_failure,
    ledger_address,
    service_signer,
)

REFUSED, USAGE = 3, 2

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]


def _publish(cli: Cli, source: Path) -> dict:
    return cli.json("record", "publish", source, "--patient", address(PATIENT), "--category", "labs", account=PATIENT)


def _grant_clinic(cli: Cli) -> None:
    cli.grant(address(CLINIC))


def _fetch(cli: Cli, cid: str, out: Path, account: int = CLINIC) -> Result:
    return cli.invoke("record", "fetch", cid, "--patient", address(PATIENT), "--out", out, account=account)


def test_record_fetch_prints_a_line_per_step_of_a_read_through_the_services(
    world: Cli, lab_result: Path, tmp_path: Path
) -> None:
    published = _publish(world, lab_result)
    _grant_clinic(world)

    result = _fetch(world, published["cid"], tmp_path / "out.json")

    assert result.exit_code == 0, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"fetched and verified blob {published['cid']}")
    assert lines[1].startswith("access logged on chain in transaction 0x")
    assert sum("share accepted" in line for line in lines) >= 2  # all three are asked at once
    assert re.fullmatch(r"data key recovered from [23] services", lines[-2])
    assert lines[-1].startswith("decrypted ")
    assert (tmp_path / "out.json").read_bytes() == lab_result.read_bytes()


def test_record_fetch_exits_3_in_one_line_when_too_few_services_release(
    world: Cli, lab_result: Path, tmp_path: Path
) -> None:
    published = _publish(world, lab_result)
    _grant_clinic(world)
    chain = connect(world.anvil.rpc_url)
    for index in (1, 2):  # two of the three services now publish an endpoint nobody answers at
        MedLedger(chain, ledger_address(world), signer=service_signer(index)).services.set_endpoint(
            "http://127.0.0.1:9"
        )

    result = _fetch(world, published["cid"], tmp_path / "out.json")

    assert result.exit_code == REFUSED and "Traceback" not in result.output
    errors = [entry for entry in result.stderr.splitlines() if entry.startswith("error: ")]
    assert len(errors) == 1 and "only 1 of the 2 shares needed" in errors[0]
    assert sum(entry.startswith("key service") and "unreachable" in entry for entry in result.stderr.splitlines()) == 2
    assert not (tmp_path / "out.json").exists()  # stderr holds the step lines too, so not one line


def test_provider_keyservices_shows_the_current_set_and_its_members(world: Cli) -> None:
    shown = world.json("provider", "keyservices")

    assert (shown["version"], shown["threshold"], shown["members"], shown["status"]) == (1, 2, 3, "current")
    assert [s["address"] for s in shown["services"]] == [service_signer(i).address for i in (1, 2, 3)]
    assert all(s["endpoint"].startswith("http://127.0.0.1:") and len(s["publicKey"]) == 66 for s in shown["services"])
    human = world.ok("provider", "keyservices").stdout.splitlines()
    assert human[0].startswith("service set 1: 2 of 3, current")
    assert len(human) == 4


def test_provider_keyservices_shows_a_proposed_set_as_pending(world: Cli) -> None:
    chain = connect(world.anvil.rpc_url)
    admin = MedLedger(chain, ledger_address(world), signer=anvil_account(ADMIN))
    first = admin.services.service_set(1)
    admin.services.propose(list(first.members), list(first.encryption_keys), 3)

    assert world.json("provider", "keyservices", "--version", "2")["status"] == "pending"
    assert world.json("provider", "keyservices")["version"] == 1  # the current one by default


def test_provider_keyservices_for_a_version_never_proposed_exits_2(world: Cli) -> None:
    assert "no service set 5" in assert_clear_failure(world.invoke("provider", "keyservices", "--version", "5"), USAGE)


def test_record_reencrypt_of_a_record_already_under_the_current_set_is_refused(world: Cli, lab_result: Path) -> None:
    published = _publish(world, lab_result)

    result = world.invoke("record", "reencrypt", published["cid"], account=PATIENT)

    assert "already under the current key-release service set 1" in assert_clear_failure(result, REFUSED)


def test_record_reencrypt_needs_a_record_or_all(world: Cli) -> None:
    assert_clear_failure(world.invoke("record", "reencrypt", account=PATIENT), USAGE)


def test_reencrypting_someone_elses_record_is_refused(world: Cli, lab_result: Path) -> None:
    published = _publish(world, lab_result)

    assert_clear_failure(world.invoke("record", "reencrypt", published["cid"], account=CLINIC), REFUSED)


@pytest.fixture
def before_services(cli: Cli) -> Cli:
    """A deployment whose admin has proposed no key-release service set yet."""
    cli.ok("deploy", "--registrar", address(REGISTRAR), account=ADMIN)
    cli.ok("provider", "register", address(CLINIC), "--kind", "clinician", account=REGISTRAR)
    cli.ok("keys", "publish", account=CLINIC)
    cli.ok("keys", "publish", account=PATIENT)
    return cli


def test_publishing_before_any_service_set_says_who_can_read_it(before_services: Cli, lab_result: Path) -> None:
    result = before_services.ok(
        "record", "publish", lab_result, "--patient", address(PATIENT), "--category", "labs", account=PATIENT
    )

    notes = [line for line in result.stdout.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and "nobody but the patient and the author can read" in notes[0]
    assert _publish(before_services, lab_result)["serviceSet"] is None


def test_record_reencrypt_all_moves_early_records_under_the_new_set_and_the_clinic_reads_them(
    before_services: Cli, lab_result: Path, tmp_path: Path
) -> None:
    cli = before_services
    early = _publish(cli, lab_result)
    services = KeyServices(cli.anvil, ledger_address(cli), tmp_path / "services")
    try:
        moved = cli.invoke("record", "reencrypt", "--all", account=PATIENT)
        assert moved.exit_code == 0, moved.output
        [line] = moved.stderr.strip().splitlines()
        assert line.startswith(f"re-encrypted {early['digest']}") and line.endswith("under service set 1")
        listed = {row["cid"]: row for row in cli.json("record", "list", "--patient", address(PATIENT))}
        assert listed[early["cid"]]["erased"] and listed[early["cid"]]["superseded"]
        [fresh] = [cid for cid, row in listed.items() if row["supersedes"] == early["digest"]]
        _grant_clinic(cli)
        assert _fetch(cli, fresh, tmp_path / "out.json").exit_code == 0
        assert (tmp_path / "out.json").read_bytes() == lab_result.read_bytes()
    finally:
        services.stop()
    assert json.loads(cli.ok("record", "reencrypt", "--all", account=PATIENT, as_json=True).stdout) == []
