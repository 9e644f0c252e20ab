"""Named accounts: `account new|import NAME`, imports from Foundry and brownie keystore
directories, `--account NAME` wherever a signer is used, and balances in ETH."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from eth_account import Account

from .conftest import Cli, assert_clear_failure

PASSWORD = "correct horse battery staple"
WITH_PASSWORD = {"MEDLEDGER_PASSWORD": PASSWORD}
BAD_INPUT = 2


@pytest.fixture(autouse=True)
def _away_from_any_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process commands run in an empty directory: no ./deployments of a project is found."""
    monkeypatch.chdir(tmp_path)


def _keystore_file(path: Path, key: bytes, *, with_address: bool = True, password: str = PASSWORD) -> str:
    """A keystore v3 file as geth/brownie write it, or (without address) as Foundry writes it."""
    keystore = Account.encrypt(key, password, kdf="pbkdf2", iterations=2)
    if not with_address:
        del keystore["address"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(keystore))
    return Account.from_key(key).address


def _new(cli: Cli, name: str) -> dict:
    return cli.json("account", "new", name, "--kdf", "pbkdf2", connect=False, env=WITH_PASSWORD)


def test_account_new_NAME_writes_NAME_json_owner_only(cli: Cli) -> None:
    created = _new(cli, "clinic")
    path = cli.home / "keystores" / "clinic.json"
    assert created["name"] == "clinic" and created["keystore"] == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_account_NAME_signs_the_transactions_of_a_command(cli: Cli) -> None:
    created = _new(cli, "deployer")
    cli.anvil.rpc("anvil_setBalance", [created["address"], hex(10**19)])
    cli.ok("deploy", "--account", "deployer", env=WITH_PASSWORD)
    record = json.loads(next(cli.deployments.glob("*.json")).read_text())
    assert record["deployer"] == created["address"]


def test_a_second_account_of_the_same_name_is_refused(cli: Cli) -> None:
    _new(cli, "clinic")
    again = cli.invoke("account", "new", "clinic", connect=False, env=WITH_PASSWORD)
    assert "already exists" in assert_clear_failure(again, BAD_INPUT)


def test_an_unknown_account_name_says_where_it_looked_and_how_to_create_it(cli: Cli) -> None:
    result = cli.invoke("deploy", "--account", "nobody", env=WITH_PASSWORD)
    line = assert_clear_failure(result, BAD_INPUT)
    assert "nobody" in line and "account new" in line


def test_account_and_keystore_flags_together_are_refused(cli: Cli) -> None:
    created = _new(cli, "clinic")
    result = cli.invoke("deploy", "--account", "clinic", "--keystore", created["keystore"], env=WITH_PASSWORD)
    assert "--account and --keystore" in assert_clear_failure(result, BAD_INPUT)


def test_import_from_a_keystore_file_copies_it_still_encrypted_with_its_own_password(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "theirs.json"
    address = _keystore_file(source, b"\x07" * 32, password="their password")
    imported = cli.json("account", "import", "lab", "--from", source, connect=False)
    target = cli.home / "keystores" / "lab.json"
    assert imported["address"] == address and json.loads(target.read_text()) == json.loads(source.read_text())
    key = Account.decrypt(json.loads(target.read_text()), "their password")
    assert Account.from_key(key).address == address


def test_import_from_a_private_key_variable_names_the_account(cli: Cli) -> None:
    key = "0x" + "09" * 32
    imported = cli.json(
        "account", "import", "ops", "--private-key-env", "OPS_KEY", connect=False, env={"OPS_KEY": key, **WITH_PASSWORD}
    )
    assert imported["name"] == "ops" and imported["address"] == Account.from_key(key).address


def test_import_foundry_names_each_account_as_foundry_does_and_learns_the_address_by_unlocking(
    cli: Cli, tmp_path: Path
) -> None:
    directory = tmp_path / "foundry"
    address = _keystore_file(directory / "deployer", b"\x05" * 32, with_address=False)  # no extension, no address
    rows = cli.json("account", "import", "--foundry", directory, connect=False, env=WITH_PASSWORD)
    assert [(row["name"], row["address"], row["imported"]) for row in rows] == [("deployer", address, True)]
    listed = cli.json("account", "list", connect=False)
    assert [(row["name"], row["address"]) for row in listed] == [("deployer", address)]


def test_import_foundry_defaults_to_the_home_directorys_foundry_keystores(cli: Cli, tmp_path: Path) -> None:
    user_home = tmp_path / "user"
    address = _keystore_file(user_home / ".foundry" / "keystores" / "alice", b"\x06" * 32, with_address=False)
    rows = cli.json("account", "import", "--foundry", connect=False, env={"HOME": str(user_home), **WITH_PASSWORD})
    assert [(row["name"], row["address"]) for row in rows] == [("alice", address)]


def test_a_foundry_keystore_without_its_password_is_skipped_with_the_reason_and_exit_2(
    cli: Cli, tmp_path: Path
) -> None:
    directory = tmp_path / "foundry"
    _keystore_file(directory / "deployer", b"\x05" * 32, with_address=False)
    result = cli.invoke("account", "import", "--foundry", directory, connect=False)
    assert result.exit_code == BAD_INPUT
    assert "skipped deployer" in result.stdout and "password" in result.stdout
    assert not (cli.home / "keystores" / "deployer.json").exists()


def test_import_brownie_copies_every_account_json(cli: Cli, tmp_path: Path) -> None:
    directory = tmp_path / "brownie"
    first = _keystore_file(directory / "deployer.json", b"\x01" * 32)
    second = _keystore_file(directory / "patient.json", b"\x02" * 32)
    cli.ok("account", "import", "--brownie", directory, connect=False)
    listed = cli.json("account", "list", connect=False)
    assert [(row["name"], row["address"]) for row in listed] == [("deployer", first), ("patient", second)]


def test_account_list_balances_are_shown_in_eth(cli: Cli) -> None:
    created = _new(cli, "clinic")
    cli.anvil.rpc("anvil_setBalance", [created["address"], hex(15 * 10**17)])
    rows = cli.json("account", "list", "--balances")
    assert rows[0]["balanceEth"] == "1.5" and rows[0]["balanceWei"] == 15 * 10**17
    assert "1.5 ETH" in cli.ok("account", "list", "--balances").stdout


def test_an_account_name_must_match_exactly_not_by_prefix(cli: Cli) -> None:
    _new(cli, "alice")
    result = cli.invoke("deploy", "--account", "ali", env=WITH_PASSWORD)
    assert "no account 'ali'" in assert_clear_failure(result, BAD_INPUT)


def test_an_account_can_also_be_named_by_its_full_address(cli: Cli) -> None:
    created = _new(cli, "deployer")
    cli.anvil.rpc("anvil_setBalance", [created["address"], hex(10**19)])
    cli.ok("deploy", "--account", created["address"].lower(), env=WITH_PASSWORD)
