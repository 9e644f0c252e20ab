"""Accounts that sign transactions: keystore JSON v3 files, an environment variable, anvil's dev keys.

A private key never appears in a repr, a log line or an exception message.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address

from medledger.chain.errors import AccountError

PRIVATE_KEY_ENV = "MEDLEDGER_PRIVATE_KEY"
# The well-known mnemonic anvil and hardhat derive their funded development accounts from.
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


@dataclass(frozen=True)
class Signer:
    """An account that can sign: its address is public, its key stays inside."""

    address: ChecksumAddress
    _account: LocalAccount = field(repr=False, compare=False)

    @classmethod
    def from_private_key(cls, key: bytes | str) -> Signer:
        try:
            account = Account.from_key(key)
        except (ValueError, TypeError) as exc:
            raise AccountError("not a valid secp256k1 private key (expected 32 bytes of hex)") from exc
        return cls(address=account.address, _account=account)

    def sign_transaction(self, tx: Mapping[str, Any]) -> bytes:
        return bytes(self._account.sign_transaction(dict(tx)).raw_transaction)

    def private_key_bytes(self) -> bytes:
        """The raw key, for deriving this account's encryption key pair; never log it."""
        return bytes(self._account.key)

    @property
    def local_account(self) -> LocalAccount:
        """The eth-account object, for signing typed data; never log it."""
        return self._account


def from_keystore(path: str | Path, password: str) -> Signer:
    """Unlock an encrypted keystore JSON v3 file (as written by geth, brownie, foundry, medledger)."""
    path = Path(path)
    try:
        keystore = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise AccountError(f"keystore file {path} does not exist") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AccountError(f"keystore file {path} is not readable keystore JSON") from exc
    if not isinstance(keystore, dict):
        raise AccountError(f"keystore file {path} is not a keystore v3 file")
    try:
        key = Account.decrypt(keystore, password)
    except ValueError as exc:
        raise AccountError(f"wrong password for keystore {path}") from exc
    except (KeyError, TypeError) as exc:
        raise AccountError(f"keystore file {path} is not a keystore v3 file") from exc
    return Signer.from_private_key(key)


Kdf = Literal["scrypt", "pbkdf2"]  # the key-derivation functions keystore v3 files use


def new_keystore(path: str | Path, password: str, *, kdf: Kdf = "scrypt") -> Signer:
    """Create a fresh account and write it as an encrypted keystore v3 file (mode 0600, never overwrites)."""
    path = Path(path)
    if not password:
        raise AccountError("refusing to write a keystore with an empty password")
    if path.exists():  # before the (slow) key derivation
        raise AccountError(f"keystore file {path} already exists; choose another name")
    account = Account.create()
    keystore = Account.encrypt(account.key, password, kdf=kdf)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise AccountError(f"keystore file {path} already exists; choose another name") from exc
    with os.fdopen(fd, "w") as handle:
        json.dump(keystore, handle)
    return Signer(address=account.address, _account=account)


def keystore_address(path: str | Path) -> str:
    """The address a keystore file belongs to, read without the password."""
    try:
        return to_checksum_address("0x" + json.loads(Path(path).read_text())["address"].removeprefix("0x"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AccountError(f"{path} is not a readable keystore v3 file") from exc


def from_environment(variable: str = PRIVATE_KEY_ENV) -> Signer:
    """The account whose hex private key is in `variable` (for CI)."""
    value = os.environ.get(variable)
    if not value:
        raise AccountError(f"environment variable {variable} is not set")
    try:
        return Signer.from_private_key(value.strip())
    except AccountError:
        raise AccountError(
            f"environment variable {variable} does not hold a valid private key (expected 32 bytes of hex)"
        ) from None


def anvil_account(index: int) -> Signer:
    """Development account `index` of anvil's default mnemonic (funded on anvil and in tests)."""
    Account.enable_unaudited_hdwallet_features()
    account = Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return Signer(address=account.address, _account=account)


def read_keystore(path: str | Path) -> dict[str, Any]:
    """A keystore v3 file's JSON, checked for its shape (not decrypted)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise AccountError(f"keystore file {path} does not exist") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AccountError(f"{path} is not readable keystore JSON") from exc
    crypto = data.get("crypto", data.get("Crypto")) if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(crypto, dict) or int(data.get("version", 0) or 0) != 3:
        raise AccountError(f"{path} is not a keystore v3 file")
    return data


def stored_address(keystore: Mapping[str, Any]) -> ChecksumAddress | None:
    """The address a keystore names in clear, if it names one (Foundry's files do not)."""
    value = keystore.get("address")
    if not isinstance(value, str):
        return None
    try:
        return to_checksum_address("0x" + value.removeprefix("0x"))
    except ValueError:
        return None


def copy_keystore(source: str | Path, target: str | Path, password: str | None = None) -> ChecksumAddress:
    """Copy an encrypted keystore v3 file (geth, brownie, Foundry) to `target` as it is, mode 0600,
    never overwriting. Its address is read from the file; a file that does not name it (Foundry's)
    is decrypted with `password` to learn it, and the copy then names it. Returns the address."""
    source, target = Path(source), Path(target)
    keystore = read_keystore(source)
    if target.exists():
        raise AccountError(f"keystore file {target} already exists; choose another name")
    address = stored_address(keystore)
    if address is None:
        if password is None:
            raise AccountError(f"{source} does not name its address: its password is needed to import it")
        try:
            key = Account.decrypt(keystore, password)
        except ValueError as exc:
            raise AccountError(f"wrong password for keystore {source}") from exc
        except (KeyError, TypeError) as exc:
            raise AccountError(f"{source} is not a keystore v3 file") from exc
        address = Signer.from_private_key(key).address
        keystore = {**keystore, "address": address.removeprefix("0x").lower()}
    _write_new_keystore(target, keystore)
    return address


def write_keystore(path: str | Path, signer: Signer, password: str, *, kdf: Kdf = "scrypt") -> Path:
    """Write `signer`'s key as an encrypted keystore v3 file (mode 0600, never overwrites)."""
    path = Path(path)
    if not password:
        raise AccountError("refusing to write a keystore with an empty password")
    if path.exists():  # before the slow key derivation
        raise AccountError(f"keystore file {path} already exists; choose another name")
    _write_new_keystore(path, Account.encrypt(signer.private_key_bytes(), password, kdf=kdf))
    return path


def _write_new_keystore(path: Path, keystore: Mapping[str, Any]) -> None:
    """Create `path` (mode 0600) holding `keystore`; never overwrites, even in a race."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise AccountError(f"keystore file {path} already exists; choose another name") from exc
    with os.fdopen(fd, "w") as handle:
        json.dump(keystore, handle)
