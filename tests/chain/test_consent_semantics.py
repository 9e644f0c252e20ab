"""Consent rules: scope, expiry, revocation, re-grant, suspension, and bad input refused by name."""

from __future__ import annotations

import pytest

from medledger.chain.errors import ContractRevertError
from medledger.ledger.base import InvalidArgumentError
from medledger.scopes import Category, Permission, Purpose, mask

from .helpers import DAY, LABS_MASK, TREAT_MASK, grant_labs


def _access(world, category=Category.LABS, purpose=Purpose.TREAT, permission=Permission.READ, grantee=None):
    a = world.actors
    return world.ledger().consent.has_access(
        a.patient.address, grantee or a.provider.address, category, purpose, permission
    )


def _warp(world, seconds: int) -> None:
    world.chain.increase_time(seconds)


def test_no_consent_means_no_access(world):
    assert not _access(world)


def test_grant_gives_access_within_its_scope(world):
    grant_labs(world.ledger(world.actors.patient), world.actors.provider.address, permissions=Permission.READ)
    assert _access(world)


def test_grant_does_not_cover_other_categories(world):
    grant_labs(world.ledger(world.actors.patient), world.actors.provider.address)
    assert not _access(world, category=Category.MENTAL_HEALTH)


def test_grant_does_not_cover_other_purposes(world):
    grant_labs(world.ledger(world.actors.patient), world.actors.provider.address)
    assert not _access(world, purpose=Purpose.HRESCH)


def test_read_only_grant_does_not_allow_write(world):
    grant_labs(world.ledger(world.actors.patient), world.actors.provider.address, permissions=Permission.READ)
    assert not _access(world, permission=Permission.WRITE)


def test_write_only_grant_does_not_allow_read(world):
    grant_labs(world.ledger(world.actors.patient), world.actors.provider.address, permissions=Permission.WRITE)
    assert not _access(world, permission=Permission.READ)
    assert _access(world, permission=Permission.WRITE)


def test_access_ends_at_expiry(world):
    grant_labs(world.ledger(world.actors.patient), world.actors.provider.address, expiry=DAY)
    _warp(world, DAY.days * 86400 - 60)
    assert _access(world)
    _warp(world, 120)
    assert not _access(world)


def test_revoke_ends_access_at_once(world):
    patient = world.ledger(world.actors.patient)
    grant_labs(patient, world.actors.provider.address)
    patient.consent.revoke(world.actors.provider.address)
    assert not _access(world)
    assert not patient.consent.get(world.actors.patient.address, world.actors.provider.address).exists


def test_revoking_twice_is_refused_by_name(world):
    patient = world.ledger(world.actors.patient)
    grant_labs(patient, world.actors.provider.address)
    patient.consent.revoke(world.actors.provider.address)
    with pytest.raises(ContractRevertError) as caught:
        patient.consent.revoke(world.actors.provider.address)
    assert caught.value.error == "NoConsent"


def test_regrant_replaces_scope_entirely(world):
    patient = world.ledger(world.actors.patient)
    grant_labs(patient, world.actors.provider.address)
    grant_labs(patient, world.actors.provider.address, categories=mask([Category.IMAGING]))
    assert not _access(world, category=Category.LABS)
    assert _access(world, category=Category.IMAGING)


def test_regrant_after_expiry_restores_access(world):
    patient = world.ledger(world.actors.patient)
    grant_labs(patient, world.actors.provider.address, expiry=DAY)
    _warp(world, 2 * 86400)
    assert not _access(world)
    grant_labs(patient, world.actors.provider.address, expiry=DAY)
    assert _access(world)


def test_suspension_ends_access_and_reinstatement_restores_it(world):
    a = world.actors
    grant_labs(world.ledger(a.patient), a.provider.address)
    registrar = world.ledger(a.registrar).providers
    registrar.suspend(a.provider.address)
    assert not _access(world)
    registrar.reinstate(a.provider.address)
    assert _access(world)


def test_reinstatement_does_not_revive_an_expired_consent(world):
    a = world.actors
    grant_labs(world.ledger(a.patient), a.provider.address, expiry=DAY)
    registrar = world.ledger(a.registrar).providers
    registrar.suspend(a.provider.address)
    _warp(world, 2 * 86400)
    registrar.reinstate(a.provider.address)
    assert not _access(world)


def test_patient_always_has_access_to_own_records(world):
    assert _access(
        world,
        grantee=world.actors.patient.address,
        category=Category.GENOMICS,
        purpose=Purpose.PATRQT,
        permission=Permission.WRITE,
    )


