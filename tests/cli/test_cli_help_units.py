"""Every option of every command has a help line; every option taking categories or purposes
lists them all; every option taking a quantity names its unit (seconds, blocks, gwei, a port...)
and every duration option says durations and dates are accepted."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from medledger.cli import main
from medledger.cli.usage import command_tree, vocabulary
from medledger.scopes import PURPOSE_ALIASES, Category

COMMANDS = [((), main), *command_tree(main)]
OPTIONS = [
    (" ".join(path), param)
    for path, command in COMMANDS
    for param in command.params
    if isinstance(param, click.Option) and not param.hidden
]
# Words that name a unit or the kind of a quantity, one of which each numeric option's help holds.
UNITS = ("second", "minute", "hour", "day", "block", "gwei", "wei", "port", "byte", "share", "copies", "version")
UNITS += ("index", "chain id", "record", "window", "thread", "transaction")  # counts: records, windows, threads, txs
DURATION_OPTIONS = {"--expires", "--until", "--since", "--valid-for", "--admin-delay", "--max-consent"}
DURATION_OPTIONS |= {"--max-guardian-term", "--emergency-window", "--emergency-cooldown"}


def _ids(items: list[tuple[str, click.Option]]) -> list[str]:
    return [f"{path} {param.opts[0]}".strip() for path, param in items]


def _takes(param: click.Option, names: set[str]) -> bool:
    return any(opt in names for opt in param.opts) and not param.is_flag


NUMERIC = [
    (path, param)
    for path, param in OPTIONS
    if not param.is_flag and isinstance(param.type, (click.types.IntParamType, click.types.FloatParamType))
]
VOCABULARY = [(path, param) for path, param in OPTIONS if _takes(param, set(vocabulary()))]
DURATIONS = [(path, param) for path, param in OPTIONS if _takes(param, DURATION_OPTIONS)]


def test_the_walk_finds_the_options_to_check() -> None:
    assert len(OPTIONS) > 200 and len(NUMERIC) > 10 and len(VOCABULARY) >= 6 and len(DURATIONS) >= 8


@pytest.mark.parametrize(("path", "param"), OPTIONS, ids=_ids(OPTIONS))
def test_every_option_has_a_help_line(path: str, param: click.Option) -> None:
    assert (param.help or "").strip(), f"{path} {param.opts[0]} has no help text"


@pytest.mark.parametrize(("path", "param"), VOCABULARY, ids=_ids(VOCABULARY))
def test_an_option_taking_categories_or_purposes_lists_them_all(path: str, param: click.Option) -> None:
    help_text = param.help or ""
    if any("categor" in opt for opt in param.opts):
        names = [name.lower().replace("_", "-") for name in Category.__members__]
    else:
        names = list(PURPOSE_ALIASES)
    assert [name for name in names if name not in help_text] == []


@pytest.mark.parametrize(("path", "param"), NUMERIC, ids=_ids(NUMERIC))
def test_a_numeric_option_names_its_unit(path: str, param: click.Option) -> None:
    help_text = (param.help or "").lower()
    assert any(unit in help_text for unit in UNITS), f"{path} {param.opts[0]}: {param.help!r} names no unit"


@pytest.mark.parametrize(("path", "param"), DURATIONS, ids=_ids(DURATIONS))
def test_a_duration_option_gives_examples_with_units(path: str, param: click.Option) -> None:
    help_text = param.help or ""
    assert "duration" in help_text and any(
        example in help_text for example in ("90d", "30d", "2d", "1d", "12h", "1h", "18y", "21y", "5y")
    )


def test_the_help_of_consent_grant_lists_categories_and_purposes() -> None:
    output = CliRunner().invoke(main, ["consent", "grant", "--help"], terminal_width=200).output
    assert "substance-use" in output and "public-health" in output and "patient-request" in output
