"""Accounts: keystore v3 files, the environment variable, anvil's dev keys; a key never leaks into text."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from eth_account import Account

from medledger.chain.accounts import (
    PRIVATE_KEY_ENV,
    Signer,
    anvil_account,
    from_environment,
    from_keystore,
    keystore_address,
    new_keystore,
)
from medledger.chain.errors import AccountError

PASSWORD = "correct horse battery staple"
# Anvil's first dev key: public knowledge, used here only as a value that must never be echoed.
ANVIL_KEY_0 = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ANVIL_ADDRESS_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def _key_hex(signer: Signer) -> str:
    return signer.private_key_bytes().hex()


def _leaks(text: str, key_hex: str) -> bool:
    return key_hex.lower() in text.lower()


@pytest.fixture(scope="module")
def keystore(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Signer]:
    """One keystore written by new_keystore (pbkdf2, for speed), shared by the read-only tests."""
    path = tmp_path_factory.mktemp("keystores") / "alice.json"
    return path, new_keystore(path, PASSWORD, kdf="pbkdf2")


@pytest.fixture
def quick_keystore(tmp_path: Path) -> tuple[Path, str]:
    """A keystore v3 file for anvil's key 0 with a token KDF cost, for the error-path tests."""
    path = tmp_path / "quick.json"
    path.write_text(json.dumps(Account.encrypt(ANVIL_KEY_0, PASSWORD, kdf="pbkdf2", iterations=2)))
    return path, ANVIL_KEY_0


# -- keystore files -----------------------------------------------------------------------------


def test_new_keystore_round_trips_through_from_keystore(keystore):
    path, created = keystore
    unlocked = from_keystore(path, PASSWORD)
    assert unlocked.address == created.address
    assert unlocked.private_key_bytes() == created.private_key_bytes()


def test_new_keystore_writes_a_version_3_file_with_the_requested_kdf(keystore):
    path, created = keystore
    data = json.loads(path.read_text())
    assert data["version"] == 3
    assert data["crypto"]["kdf"] == "pbkdf2"
    assert keystore_address(path) == created.address


def test_new_keystore_with_the_default_scrypt_kdf_round_trips(tmp_path):
    path = tmp_path / "scrypt.json"
    created = new_keystore(path, PASSWORD)
    assert json.loads(path.read_text())["crypto"]["kdf"] == "scrypt"
    assert from_keystore(path, PASSWORD).address == created.address


def test_new_keystore_file_is_readable_by_its_owner_only(keystore):
    path, _ = keystore
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_new_keystore_refuses_to_overwrite_an_existing_file(keystore):
    path, _ = keystore
    before = path.read_bytes()
    with pytest.raises(AccountError, match="already exists"):
        new_keystore(path, "another password", kdf="pbkdf2")
    assert path.read_bytes() == before


def test_new_keystore_refuses_an_empty_password(tmp_path):
    with pytest.raises(AccountError, match="empty password"):
        new_keystore(tmp_path / "k.json", "", kdf="pbkdf2")
    assert not (tmp_path / "k.json").exists()


def test_new_keystore_creates_missing_parent_folders(tmp_path):
    path = tmp_path / "a" / "b" / "k.json"
    new_keystore(path, PASSWORD, kdf="pbkdf2")
    assert path.is_file()


def test_wrong_password_raises_account_error_naming_the_file(quick_keystore):
    path, _ = quick_keystore
    with pytest.raises(AccountError) as caught:
        from_keystore(path, "not the password")
    assert str(path) in str(caught.value)
    assert "wrong password" in str(caught.value)


def test_wrong_password_error_carries_no_key_material(quick_keystore):
    path, key_hex = quick_keystore
    with pytest.raises(AccountError) as caught:
        from_keystore(path, "not the password")
    text = f"{caught.value} {caught.value!r} {caught.value.__cause__!r}"
    assert not _leaks(text, key_hex)
    assert PASSWORD not in text


def test_missing_keystore_file_raises_account_error_naming_it(tmp_path):
    path = tmp_path / "nowhere.json"
    with pytest.raises(AccountError, match="does not exist") as caught:
        from_keystore(path, PASSWORD)
    assert str(path) in str(caught.value)


