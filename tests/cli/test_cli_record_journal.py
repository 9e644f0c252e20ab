"""`medledger record publish|amend|resume` on the publish journal's edges: an empty file is refused
before anything is stored or sent, a publish the IPFS daemon stopped says how to resume or roll
back (and resume finishes it), and a registered publish is never rolled back."""

from __future__ import annotations

import json
from pathlib import Path

from medledger.devnet.ports import free_loopback_port

from .conftest import PATIENT, Cli, address, assert_clear_failure

FAILED, BAD_INPUT, UNREACHABLE = 1, 2, 4


def _journal_files(cli: Cli) -> list[Path]:
    return sorted(cli.home.glob("accounts/*/journal/*.json"))


def _publish(cli: Cli, file: Path, *extra: str):  # type: ignore[no-untyped-def]
    return cli.invoke(
        "record", "publish", file, "--patient", address(PATIENT), "--category", "labs", *extra, account=PATIENT
    )


def test_publishing_an_empty_file_exits_2_and_stores_journals_and_sends_nothing(world: Cli, tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    nonces = world.nonces()

    line = assert_clear_failure(_publish(world, empty), BAD_INPUT)

    assert f"{empty} is empty (0 bytes): there is nothing to publish" in line
    assert _journal_files(world) == []
    assert world.nonces() == nonces


def test_amending_with_an_empty_file_exits_2_and_sends_nothing(world: Cli, tmp_path: Path, lab_result: Path) -> None:
    published = world.json(
        "record", "publish", lab_result, "--patient", address(PATIENT), "--category", "labs", account=PATIENT
    )
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    nonces = world.nonces()

    result = world.invoke("record", "amend", published["cid"], empty, "--patient", address(PATIENT), account=PATIENT)

    assert "is empty (0 bytes)" in assert_clear_failure(result, BAD_INPUT)
    assert world.nonces() == nonces


def test_a_publish_stopped_by_a_down_ipfs_daemon_says_how_to_resume_or_roll_back(world: Cli, lab_result: Path) -> None:
    dead = f"http://127.0.0.1:{free_loopback_port()}"
    stopped = world.invoke(
        "record",
        "publish",
        lab_result,
        "--patient",
        address(PATIENT),
        "--category",
        "labs",
        "--rpc-url",
        world.anvil.rpc_url,
        "--deployments",
        world.deployments,
        "--ipfs-api",
        dead,
        "--dev-account",
        PATIENT,
        connect=False,
    )

    line = assert_clear_failure(stopped, UNREACHABLE)
    [entry] = [json.loads(path.read_text()) for path in _journal_files(world)]
    assert f"`medledger record resume {entry['id']}`" in line
    assert f"`medledger record resume {entry['id']} --rollback`" in line
    assert entry["staging"] in line


def test_resume_finishes_a_publish_the_down_daemon_stopped(world: Cli, lab_result: Path) -> None:
    dead = f"http://127.0.0.1:{free_loopback_port()}"
    world.invoke(
        "record",
        "publish",
        lab_result,
        "--patient",
        address(PATIENT),
        "--category",
        "labs",
        "--rpc-url",
        world.anvil.rpc_url,
        "--deployments",
        world.deployments,
        "--ipfs-api",
        dead,
        "--dev-account",
        PATIENT,
        connect=False,
    )

    [row] = world.json("record", "resume", account=PATIENT)

    assert row["state"] == "done"
    listed = world.json("record", "list", "--patient", address(PATIENT), account=PATIENT)
    assert [r["cid"] for r in listed] == [row["cid"]]


def test_rolling_back_a_registered_publish_exits_1_saying_already_registered_use_erase(
    world: Cli, lab_result: Path
) -> None:
    published = world.json(
        "record", "publish", lab_result, "--patient", address(PATIENT), "--category", "labs", account=PATIENT
    )
    nonces = world.nonces()

    result = world.invoke("record", "resume", published["journal"], "--rollback", account=PATIENT)

    line = assert_clear_failure(result, FAILED)
    assert "already registered on chain" in line and f"use erase (`medledger record erase {published['cid']}`" in line
    assert world.nonces() == nonces
    listed = world.json("record", "list", "--patient", address(PATIENT), account=PATIENT)
    assert [(r["cid"], r["erased"]) for r in listed] == [(published["cid"], False)]
