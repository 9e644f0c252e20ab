"""`--out` on every command that writes a file: never over an input file (same path, a symlink
or a hard link to it, even with --force), never over an existing file without --force, never
into a missing directory without --parents; one line, exit 2, checked before anything is signed,
sent or logged, and nothing left behind when refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
import pytest

from medledger.cli import main
from medledger.cli.outfile import check_out, write_out
from medledger.cli.usage import command_tree

from .conftest import CLINIC, PATIENT, Cli, address, assert_clear_failure

BAD_INPUT = 2
OUT_COMMANDS = [
    " ".join(path)
    for path, command in command_tree(main)
    if any(isinstance(p, click.Option) and "--out" in p.opts for p in command.params)
]


def test_every_command_with_out_also_takes_force_and_parents() -> None:
    assert {"record fetch", "consent sign", "export fhir"} <= set(OUT_COMMANDS)
    for path, command in command_tree(main):
        names = {opt for p in command.params for opt in p.opts}
        if "--out" in names:
            assert {"--force", "--parents"} <= names, " ".join(path)


def test_out_may_not_be_the_input_file_even_with_force(tmp_path: Path) -> None:
    source = tmp_path / "input.json"
    source.write_text("{}")
    with pytest.raises(click.UsageError, match="is the input file"):
        check_out(source, force=True, parents=False, inputs=[source])


def test_out_may_not_reach_the_input_file_through_a_symlink_or_another_spelling(tmp_path: Path) -> None:
    source = tmp_path / "input.json"
    source.write_text("{}")
    link = tmp_path / "link.json"
    link.symlink_to(source)
    (tmp_path / "sub").mkdir()
    for spelling in (link, tmp_path / "sub" / ".." / "input.json"):
        with pytest.raises(click.UsageError, match="is the input file"):
            check_out(spelling, force=True, parents=False, inputs=[source])


def test_out_may_not_be_a_hard_link_to_the_input_file(tmp_path: Path) -> None:
    source = tmp_path / "input.json"
    source.write_text("{}")
    os.link(source, tmp_path / "same-inode.json")
    with pytest.raises(click.UsageError, match="is the input file"):
        check_out(tmp_path / "same-inode.json", force=True, parents=False, inputs=[source])


def test_an_existing_out_needs_force(tmp_path: Path) -> None:
    existing = tmp_path / "existing.json"
    existing.write_text("keep me")
    with pytest.raises(click.UsageError, match="already exists: pass --force"):
        check_out(existing, force=False, parents=False)
    assert check_out(existing, force=True, parents=False) == existing


def test_a_missing_directory_needs_parents_and_is_created_with_it(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "out.json"
    with pytest.raises(click.UsageError, match="does not exist \\(pass --parents"):
        check_out(out, force=False, parents=False)
    assert not (tmp_path / "a").exists()
    check_out(out, force=False, parents=True)
    assert out.parent.is_dir() and not out.exists()


def test_a_directory_is_no_out_file(tmp_path: Path) -> None:
    with pytest.raises(click.UsageError, match="is a directory"):
        check_out(tmp_path, force=True, parents=True)


def test_write_out_replaces_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    out.write_text("old")
    write_out(out, "new")
    assert out.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


# -- through the commands --------------------------------------------------------------------


def _sign(world: Cli, out: Path, *extra: str, account: int | None = PATIENT):  # type: ignore[no-untyped-def]
    args = ["consent", "sign", address(CLINIC), "--categories", "labs", "--purpose", "treatment"]
    return world.invoke(*args, "--expires", "30d", "--out", out, *extra, account=account)


@pytest.mark.anvil
@pytest.mark.ipfs
def test_consent_sign_refuses_an_existing_out_and_leaves_it_alone(world: Cli, tmp_path: Path) -> None:
    out = tmp_path / "grant.json"
    out.write_text("keep me")
    line = assert_clear_failure(_sign(world, out), BAD_INPUT)
    assert (
        line == f"error: --out {out} already exists: pass --force to overwrite it (see 'medledger consent sign --help')"
    )
    assert out.read_text() == "keep me"


@pytest.mark.anvil
@pytest.mark.ipfs
def test_consent_sign_overwrites_with_force(world: Cli, tmp_path: Path) -> None:
    out = tmp_path / "grant.json"
    out.write_text("old")
    world.ok(*_sign_args(out), "--force", account=PATIENT)
    assert json.loads(out.read_text())["signature"].startswith("0x")


def _sign_args(out: Path) -> list[object]:
    return [
        "consent", "sign", address(CLINIC), "--categories", "labs", "--purpose", "treatment",
        "--expires", "30d", "--out", out,
    ]  # fmt: skip


@pytest.mark.anvil
@pytest.mark.ipfs
def test_consent_sign_needs_parents_for_a_missing_directory(world: Cli, tmp_path: Path) -> None:
    out = tmp_path / "signed" / "grant.json"
    line = assert_clear_failure(_sign(world, out), BAD_INPUT)
    assert "pass --parents" in line and not out.parent.exists()
    world.ok(*_sign_args(out), "--parents", account=PATIENT)
    assert out.is_file()


@pytest.mark.anvil
@pytest.mark.ipfs
def test_consent_sign_never_overwrites_the_keystore_it_signs_with(world: Cli) -> None:
    password = {"MEDLEDGER_PASSWORD": "secret"}
    created = world.json("account", "new", "--kdf", "pbkdf2", connect=False, env=password)
    assert isinstance(created, dict)
    keystore = Path(created["keystore"])
    before = keystore.read_bytes()
    result = world.invoke(*_sign_args(keystore), "--force", "--keystore", keystore, account=None, env=password)
    assert "is the input file" in assert_clear_failure(result, BAD_INPUT)
    assert keystore.read_bytes() == before


@pytest.mark.anvil
@pytest.mark.ipfs
def test_record_fetch_refuses_an_existing_out_before_logging_a_read(world: Cli, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    out.write_text("keep me")
    digest = "0x" + "11" * 32
    before = world.nonces()
    result = world.invoke("record", "fetch", digest, "--patient", address(PATIENT), "--out", out, account=CLINIC)
    assert "already exists: pass --force" in assert_clear_failure(result, BAD_INPUT)
    assert out.read_text() == "keep me" and world.nonces() == before
