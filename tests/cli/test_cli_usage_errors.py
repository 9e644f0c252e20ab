"""Click's own parse errors (bad option value, missing argument, unknown option or command) are
one line, `error: ... (see 'medledger X --help')`, exit code 2, no usage block, on every command:
the tests walk the whole command tree."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from medledger.cli import main
from medledger.cli.usage import command_tree

from .conftest import assert_clear_failure

BAD_INPUT = 2
TREE = command_tree(main)
LEAVES = [(path, command) for path, command in TREE if not isinstance(command, click.Group)]
GROUPS = [(path, command) for path, command in TREE if isinstance(command, click.Group)]


def _bad_value(param: click.Parameter) -> str | None:
    """A value this parameter's type refuses at parse time, or None if it takes any text."""
    kind = param.type
    if isinstance(kind, click.Choice):
        return "no-such-choice"
    if isinstance(kind, (click.types.IntParamType, click.types.FloatParamType)):
        return "abc"
    return None


def _typed_options(command: click.Command) -> list[tuple[click.Option, str]]:
    options = [p for p in command.params if isinstance(p, click.Option) and not p.is_flag]
    return [(p, bad) for p in options if (bad := _bad_value(p)) is not None]


TYPED = [(path, command) for path, command in LEAVES if _typed_options(command)]
WITH_ARGUMENTS = [
    (path, command)
    for path, command in LEAVES
    if any(isinstance(p, click.Argument) and p.required for p in command.params)
]


def _ids(items: list[tuple[tuple[str, ...], click.Command]]) -> list[str]:
    return [" ".join(path) for path, _ in items]


def _run(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--home", str(tmp_path / "home"), *args], catch_exceptions=True)


def _assert_one_line_usage_error(result: Result, path: tuple[str, ...]) -> str:
    line = assert_clear_failure(result, BAD_INPUT)
    assert line.startswith("error: "), line
    assert "Usage:" not in result.output
    assert line.endswith(f"(see '{' '.join(['medledger', *path, '--help'])}')"), line
    return line


def test_the_walk_finds_every_top_level_command_and_the_cases_to_try() -> None:
    assert {path[0] for path, _ in TREE} == set(main.commands)
    assert len(LEAVES) > 30 and len(TYPED) > 10 and len(WITH_ARGUMENTS) > 10


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=_ids(LEAVES))
def test_an_unknown_option_is_one_line_with_exit_2(
    tmp_path: Path, path: tuple[str, ...], command: click.Command
) -> None:
    line = _assert_one_line_usage_error(_run(tmp_path, *path, "--no-such-option"), path)
    assert "No such option '--no-such-option'" in line


@pytest.mark.parametrize(("path", "command"), TYPED, ids=_ids(TYPED))
def test_a_value_of_the_wrong_type_is_one_line_with_exit_2(
    tmp_path: Path, path: tuple[str, ...], command: click.Command
) -> None:
    for param, bad in _typed_options(command):
        line = _assert_one_line_usage_error(_run(tmp_path, *path, param.opts[0], bad), path)
        assert param.opts[0] in line or "Missing" in line, line


@pytest.mark.parametrize(("path", "command"), WITH_ARGUMENTS, ids=_ids(WITH_ARGUMENTS))
def test_a_missing_argument_is_one_line_with_exit_2(
    tmp_path: Path, path: tuple[str, ...], command: click.Command
) -> None:
    line = _assert_one_line_usage_error(_run(tmp_path, *path), path)
    assert "Missing argument" in line


@pytest.mark.parametrize(("path", "command"), GROUPS, ids=_ids(GROUPS))
def test_an_unknown_subcommand_is_one_line_with_exit_2(
    tmp_path: Path, path: tuple[str, ...], command: click.Command
) -> None:
    line = _assert_one_line_usage_error(_run(tmp_path, *path, "no-such-command"), path)
    assert "No such command 'no-such-command'" in line


def test_an_unknown_top_level_option_is_one_line_with_exit_2(tmp_path: Path) -> None:
    _assert_one_line_usage_error(_run(tmp_path, "--no-such-option"), ())


def test_a_dev_account_out_of_range_names_the_range(tmp_path: Path) -> None:
    line = _assert_one_line_usage_error(_run(tmp_path, "consent", "list", "--dev-account", "12"), ("consent", "list"))
    assert "'--dev-account': 12 is not in the range 0<=x<=9" in line


def test_a_port_that_is_not_a_number_names_the_option(tmp_path: Path) -> None:
    line = _assert_one_line_usage_error(_run(tmp_path, "devnet", "up", "--anvil-port", "abc"), ("devnet", "up"))
    assert "'--anvil-port': 'abc'" in line


def test_a_group_without_a_subcommand_still_shows_its_help(tmp_path: Path) -> None:
    result = _run(tmp_path, "devnet")
    assert "Commands:" in result.output and "up" in result.output