def test_grant_emits_the_terms_and_carries_no_key_material(world):
    a = world.actors
    patient = world.ledger(a.patient)
    receipt = patient.consent.grant(
        a.provider.address, categories=LABS_MASK, purposes=TREAT_MASK, permissions=Permission.READ, expiry=DAY
    )
    (event,) = patient.events("ConsentGranted", from_block=receipt.block_number, patient=a.patient.address)
    expiry = patient.consent.get(a.patient.address, a.provider.address).expiry
    assert dict(event.args) == {
        "patient": a.patient.address,
        "grantee": a.provider.address,
        "categories": LABS_MASK,
        "purposes": TREAT_MASK,
        "permissions": int(Permission.READ),
        "expiry": expiry,
    }


def test_grant_takes_no_key_material(world):
    """No `bytes` argument anywhere in grant or grantFor: nothing sealed can reach the chain."""
    abi = world.ledger().contract.abi
    for name in ("grant", "grantFor"):
        (function,) = [item for item in abi if item.get("name") == name]
        assert "bytes" not in [i["type"] for i in function["inputs"]]


# --- bad input: refused on chain by name (raw calls bypass the client's own checks) ------------


def _raw_grant(world, grantee, categories=LABS_MASK, purposes=TREAT_MASK, permissions=1, expiry=None):
    ledger = world.ledger(world.actors.patient)
    now = world.chain.now()
    expiry = now + 86400 if expiry is None else expiry
    return ledger.sender.send(
        ledger.signer, ledger.contract.functions.grant(grantee, categories, purposes, permissions, expiry)
    )


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"grantee": "0x" + "00" * 20}, "ZeroAddress"),
        ({"categories": 0}, "EmptyCategories"),
        ({"purposes": 0}, "InvalidPurposes"),
        ({"purposes": 1 << 7}, "InvalidPurposes"),
        ({"permissions": 0}, "InvalidPermissions"),
        ({"permissions": 4}, "InvalidPermissions"),
        ({"expiry": 1}, "ExpiryNotInFuture"),
    ],
)
def test_contract_refuses_malformed_grant_by_name(world, change, error):
    args = {"grantee": world.actors.provider.address, **change}
    with pytest.raises(ContractRevertError) as caught:
        _raw_grant(world, **args)
    assert caught.value.error == error


def test_contract_refuses_grant_to_self(world):
    with pytest.raises(ContractRevertError) as caught:
        _raw_grant(world, world.actors.patient.address)
    assert caught.value.error == "SelfGrant"


def test_contract_refuses_grant_to_unregistered_account(world):
    with pytest.raises(ContractRevertError) as caught:
        _raw_grant(world, world.actors.stranger.address)
    assert caught.value.error == "UnknownProvider"


def test_contract_refuses_grant_to_suspended_provider(world):
    with pytest.raises(ContractRevertError) as caught:
        _raw_grant(world, world.actors.suspended.address)
    assert caught.value.error == "ProviderNotActive"


def test_refused_grant_changes_nothing(world):
    a = world.actors
    with pytest.raises(ContractRevertError):
        _raw_grant(world, a.suspended.address)
    assert not world.ledger().consent.get(a.patient.address, a.suspended.address).exists


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"categories": 0}, "category mask"),
        ({"purposes": 0}, "purpose mask"),
        ({"permissions": 0}, "permissions"),
        ({"expiry": 1}, "not in the future"),
    ],
)
def test_client_refuses_bad_grant_before_sending(world, kwargs, fragment):
    a = world.actors
    patient = world.ledger(a.patient)
    nonce = world.chain.w3.eth.get_transaction_count(a.patient.address)
    terms = {"categories": LABS_MASK, "purposes": TREAT_MASK, "permissions": 1, "expiry": DAY, **kwargs}
    with pytest.raises(InvalidArgumentError, match=fragment):
        patient.consent.grant(a.provider.address, **terms)
    assert world.chain.w3.eth.get_transaction_count(a.patient.address) == nonce


def test_client_refuses_address_with_bad_checksum(world):
    a = world.actors
    address = a.provider.address
    broken = address[:2] + "".join(c.swapcase() if c.isalpha() else c for c in address[2:4]) + address[4:]
    with pytest.raises(InvalidArgumentError, match="checksum"):
        grant_labs(world.ledger(a.patient), broken)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((64, 0, 1), "InvalidCategory"),
        ((1, 7, 1), "InvalidPurpose"),
        ((1, 0, 3), "InvalidPermission"),
    ],
)
def test_has_access_refuses_out_of_range_questions(world, args, error):
    a = world.actors
    with pytest.raises(ContractRevertError) as caught:
        world.ledger().consent.has_access(a.patient.address, a.provider.address, *args)
    assert caught.value.error == error
