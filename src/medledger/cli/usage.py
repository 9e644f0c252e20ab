"""Click's own parse errors (a bad option value, a missing argument, an unknown option or
command) as one line, `error: ... (see 'medledger X --help')`, exit 2, instead of a usage block."""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, Any

import click
from click.exceptions import NoArgsIsHelpError

from medledger.errors import MedLedgerError

PROGRAM = "medledger"


class OneLineUsageError(click.ClickException, MedLedgerError):
    """A usage error shown as a single `error:` line on stderr."""

    exit_code = 2  # as click's UsageError

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True, file=file)


def one_line(exc: click.UsageError) -> click.ClickException:
    """The same error as one line, naming the command whose --help explains the options."""
    if isinstance(exc, NoArgsIsHelpError):  # `medledger devnet` alone: the help is what was asked for
        return exc
    path = exc.ctx.command_path.split()[1:] if exc.ctx is not None else []
    message = exc.format_message().rstrip().rstrip(".")
    return OneLineUsageError(f"{message} (see '{' '.join([PROGRAM, *path, '--help'])}')")


class OneLineErrorsGroup(click.Group):
    """The `medledger` group: parse errors anywhere below it become one line (see `one_line`)."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise one_line(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # a subcommand's (or a nested group's) parse error
            raise one_line(exc) from None


def command_tree(group: click.Group, path: Sequence[str] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command below `group` with its path, groups included (for help and usage checks)."""
    found: list[tuple[tuple[str, ...], click.Command]] = []
    for name, command in sorted(group.commands.items()):
        found.append(((*path, name), command))
        if isinstance(command, click.Group):
            found += command_tree(command, (*path, name))
    return found


def vocabulary() -> dict[str, tuple[list[str], str]]:
    """For each option name that takes them: the category or purpose names, and a help sentence."""
    from medledger.scopes import PURPOSE_ALIASES, Category

    categories = [name.lower().replace("_", "-") for name in Category.__members__]
    purposes = list(PURPOSE_ALIASES)
    listed = ", ".join(f"{alias} ({purpose.name})" for alias, purpose in PURPOSE_ALIASES.items())
    return {
        "--categories": (categories, f"Categories (comma-separated): {', '.join(categories)}."),
        "--category": (categories, f"Categories: {', '.join(categories)}."),
        "--purposes": (purposes, f"Purposes (comma-separated; HL7 PurposeOfUse): {listed}."),
        "--purpose": (purposes, f"Purposes (HL7 PurposeOfUse): {listed}."),
    }


def name_the_vocabulary(command: click.Command) -> None:
    """Every option that takes categories or purposes lists them all in its help (added to the
    option's own help unless that already names every one)."""
    words = vocabulary()
    commands = [command] + [sub for _, sub in command_tree(command)] if isinstance(command, click.Group) else [command]
    for each in commands:
        for param in each.params:
            if not isinstance(param, click.Option) or param.is_flag:
                continue
            for opt in param.opts:
                if opt in words:
                    names, sentence = words[opt]
                    if not all(name in (param.help or "") for name in names):
                        param.help = f"{(param.help or '').rstrip()} {sentence}".strip()
                    break
