"""`--help` works for every command and subcommand."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from medledger.cli import main


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, command in sorted(group.commands.items()):
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths.extend(_command_paths(command, (*prefix, name)))
    return paths


COMMAND_PATHS = [(), *_command_paths(main)]


def test_every_command_is_reachable_for_help() -> None:
    names = {path[0] for path in COMMAND_PATHS if path}
    assert {"account", "deploy", "provider", "keys", "consent", "record", "audit", "devnet", "demo"} <= names


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda path: " ".join(path) or "medledger")
def test_help_prints_usage_and_exits_0(path: tuple[str, ...], tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--home", str(tmp_path), *path, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: ")
    assert " ".join(path) in result.output.splitlines()[0]
    assert "Traceback" not in result.output
