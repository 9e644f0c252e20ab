"""Client for the key directory module."""

from __future__ import annotations

from web3.contract.contract import ContractFunction

from medledger.chain.transactions import Receipt
from medledger.ledger.base import InvalidArgumentError, ModuleClient, checked_address
from medledger.scopes import CATEGORY_COUNT

PUBLIC_KEY_BYTES = 32


def _public_key(value: bytes) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) != PUBLIC_KEY_BYTES:
        raise InvalidArgumentError(f"an X25519 public key is {PUBLIC_KEY_BYTES} bytes")
    if not any(value):
        raise InvalidArgumentError("the all-zero public key is not a key")
    return bytes(value)


class KeysClient(ModuleClient):
    def publish(self, public_key: bytes) -> Receipt:
        """Publish or rotate the signer's X25519 public key."""
        return self._send(self.functions.setEncryptionKey(_public_key(public_key)))

    def encryption_key_of(self, account: str) -> bytes | None:
        key = bytes(self._call(self.functions.encryptionKeyOf(checked_address(account))))
        return key if any(key) else None

    def rotate_keyring(self, category: int, public_key: bytes, envelope: bytes) -> Receipt:
        return self._send(self.rotate_keyring_call(category, public_key, envelope))

    def rotate_keyring_call(
        self, category: int, public_key: bytes, envelope: bytes, *, patient: str | None = None
    ) -> ContractFunction:
        """The unsent call, for batching into a multicall with a revocation; with `patient`, a
        guardian's rotation on that patient's behalf."""
        if not 0 <= int(category) < CATEGORY_COUNT:
            raise InvalidArgumentError(f"category {category} is out of range 0..{CATEGORY_COUNT - 1}")
        if patient:
            return self.functions.rotateKeyringFor(
                checked_address(patient, "patient"), int(category), _public_key(public_key), bytes(envelope)
            )
        return self.functions.rotateKeyring(int(category), _public_key(public_key), bytes(envelope))

    def keyring_of(self, patient: str, category: int) -> tuple[bytes, int] | None:
        """The patient's current keyring public key and epoch for `category`, None if there is none."""
        key, epoch = self._call(self.functions.keyringOf(checked_address(patient, "patient"), int(category)))
        return (bytes(key), int(epoch)) if epoch else None
