"""`medledger account new|import|list`: encrypted keystores; the private key is never shown."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from eth_account import Account

from medledger.chain.accounts import anvil_account

from .conftest import Cli, assert_clear_failure

PASSWORD = "correct horse battery staple"
BAD_INPUT = 2


def _new_account(cli: Cli) -> tuple[dict, str]:
    result = cli.ok(
        "account", "new", "--kdf", "pbkdf2", connect=False, as_json=True, env={"MEDLEDGER_PASSWORD": PASSWORD}
    )
    return json.loads(result.stdout), result.output


def _secrets(private_key: bytes) -> list[str]:
    hexed = private_key.hex()
    return [hexed, hexed.upper(), "0x" + hexed]


def test_account_new_writes_an_owner_only_keystore_that_account_list_shows(cli: Cli) -> None:
    created, _ = _new_account(cli)
    keystore = Path(created["keystore"])
    assert keystore.parent == cli.home / "keystores"
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o600
    assert json.loads(keystore.read_text())["crypto"]["kdf"] == "pbkdf2"
    listed = cli.json("account", "list", connect=False)
    assert listed == [{"name": created["address"], "address": created["address"], "keystore": str(keystore)}]


def test_account_new_never_prints_the_private_key(cli: Cli) -> None:
    created, output = _new_account(cli)
    listing = cli.ok("account", "list", connect=False).output
    key = Account.decrypt(json.loads(Path(created["keystore"]).read_text()), PASSWORD)
    assert Account.from_key(key).address == created["address"]
    for secret in _secrets(bytes(key)):
        assert secret not in output
        assert secret not in listing


def test_a_keystore_with_the_wrong_password_exits_2_saying_wrong_password(cli: Cli) -> None:
    created, _ = _new_account(cli)
    nonces = cli.nonces()
    result = cli.invoke("deploy", "--keystore", created["keystore"], env={"MEDLEDGER_PASSWORD": "not it"})
    assert "wrong password" in assert_clear_failure(result, BAD_INPUT)
    assert cli.nonces() == nonces


def test_account_import_reads_the_key_from_MEDLEDGER_IMPORT_KEY(cli: Cli) -> None:
    signer = anvil_account(6)
    key = signer.private_key_bytes()
    result = cli.ok(
        "account",
        "import",
        "--kdf",
        "pbkdf2",
        connect=False,
        as_json=True,
        env={"MEDLEDGER_IMPORT_KEY": "0x" + key.hex(), "MEDLEDGER_PASSWORD": PASSWORD},
    )
    imported = json.loads(result.stdout)
    assert imported["address"] == signer.address
    keystore = Path(imported["keystore"])
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o600
    assert bytes(Account.decrypt(json.loads(keystore.read_text()), PASSWORD)) == key
    for secret in _secrets(key):
        assert secret not in result.output


def test_a_keystore_name_matching_several_accounts_is_refused_as_ambiguous(cli: Cli) -> None:
    first, _ = _new_account(cli)
    second, _ = _new_account(cli)
    common = next(
        ch for ch in "0123456789abcdef" if ch in first["address"][2:].lower() and ch in second["address"][2:].lower()
    )
    result = cli.invoke("deploy", "--keystore", common, env={"MEDLEDGER_PASSWORD": PASSWORD})
    assert "ambiguous" in assert_clear_failure(result, BAD_INPUT)


def test_a_keystore_can_be_named_by_its_address(cli: Cli) -> None:
    created, _ = _new_account(cli)
    cli.anvil.rpc("anvil_setBalance", [created["address"], hex(10**20)])
    deployed = cli.json("deploy", "--keystore", created["address"], env={"MEDLEDGER_PASSWORD": PASSWORD})
    record = json.loads((cli.deployments / "31337.json").read_text())
    assert deployed["reused"] is False and record["deployer"] == created["address"]
