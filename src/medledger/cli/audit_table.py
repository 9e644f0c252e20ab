"""The audit tables as a person reads them: sized to the terminal, dates in UTC
(`2026-12-03 09:41`), categories and purposes by name, addresses and digests abbreviated
(`0x1234…abcd`) unless the terminal is wide enough for them whole. `--json` keeps raw values."""

from __future__ import annotations

import io
import re
import shutil
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from medledger.scopes import PURPOSE_ALIASES

WIDE = 160  # from this width on, addresses are shown whole
TABLE = 120  # from this width on, a table; below it, one block of lines per entry
TIME_KEYS = {"expiry", "until", "activates_at", "timestamp"}
_PURPOSE_NAMES = {purpose.name: alias for alias, purpose in PURPOSE_ALIASES.items()}
_HEX = re.compile(r"^0x[0-9a-fA-F]{40,}$")


def terminal_width() -> int:
    """The terminal's width (COLUMNS wins, as for every tool), 80 when unknown."""
    return shutil.get_terminal_size((80, 24)).columns


def date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d %H:%M")


def abbreviated(value: str, *, whole: bool) -> str:
    """`0x1234…abcd` for an address or digest, `bafk…wxyz` for a CID; as is when `whole`."""
    if whole:
        return value
    if _HEX.match(value):
        return f"{value[:6]}…{value[-4:]}"
    if value.startswith(("bafy", "bafk")) and len(value) > 20:
        return f"{value[:8]}…{value[-4:]}"
    return value


def purpose_name(code: str) -> str:
    """`treatment` for TREAT; an unknown code as it is."""
    return _PURPOSE_NAMES.get(code, code)


def readable(key: str, value: Any, *, whole: bool) -> str:
    if key in TIME_KEYS and isinstance(value, int) and value > 0:
        return date(value)
    if key in ("purpose", "purposes"):
        codes = value if isinstance(value, list) else [value]
        return ",".join(purpose_name(str(code)) for code in codes)
    if isinstance(value, list):
        return ",".join(readable(key, item, whole=whole) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return abbreviated(value, whole=whole)
    return str(value)


def details(row: Mapping[str, Any], *, whole: bool) -> str:
    """`grantee=0x90F7…b906 categories=labs purposes=treatment read=yes expiry=2027-01-02 09:41`."""
    shown = {k: v for k, v in row.items() if v not in (None, [], False) or k in ("read", "write")}
    if "read" in shown or "write" in shown:  # one word for the permissions
        access = [name for name in ("read", "write") if shown.pop(name, False)]
        shown["access"] = "+".join(access) or "none"
    return " ".join(f"{key}={readable(key, value, whole=whole)}" for key, value in shown.items())


def _table(title: str, columns: Sequence[tuple[str, dict[str, Any]]]) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, expand=False, title_justify="left")
    for name, options in columns:
        table.add_column(name, **options)
    return table


def history_table(patient: str, rows: Sequence[Mapping[str, Any]], width: int) -> str:
    whole = width >= WIDE
    if width < TABLE:
        return _stacked(
            f"history of {patient} (times in UTC)",
            (
                (
                    f"{date(int(row['timestamp']))}  {row['event']}  by {abbreviated(str(row['actor']), whole=whole)}",
                    details(row["details"], whole=whole),
                )
                for row in rows
            ),
            width,
        )
    table = _table(
        f"history of {patient}",
        [
            ("time (UTC)", {"no_wrap": True}),
            ("block", {"no_wrap": True, "justify": "right"}),
            ("event", {"no_wrap": True}),
            ("actor", {"no_wrap": True}),
            ("details", {"overflow": "fold", "ratio": 1, "min_width": 20}),
        ],
    )
    for row in rows:
        table.add_row(
            date(int(row["timestamp"])),
            str(row["block"]),
            str(row["event"]),
            abbreviated(str(row["actor"]), whole=whole),
            details(row["details"], whole=whole),
        )
    return _render(table, width)


def disclosures_table(patient: str, rows: Sequence[Mapping[str, Any]], width: int) -> str:
    whole = width >= WIDE

    def record(row: Mapping[str, Any]) -> str:
        return readable("record", row.get("cid") or row.get("digest") or row.get("categories") or "", whole=whole)

    if width < TABLE:
        return _stacked(
            f"disclosures of {patient} (times in UTC)",
            (
                (
                    f"{date(int(row['timestamp']))}  {row['kind']}"
                    f"  to {abbreviated(str(row['recipient']), whole=whole)}"
                    f"  for {purpose_name(str(row['purpose']))}",
                    f"record={record(row)}",
                )
                for row in rows
            ),
            width,
        )
    table = _table(
        f"disclosures of {patient}",
        [
            ("time (UTC)", {"no_wrap": True}),
            ("kind", {"no_wrap": True}),
            ("recipient", {"no_wrap": True}),
            ("purpose", {"no_wrap": True}),
            ("record", {"overflow": "fold", "ratio": 1, "min_width": 20}),
        ],
    )
    for row in rows:
        table.add_row(
            date(int(row["timestamp"])),
            str(row["kind"]),
            abbreviated(str(row["recipient"]), whole=whole),
            purpose_name(str(row["purpose"])),
            record(row),
        )
    return _render(table, width)


def _stacked(title: str, entries: Iterable[tuple[str, str]], width: int) -> str:
    """One entry per block: a heading line, then its details indented, wrapped between
    `key=value` pairs (a pair longer than the line is folded)."""
    lines = textwrap.wrap(title, width, subsequent_indent="    ")
    for heading, rest in entries:
        lines += textwrap.wrap(heading, width, subsequent_indent="    ", break_on_hyphens=False)
        if rest:
            lines += textwrap.wrap(rest, width, initial_indent="  ", subsequent_indent="  ", break_on_hyphens=False)
    return "\n".join(lines)


def _render(table: Table, width: int) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=width, highlight=False, color_system=None, soft_wrap=False).print(table)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())
