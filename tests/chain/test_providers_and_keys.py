"""Provider registry and key directory rules."""

from __future__ import annotations

import pytest

from medledger.chain.errors import ContractRevertError
from medledger.ledger import ProviderKind, ProviderStatus
from medledger.ledger.base import InvalidArgumentError


def _refusal(call) -> str:
    with pytest.raises(ContractRevertError) as caught:
        call()
    return caught.value.error


def test_registered_provider_is_active_with_its_kind(world):
    a = world.actors
    info = world.ledger().providers.get(a.researcher.address)
    assert (info.kind, info.status) == (ProviderKind.RESEARCHER, ProviderStatus.ACTIVE)


def test_double_registration_is_refused(world):
    registrar = world.ledger(world.actors.registrar).providers
    assert (
        _refusal(lambda: registrar.register(world.actors.provider.address, ProviderKind.INSURER))
        == "ProviderAlreadyRegistered"
    )


def test_registering_kind_none_is_refused_on_chain(world):
    ledger = world.ledger(world.actors.registrar)
    fn = ledger.contract.functions.registerProvider(world.actors.stranger.address, 0)
    assert _refusal(lambda: ledger.sender.send(ledger.signer, fn)) == "InvalidProviderKind"


def test_registering_the_zero_address_is_refused_on_chain(world):
    ledger = world.ledger(world.actors.registrar)
    fn = ledger.contract.functions.registerProvider("0x" + "00" * 20, 1)
    assert _refusal(lambda: ledger.sender.send(ledger.signer, fn)) == "ZeroAddress"


def test_unknown_provider_kind_name_is_refused_off_chain(world):
    with pytest.raises(InvalidArgumentError, match="unknown provider kind"):
        world.ledger(world.actors.registrar).providers.register(world.actors.stranger.address, "wizard")


def test_suspending_a_suspended_provider_is_refused(world):
    registrar = world.ledger(world.actors.registrar).providers
    assert _refusal(lambda: registrar.suspend(world.actors.suspended.address)) == "ProviderNotActive"


def test_reinstating_an_active_provider_is_refused(world):
    registrar = world.ledger(world.actors.registrar).providers
    assert _refusal(lambda: registrar.reinstate(world.actors.provider.address)) == "ProviderNotSuspended"


def test_suspending_an_unknown_account_is_refused(world):
    registrar = world.ledger(world.actors.registrar).providers
    assert _refusal(lambda: registrar.suspend(world.actors.stranger.address)) == "UnknownProvider"


def test_removed_registrar_can_no_longer_register(world):
    a = world.actors
    world.ledger(a.admin).providers.remove_registrar(a.registrar.address)
    registrar = world.ledger(a.registrar).providers
    assert (
        _refusal(lambda: registrar.register(a.stranger.address, ProviderKind.CLINICIAN))
        == "AccessControlUnauthorizedAccount"
    )


def test_encryption_key_is_published_and_rotatable(world):
    keys = world.ledger(world.actors.patient).keys
    keys.publish(b"\x01" * 32)
    keys.publish(b"\x02" * 32)
    assert keys.encryption_key_of(world.actors.patient.address) == b"\x02" * 32


def test_zero_encryption_key_is_refused_on_chain(world):
    ledger = world.ledger(world.actors.patient)
    fn = ledger.contract.functions.setEncryptionKey(b"\x00" * 32)
    assert _refusal(lambda: ledger.sender.send(ledger.signer, fn)) == "InvalidPublicKey"


def test_the_key_directory_holds_public_keys_only(world):
    """No category keyrings and no sealed key material: only each account's X25519 public key."""
    names = {item.get("name") for item in world.ledger().contract.abi}
    assert not names & {"rotateKeyring", "rotateKeyringFor", "keyringOf", "KeyringRotated"}
    assert {"setEncryptionKey", "encryptionKeyOf", "EncryptionKeySet"} <= names
