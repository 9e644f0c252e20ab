"""Click's own parse errors (a bad option value, a missing argument, an unknown option or
command) as one line, `error: ... (see 'medledger X --help')`, exit 2, instead of a usage block;
and checks of addresses, durations and record references at parse time, before a command imports
web3 or connects to anything (`address_value`, `expiry_value`, `record_value`), with the same
one-line errors the commands' own later checks give."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
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


_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")
Callback = Callable[[click.Context, click.Parameter, Any], Any]


def _eip55_ok(address: str) -> bool:
    from Crypto.Hash import keccak  # pycryptodome, ~10x lighter to import than eth_utils

    body = address[2:]
    digest = keccak.new(digest_bits=256, data=body.lower().encode()).hexdigest()
    return all(
        char.isdigit() or char == (char.upper() if int(nibble, 16) >= 8 else char.lower())
        for char, nibble in zip(body, digest, strict=False)
    )


def check_address(value: str, what: str) -> None:
    """The same refusals as medledger.ledger.base.checked_address, without importing web3: not
    0x + 40 hex digits, a mixed-case address with a bad EIP-55 checksum, the zero address."""
    if not _ADDRESS.fullmatch(value):
        raise OneLineUsageError(f"{what} {value!r} is not an Ethereum address")
    body = value[2:]
    if body != body.lower() and body != body.upper() and not _eip55_ok(value):
        raise OneLineUsageError(f"{what} {value} has a bad EIP-55 checksum; check for a typo")
    if int(body, 16) == 0:
        raise OneLineUsageError(f"{what} is the zero address")


def address_value(what: str) -> Callback:
    """A click callback for an address argument or option (None passes: an optional one)."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        for each in value if isinstance(value, tuple) else (value,):
            if each is not None:
                check_address(each, what)
        return value

    return callback


def expiry_value(option: str) -> Callback:
    """A click callback: the text must read as a duration or a date (medledger.cli.units); whether
    it lies in the future is judged later, by the chain's clock."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None:
            from medledger.cli.units import parse_expiry

            try:
                parse_expiry(value, int(time.time()), option)
            except click.BadParameter as exc:
                raise OneLineUsageError(exc.format_message()) from None
        return value

    return callback


def record_value(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A click callback: a record reference, a CID (bafy…/bafk…) or a 0x sha2-256 digest."""
    if value is None:
        return value
    text = str(value).strip()
    if text.startswith("0x"):
        if len(text) != 66 or not re.fullmatch(r"[0-9a-fA-F]{64}", text[2:]):
            raise OneLineUsageError(f"{value} is not a 32-byte hex digest")
        return value
    # The shape of a CID (the command parses it fully): CIDv1 in base32, or a CIDv0.
    if not (re.fullmatch(r"b[a-z2-7]{50,}", text) or re.fullmatch(r"Qm[1-9A-HJ-NP-Za-km-z]{44}", text)):
        raise OneLineUsageError(f"{value} is neither a CID (bafy…, bafk…) nor a 0x digest")
    return value


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
