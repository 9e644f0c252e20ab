"""Settings from flags, environment variables and a config file, in that order of precedence."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import click

DEFAULT_HOME = Path(os.environ.get("MEDLEDGER_HOME", Path.home() / ".medledger"))
CONFIG_KEYS = (
    "rpc_url",
    "ipfs_api",
    "keystore",
    "deployments",
    "confirmations",
    "dev_account",
    "chain_id",
    "network",
    "account",
    "storage",  # a table: the replicated stores, r and gateways (medledger.storage.config)
)


@dataclass
class Settings:
    home: Path = DEFAULT_HOME
    config_file: Path | None = None
    json: bool = False
    values: dict[str, object] = field(default_factory=dict)  # from the config file

    def load_config(self) -> None:
        path = self.config_file or self.home / "config.toml"
        if not path.exists():
            if self.config_file is not None:
                raise click.BadParameter(f"config file {path} does not exist", param_hint="--config")
            return
        try:
            data = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, OSError) as exc:
            raise click.BadParameter(f"config file {path} is not valid TOML: {exc}", param_hint="--config") from None
        unknown = sorted(set(data) - set(CONFIG_KEYS))
        if unknown:
            raise click.BadParameter(
                f"config file {path} has unknown keys {unknown}; known: {list(CONFIG_KEYS)}", param_hint="--config"
            )
        self.values = data

    def pick(self, name: str, given: object) -> object:
        """A flag or environment value if given (click resolved those), else the config file's."""
        return given if given is not None else self.values.get(name)