def test_non_json_keystore_file_raises_account_error(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("this is not JSON {")
    with pytest.raises(AccountError, match="not readable keystore JSON"):
        from_keystore(path, PASSWORD)


def test_binary_keystore_file_raises_account_error(tmp_path):
    path = tmp_path / "blob.json"
    path.write_bytes(b"\xff\xfe\x00\x80 binary garbage")
    with pytest.raises(AccountError, match="not readable keystore JSON"):
        from_keystore(path, PASSWORD)


@pytest.mark.parametrize("content", ["[]", '"a string"', "null", "{}", '{"crypto": {}}'])
def test_json_that_is_not_a_keystore_raises_account_error(tmp_path, content):
    path = tmp_path / "k.json"
    path.write_text(content)
    with pytest.raises(AccountError, match="not a keystore v3 file"):
        from_keystore(path, PASSWORD)


def test_keystore_of_another_version_raises_account_error(quick_keystore):
    path, _ = quick_keystore
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "version": 4}))
    with pytest.raises(AccountError, match="not a keystore v3 file"):
        from_keystore(path, PASSWORD)


def test_keystore_address_is_read_without_the_password(quick_keystore):
    path, _ = quick_keystore
    assert keystore_address(path) == ANVIL_ADDRESS_0


@pytest.mark.parametrize("content", ["[]", "null", "{}", '{"address": 42}', '{"address": "0xnothex"}', "nope"])
def test_keystore_address_of_a_malformed_file_raises_account_error(tmp_path, content):
    path = tmp_path / "k.json"
    path.write_text(content)
    with pytest.raises(AccountError, match="not a readable keystore v3 file"):
        keystore_address(path)


# -- environment variable -----------------------------------------------------------------------


def test_from_environment_loads_the_key_in_the_variable(monkeypatch):
    monkeypatch.setenv(PRIVATE_KEY_ENV, "0x" + ANVIL_KEY_0)
    assert from_environment().address == ANVIL_ADDRESS_0


def test_from_environment_accepts_a_key_without_0x_and_with_whitespace(monkeypatch):
    monkeypatch.setenv(PRIVATE_KEY_ENV, f"  {ANVIL_KEY_0}\n")
    assert from_environment().address == ANVIL_ADDRESS_0


def test_from_environment_reads_another_variable_when_named(monkeypatch):
    monkeypatch.delenv(PRIVATE_KEY_ENV, raising=False)
    monkeypatch.setenv("DEPLOYER_KEY", ANVIL_KEY_0)
    assert from_environment("DEPLOYER_KEY").address == ANVIL_ADDRESS_0


@pytest.mark.parametrize("value", [None, ""])
def test_from_environment_with_the_variable_unset_or_empty_names_the_variable(monkeypatch, value):
    if value is None:
        monkeypatch.delenv(PRIVATE_KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(PRIVATE_KEY_ENV, value)
    with pytest.raises(AccountError, match=f"{PRIVATE_KEY_ENV} is not set"):
        from_environment()


@pytest.mark.parametrize("value", ["not-a-key", "0x1234", ANVIL_KEY_0[:-2], ANVIL_KEY_0 + "00", "0x" + "zz" * 32])
def test_from_environment_with_a_malformed_key_names_the_variable(monkeypatch, value):
    monkeypatch.setenv(PRIVATE_KEY_ENV, value)
    with pytest.raises(AccountError, match=f"{PRIVATE_KEY_ENV} does not hold a valid private key") as caught:
        from_environment()
    assert value not in str(caught.value)  # never echo key material


def test_malformed_key_error_does_not_echo_the_value(monkeypatch):
    almost_a_key = ANVIL_KEY_0[:-2]
    monkeypatch.setenv(PRIVATE_KEY_ENV, almost_a_key)
    with pytest.raises(AccountError) as caught:
        from_environment()
    text = f"{caught.value} {caught.value!r} {caught.value.__cause__!r}"
    assert not _leaks(text, almost_a_key)


# -- anvil dev accounts and what signers print --------------------------------------------------


def test_anvil_account_0_is_the_well_known_first_dev_account():
    assert anvil_account(0).address == ANVIL_ADDRESS_0


def test_anvil_accounts_are_distinct_per_index():
    assert len({anvil_account(i).address for i in range(4)}) == 4


def test_signer_repr_and_str_show_the_address_but_never_the_key():
    signer = anvil_account(0)
    for text in (repr(signer), str(signer), f"{signer}", repr([signer]), repr({"s": signer})):
        assert signer.address in text
        assert not _leaks(text, ANVIL_KEY_0)


def test_signer_from_private_key_repr_never_contains_the_key():
    signer = Signer.from_private_key("0x" + ANVIL_KEY_0)
    assert signer.address == ANVIL_ADDRESS_0
    assert not _leaks(repr(signer), ANVIL_KEY_0)


def test_new_keystore_signer_repr_never_contains_its_key(keystore):
    _, created = keystore
    assert not _leaks(repr(created), _key_hex(created))


def test_signers_with_the_same_address_are_equal():
    assert anvil_account(0) == Signer.from_private_key(ANVIL_KEY_0)
