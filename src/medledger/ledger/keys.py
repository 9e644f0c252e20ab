"""Client for the key directory module: each account's X25519 public key, nothing else."""

from __future__ import annotations

from medledger.chain.transactions import Receipt
from medledger.ledger.base import InvalidArgumentError, ModuleClient, checked_address

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
