"""`medledger account new|import|list`: encrypted keystore v3 files under <home>/keystores."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from medledger.cli.context import PASSWORD_ENV, AppContext, guarded, pass_app

if TYPE_CHECKING:  # the chain layer is imported when a command runs, not for --help
    from medledger.chain.accounts import Kdf


@click.group("account")
def command() -> None:
    """Create, import and list accounts (encrypted keystore v3 files)."""


def _password(confirm: bool) -> str:
    password = os.environ.get(PASSWORD_ENV)
    if password is not None:
        return password
    if not sys.stdin.isatty():
        raise click.UsageError(f"set {PASSWORD_ENV} or run interactively to choose a password")
    return click.prompt("Keystore password", hide_input=True, confirmation_prompt=confirm)


@command.command("new")
@click.option("--kdf", type=click.Choice(["scrypt", "pbkdf2"]), default="scrypt", show_default=True)
@pass_app
@guarded
def new(app: AppContext, kdf: Kdf) -> None:
    """Create an account; the key is written encrypted and never shown."""
    from medledger.chain.accounts import new_keystore

    directory = app.settings.home / "keystores"
    password = _password(confirm=True)
    # Name the file after the address, which we only learn after creating the key.
    tmp_path = directory / f".new-{os.getpid()}.json"
    signer = new_keystore(tmp_path, password, kdf=kdf)
    path = directory / f"{signer.address}.json"
    os.replace(tmp_path, path)
    app.output(
        {"address": signer.address, "keystore": str(path)},
        f"created account {signer.address}\nkeystore: {path}\nback up this file and its password: "
        "they are the only way to your records",
    )


@command.command("import")
@click.option(
    "--private-key-env",
    default="MEDLEDGER_IMPORT_KEY",
    show_default=True,
    help="Environment variable holding the hex private key (otherwise prompted, hidden).",
)
@click.option("--kdf", type=click.Choice(["scrypt", "pbkdf2"]), default="scrypt", show_default=True)
@pass_app
@guarded
def import_(app: AppContext, private_key_env: str, kdf: Kdf) -> None:
    """Import a raw private key into an encrypted keystore."""
    from eth_account import Account

    from medledger.chain.accounts import Signer
    from medledger.chain.errors import AccountError

    raw = os.environ.get(private_key_env)
    if raw is None:
        if not sys.stdin.isatty():
            raise click.UsageError(f"set {private_key_env} or run interactively to paste the key")
        raw = click.prompt("Private key (hex)", hide_input=True)
    signer = Signer.from_private_key(raw.strip())
    path = app.settings.home / "keystores" / f"{signer.address}.json"
    if path.exists():
        raise AccountError(f"account {signer.address} is already in {path}")
    password = _password(confirm=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    keystore = Account.encrypt(signer.private_key_bytes(), password, kdf=kdf)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        import json

        json.dump(keystore, handle)
    app.output({"address": signer.address, "keystore": str(path)}, f"imported {signer.address} into {path}")


@command.command("list")
@pass_app
@guarded
def list_(app: AppContext) -> None:
    """List the accounts in <home>/keystores."""
    from medledger.chain.accounts import keystore_address

    directory = app.settings.home / "keystores"
    rows = (
        [{"address": keystore_address(path), "keystore": str(path)} for path in sorted(directory.glob("*.json"))]
        if directory.exists()
        else []
    )
    app.output(rows, "\n".join(f"{row['address']}  {row['keystore']}" for row in rows) or "no accounts yet")
