"""`medledger account new|import|list`: named, encrypted keystore v3 files under <home>/keystores.

An account's name is its file's name: `account new clinic` writes <home>/keystores/clinic.json,
and `--account clinic` signs with it. Accounts created without a name are named by address.
Foundry's (~/.foundry/keystores/NAME) and brownie's (~/.brownie/accounts/NAME.json) keystores
are the same format and are copied as they are, still encrypted with their own passwords.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from medledger.chain.units import ether
from medledger.cli.context import PASSWORD_ENV, AppContext, connection_options, guarded, pass_app

if TYPE_CHECKING:  # the chain layer is imported when a command runs, not for --help
    from medledger.chain.accounts import Kdf

FOUNDRY_DIR = "~/.foundry/keystores"
BROWNIE_DIR = "~/.brownie/accounts"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


@click.group("account")
def command() -> None:
    """Create, import and list named accounts (encrypted keystore v3 files); sign with --account NAME."""


def _password(confirm: bool) -> str:
    password = os.environ.get(PASSWORD_ENV)
    if password is not None:
        return password
    if not sys.stdin.isatty():
        raise click.UsageError(f"set {PASSWORD_ENV} or run interactively to choose a password")
    return click.prompt(f"Keystore password (or set {PASSWORD_ENV})", hide_input=True, confirmation_prompt=confirm)


def _check_name(name: str) -> str:
    if not _NAME.match(name) or name.endswith(".json"):
        raise click.BadParameter(
            f"{name!r} is not an account name: use letters, digits, '-', '_' or '.' (at most 63, no .json)",
            param_hint="NAME",
        )
    if _ADDRESS.match(name):
        raise click.BadParameter("an account name must not be an address", param_hint="NAME")
    return name


def _keystores(app: AppContext) -> Path:
    return app.settings.home / "keystores"


@command.command("new")
@click.argument("name", required=False)
@click.option(
    "--kdf",
    type=click.Choice(["scrypt", "pbkdf2"]),
    default="scrypt",
    show_default=True,
    help="Key derivation for the new keystore: scrypt (geth's default, slow to attack) or pbkdf2 (faster to open).",
)
@pass_app
@guarded
def new(app: AppContext, name: str | None, kdf: Kdf) -> None:
    """Create account NAME (default name: its address); the key is written encrypted and never shown.

    The password comes from MEDLEDGER_PASSWORD, else a prompt."""
    from medledger.chain.accounts import new_keystore
    from medledger.chain.errors import AccountError

    directory = _keystores(app)
    if name is not None:
        path = directory / f"{_check_name(name)}.json"
        if path.exists():
            raise AccountError(f"account {name} already exists ({path}); choose another name")
        signer = new_keystore(path, _password(confirm=True), kdf=kdf)
    else:
        password = _password(confirm=True)
        # Name the file after the address, which we only learn after creating the key.
        tmp_path = directory / f".new-{os.getpid()}.json"
        signer = new_keystore(tmp_path, password, kdf=kdf)
        path = directory / f"{signer.address}.json"
        os.replace(tmp_path, path)
    app.output(
        {"name": path.stem, "address": signer.address, "keystore": str(path)},
        f"created account {path.stem} ({signer.address})\nkeystore: {path}\nback up this file and its password: "
        "they are the only way to your records",
    )


@command.command("import")
@click.argument("name", required=False)
@click.option(
    "--from",
    "source",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A keystore v3 file to copy (geth, brownie, Foundry); it keeps its own password.",
)
@click.option(
    "--private-key-env",
    default="MEDLEDGER_IMPORT_KEY",
    show_default=True,
    help="Environment variable holding the hex private key (otherwise prompted, hidden).",
)
@click.option(
    "--foundry",
    "foundry",
    is_flag=False,
    flag_value=FOUNDRY_DIR,
    default=None,
    metavar="[DIR]",
    help=f"Import every Foundry keystore in DIR [default DIR: {FOUNDRY_DIR}], named as there.",
)
@click.option(
    "--brownie",
    "brownie",
    is_flag=False,
    flag_value=BROWNIE_DIR,
    default=None,
    metavar="[DIR]",
    help=f"Import every brownie account in DIR [default DIR: {BROWNIE_DIR}], named as there.",
)
@click.option(
    "--dev-account",
    "dev_account",
    type=click.IntRange(0, 9),
    default=None,
    help="anvil's development account N (index 0-9; its key is public: for devnets and the embedded chain only).",
)
@click.option(
    "--kdf",
    type=click.Choice(["scrypt", "pbkdf2"]),
    default="scrypt",
    show_default=True,
    help="Key derivation for the new keystore: scrypt (geth's default, slow to attack) or pbkdf2 (faster to open).",
)
@pass_app
@guarded
def import_(
    app: AppContext,
    name: str | None,
    source: Path | None,
    private_key_env: str,
    foundry: str | None,
    brownie: str | None,
    dev_account: int | None,
    kdf: Kdf,
) -> None:
    """Import account NAME from a keystore file (--from), a raw private key (--private-key-env),
    or every keystore of Foundry (--foundry [DIR]) or brownie (--brownie [DIR]); --dev-account N
    names one of anvil's public development keys, for a devnet walkthrough.

    Keystore files are copied still encrypted with their own password. A raw key is encrypted
    with MEDLEDGER_PASSWORD (else a prompt). Foundry's files do not name their address: it is
    learned by decrypting them with MEDLEDGER_PASSWORD (else a prompt)."""
    from medledger.chain.accounts import Signer, anvil_account, copy_keystore, write_keystore
    from medledger.chain.errors import AccountError

    sources = (("--from", source), ("--foundry", foundry), ("--brownie", brownie), ("--dev-account", dev_account))
    chosen = [flag for flag, value in sources if value is not None]
    if len(chosen) > 1:
        raise click.UsageError(f"{' and '.join(chosen)} exclude each other; give one")
    if foundry or brownie:
        if name is not None:
            raise click.UsageError("NAME is not used with --foundry/--brownie: each account keeps its name there")
        _import_directory(app, Path(foundry or brownie or "").expanduser(), foundry=bool(foundry))
        return
    directory = _keystores(app)
    if source is not None:
        target = directory / f"{_check_name(name or source.stem.removesuffix('.json'))}.json"
        password = os.environ.get(PASSWORD_ENV)
        address = copy_keystore(source, target, password)
        app.output(
            {"name": target.stem, "address": address, "keystore": str(target)},
            f"imported {target.stem} ({address}) from {source} into {target}; it keeps its own password",
        )
        return
    if dev_account is not None:
        signer = anvil_account(dev_account)
    else:
        raw = os.environ.get(private_key_env)
        if raw is None:
            if not sys.stdin.isatty():
                raise click.UsageError(f"set {private_key_env} or run interactively to paste the key")
            raw = click.prompt(f"Private key (hex; or set {private_key_env})", hide_input=True)
        signer = Signer.from_private_key(raw.strip())
    path = directory / f"{_check_name(name) if name else signer.address}.json"
    if path.exists():
        raise AccountError(f"account {path.stem} is already in {path}")
    write_keystore(path, signer, _password(confirm=True), kdf=kdf)
    app.output(
        {"name": path.stem, "address": signer.address, "keystore": str(path)},
        f"imported {path.stem} ({signer.address}) into {path}",
    )


def _import_directory(app: AppContext, directory: Path, *, foundry: bool) -> None:
    """Copy every keystore of a Foundry or brownie directory; report each one, skip what exists."""
    from medledger.chain.accounts import copy_keystore
    from medledger.chain.errors import AccountError

    kind = "Foundry" if foundry else "brownie"
    if not directory.is_dir():
        raise click.UsageError(f"no {kind} keystore directory {directory}")
    if foundry:  # Foundry names its files without an extension
        files = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    else:
        files = sorted(directory.glob("*.json"))
    password = os.environ.get(PASSWORD_ENV)
    rows: list[dict[str, Any]] = []
    for path in files:
        name = path.name.removesuffix(".json")
        row: dict[str, Any] = {"name": name, "from": str(path)}
        try:
            target = _keystores(app) / f"{_check_name(name)}.json"
            row["address"] = copy_keystore(path, target, password)
            row["keystore"], row["imported"] = str(target), True
        except (AccountError, click.BadParameter) as exc:
            message = exc.format_message() if isinstance(exc, click.BadParameter) else str(exc)
            row["imported"], row["reason"] = False, message
        rows.append(row)
    if not rows:
        raise click.UsageError(f"no keystore files in {directory}")

    def human() -> None:
        for row in rows:
            if row["imported"]:
                click.echo(f"imported {row['name']} ({row['address']}) from {row['from']}")
            else:
                click.echo(f"skipped {row['name']}: {row['reason']}")
        done = sum(row["imported"] for row in rows)
        click.echo(f"{done} of {len(rows)} {kind} accounts imported; they keep their own passwords")

    app.output(rows, human)
    if not any(row["imported"] for row in rows):
        sys.exit(2)


@command.command("address")
@click.argument("name")
@pass_app
@guarded
def address(app: AppContext, name: str) -> None:
    """Print account NAME's address (for scripts: `P=$(medledger account address patient)`)."""
    from medledger.chain.accounts import read_keystore, stored_address
    from medledger.chain.errors import AccountError
    from medledger.cli.context import resolve_account

    path = resolve_account(app.settings.home, name)
    found = stored_address(read_keystore(path))
    if found is None:
        raise AccountError(f"{path} does not name its address; re-import it with `medledger account import`")
    app.output({"name": path.stem, "address": found, "keystore": str(path)}, found)


