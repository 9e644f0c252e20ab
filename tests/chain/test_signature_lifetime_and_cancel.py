"""A signature's whole lifetime is bounded (its issue time is signed), and a patient can cancel
every message it signed for a pair before anyone relays it, directly or by a signed message."""

from __future__ import annotations

from typing import Any

import pytest
from web3.logs import DISCARD

from medledger.chain.errors import ContractRevertError
from medledger.ledger.signatures import MAX_SIGNATURE_LIFETIME, sign
from medledger.scopes import Permission
from tests.chain.helpers import LABS_MASK, TREAT_MASK

DAY = 86400


def _refusal(call) -> ContractRevertError:
    with pytest.raises(ContractRevertError) as caught:
        call()
    return caught.value


def _grant_data(world, *, expiry_days: int = 400) -> dict[str, Any]:
    a = world.actors
    return world.ledger().signed.grant_data(
        a.patient.address,
        a.provider.address,
        categories=LABS_MASK,
        purposes=TREAT_MASK,
        permissions=Permission.READ,
        expiry=world.chain.now() + expiry_days * DAY,
    )


def _year_long_grant(world):
    data = _grant_data(world)
    data["message"]["deadline"] = data["message"]["issuedAt"] + 365 * DAY
    return sign(world.actors.patient, data)


def _relay(world, signed):
    return world.ledger(world.actors.stranger).signed.relay(signed)


def test_a_signature_valid_for_a_year_is_refused_today(world):
    assert _refusal(lambda: _relay(world, _year_long_grant(world))).error == "SignatureLifetimeTooLong"


def test_a_signature_valid_for_a_year_is_still_refused_336_days_later(world, clock):
    signed = _year_long_grant(world)
    clock.warp(336 * DAY)
    assert _refusal(lambda: _relay(world, signed)).error == "SignatureLifetimeTooLong"


def test_a_signature_issued_in_the_future_is_refused(world):
    data = _grant_data(world)
    data["message"]["issuedAt"] += 3600
    data["message"]["deadline"] += 3600
    assert _refusal(lambda: _relay(world, sign(world.actors.patient, data))).error == "SignatureNotYetValid"


def test_a_lifetime_of_exactly_the_maximum_is_accepted(world, clock):
    data = _grant_data(world)
    data["message"]["deadline"] = data["message"]["issuedAt"] + MAX_SIGNATURE_LIFETIME
    clock.warp(MAX_SIGNATURE_LIFETIME // 2)
    _relay(world, sign(world.actors.patient, data))
    assert world.ledger().consent.get(world.actors.patient.address, world.actors.provider.address).exists


def test_a_cancelled_grant_cannot_be_relayed(world):
    signed = sign(world.actors.patient, _grant_data(world))
    world.ledger(world.actors.patient).signed.cancel_nonces(world.actors.provider.address)
    assert _refusal(lambda: _relay(world, signed)).error == "InvalidNonce"


def test_a_cancelled_guardian_appointment_cannot_be_relayed(world, guardian):
    a = world.actors
    data = world.ledger().signed.appoint_guardian_data(
        a.patient.address, guardian.address, until=world.chain.now() + 30 * DAY
    )
    signed = sign(a.patient, data)
    world.ledger(a.patient).signed.cancel_nonces(guardian.address)
    assert _refusal(lambda: _relay(world, signed)).error == "InvalidNonce"


def test_cancelling_keeps_the_consent_in_force(world):
    a = world.actors
    patient = world.ledger(a.patient)
    patient.consent.grant(
        a.provider.address,
        categories=LABS_MASK,
        purposes=TREAT_MASK,
        permissions=1,
        expiry=world.chain.now() + 10 * DAY,
    )
    patient.signed.cancel_nonces(a.provider.address)
    assert world.ledger().consent.get(a.patient.address, a.provider.address).exists


def test_cancelling_emits_the_new_nonces(world):
    a = world.actors
    patient = world.ledger(a.patient)
    receipt = patient.signed.cancel_nonces(a.provider.address)
    events = patient.contract.events.NoncesCancelled().process_receipt(receipt.raw, errors=DISCARD)
    assert [(e.args.patient, e.args.counterparty, e.args.consentNonce, e.args.guardianNonce) for e in events] == [
        (a.patient.address, a.provider.address, 1, 1)
    ]


def test_a_signed_cancellation_voids_a_pending_grant(world):
    a = world.actors
    grant = sign(a.patient, _grant_data(world))
    cancel = sign(a.patient, world.ledger().signed.cancel_nonces_data(a.patient.address, a.provider.address))
    _relay(world, cancel)
    assert _refusal(lambda: _relay(world, grant)).error == "InvalidNonce"


def test_a_signed_cancellation_works_once(world):
    a = world.actors
    cancel = sign(a.patient, world.ledger().signed.cancel_nonces_data(a.patient.address, a.provider.address))
    _relay(world, cancel)
    assert _refusal(lambda: _relay(world, cancel)).error == "InvalidSignature"


def test_a_cancellation_signed_by_someone_else_is_refused(world):
    a = world.actors
    data = world.ledger().signed.cancel_nonces_data(a.patient.address, a.provider.address)
    assert _refusal(lambda: _relay(world, sign(a.stranger, data))).error == "InvalidSignature"
