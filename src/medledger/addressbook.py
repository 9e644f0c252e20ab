"""Names for accounts, kept on this machine only.

The chain knows providers by address, kind and status, never by name (a name on chain would be a
public, unverifiable claim). People read names, so each user keeps an address book of their own,
a TOML file (default `<home>/names.toml`):

    [names]
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC" = "Lakeside Clinic"

A name is the user's own label: the portal shows it beside the address, never instead of it
when something is signed.
"""

from __future__ import annotations

import json
import os
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from eth_utils import is_address, to_checksum_address

from medledger.errors import MedLedgerError

MAX_NAME = 60


class AddressBookError(MedLedgerError, ValueError):
    """An unreadable address book, or a name or address it cannot hold."""


def short(address: str) -> str:
    """`0x3C44…93BC`."""
    return f"{address[:6]}…{address[-4:]}"


def checked_name(name: str) -> str:
    """A name of 1..60 printable characters, trimmed."""
    text = " ".join(name.split())
    if not text:
        raise AddressBookError("a name cannot be empty")
    if len(text) > MAX_NAME:
        raise AddressBookError(f"a name is at most {MAX_NAME} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise AddressBookError("a name cannot hold control characters")
    return text


@dataclass
class AddressBook:
    path: Path | None = None
    names: dict[str, str] = field(default_factory=dict)  # checksum address -> name

    @classmethod
    def load(cls, path: Path) -> AddressBook:
        """The book at `path` (empty when the file does not exist yet)."""
        if not path.exists():
            return cls(path)
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise AddressBookError(f"address book {path} is not readable TOML: {exc}") from None
        entries = data.get("names", {})
        if not isinstance(entries, dict):
            raise AddressBookError(f"address book {path}: [names] must be a table of address = name")
        names: dict[str, str] = {}
        for address, name in entries.items():
            if not is_address(address) or not isinstance(name, str):
                raise AddressBookError(f"address book {path}: {address!r} = {name!r} is not an address and a name")
            names[to_checksum_address(address)] = checked_name(name)
        return cls(path, names)

    def name_of(self, address: str) -> str | None:
        return self.names.get(to_checksum_address(address)) if is_address(address) else None

    def label(self, address: str) -> str:
        """The name when there is one, else the shortened address."""
        return self.name_of(address) or short(address)

    def set(self, address: str, name: str) -> None:
        """Name `address` (or rename it) and write the book (atomically: a crash leaves the old one)."""
        if not is_address(address):
            raise AddressBookError(f"{address!r} is not an Ethereum address")
        self.names[to_checksum_address(address)] = checked_name(name)
        self._write()

    def remove(self, address: str) -> None:
        if is_address(address):
            self.names.pop(to_checksum_address(address), None)
            self._write()

    def _write(self) -> None:
        if self.path is None:
            return
        lines = ["# Names for accounts, on this machine only (medledger).", "[names]"]
        lines += [f"{json.dumps(a)} = {json.dumps(n, ensure_ascii=False)}" for a, n in sorted(self.names.items())]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        temporary.write_text("\n".join(lines) + "\n")
        os.replace(temporary, self.path)


__all__ = ["AddressBook", "AddressBookError", "checked_name", "short"]
