"""Shared fixtures for the crypto layer's specification tests."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest

from medledger.crypto import (
    AccountRecipient,
    ContainerBinding,
    EncryptionKeyPair,
    KeyringRecipient,
    Recipient,
    decrypt_stream,
    derive_encryption_keypair,
    encrypt_stream,
)

CATEGORY = 3
SMALL_CHUNK = 4096

Seal = Callable[..., bytes]
Open = Callable[..., bytes]


@dataclass(frozen=True)
class Keyring(EncryptionKeyPair):
    """A keyring-era category key, as version-1 containers were sealed to: an X25519 pair
    labelled (category, epoch). medledger no longer holds such keys; the tests make them to
    write version-1 fixtures, and open them as any key pair."""

    category: int = 0
    epoch: int = 0

    @property
    def recipient(self) -> KeyringRecipient:
        return KeyringRecipient(self.category, self.epoch, self.public)


def keyring_from_secret(category: int, epoch: int, secret: bytes) -> Keyring:
    pair = EncryptionKeyPair.from_secret(secret)
    return Keyring(pair.public, pair.secret, category, epoch)


def new_keyring(category: int, epoch: int = 0) -> Keyring:
    pair = EncryptionKeyPair.generate()
    return Keyring(pair.public, pair.secret, category, epoch)


@pytest.fixture
def binding() -> ContainerBinding:
    return ContainerBinding(chain_id=31337, registry=b"\x11" * 20, patient=b"\x22" * 20, category=CATEGORY)


@pytest.fixture
def patient() -> EncryptionKeyPair:
    return derive_encryption_keypair(bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"))


@pytest.fixture
def keyring() -> Keyring:
    return new_keyring(CATEGORY, epoch=0)


@pytest.fixture
def stranger() -> EncryptionKeyPair:
    return EncryptionKeyPair.generate()


@pytest.fixture
def seal_bytes(binding: ContainerBinding, patient: EncryptionKeyPair, keyring: Keyring) -> Seal:
    """Encrypt bytes to the patient and the keyring (by default) and return the container."""

    def _seal(
        data: bytes,
        *,
        chunk_size: int = SMALL_CHUNK,
        recipients: Sequence[Recipient] | None = None,
        binding_: ContainerBinding | None = None,
    ) -> bytes:
        out = io.BytesIO()
        encrypt_stream(
            io.BytesIO(data),
            out,
            binding=binding_ or binding,
            recipients=(
                recipients if recipients is not None else [AccountRecipient(patient.public), keyring.recipient]
            ),
            chunk_size=chunk_size,
        )
        return out.getvalue()

    return _seal


@pytest.fixture
def open_bytes(binding: ContainerBinding, patient: EncryptionKeyPair) -> Open:
    """Decrypt a container (as the patient by default) and return the plaintext."""

    def _open(container: bytes, *, identity=None, binding_: ContainerBinding | None = None) -> bytes:
        out = io.BytesIO()
        decrypt_stream(io.BytesIO(container), out, binding=binding_ or binding, identity=identity or patient)
        return out.getvalue()

    return _open