@command.command("list")
@click.option("--balances", is_flag=True, help="Also show each account's balance in ETH (asks the chain).")
@connection_options
@pass_app
@guarded
def list_(app: AppContext, balances: bool) -> None:
    """List the accounts in <home>/keystores: name and address (and with --balances, ETH)."""
    from medledger.chain.accounts import read_keystore, stored_address
    from medledger.chain.errors import AccountError

    directory = _keystores(app)
    rows: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.json")) if directory.exists() else []:
        try:
            address = stored_address(read_keystore(path))
        except AccountError:
            address = None
        rows.append({"name": path.stem, "address": address, "keystore": str(path)})
    if balances and rows:
        chain = app.chain()
        for row in rows:
            wei = int(chain.w3.eth.get_balance(row["address"])) if row["address"] else None
            row["balanceWei"] = wei
            row["balanceEth"] = ether(wei).removesuffix(" ETH") if wei is not None else None

    def line(row: dict[str, Any]) -> str:
        text = f"{row['name']:<20} {row['address'] or '(address unknown)':<42}"
        if balances:
            text += f"  {ether(row['balanceWei']) if row['balanceWei'] is not None else '-':>24}"
        return f"{text}  {row['keystore']}"

    empty = "no accounts yet (create one: `medledger account new NAME`)"
    app.output(rows, "\n".join(line(row) for row in rows) or empty)
