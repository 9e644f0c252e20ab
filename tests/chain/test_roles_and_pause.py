"""Roles: a two-step, delayed admin transfer that cannot be renounced; duties on separate
accounts; a pause that stops break-glass, registrations and access logging (so key releases) but
never a safety action; the provider lifecycle (withdrawal for good, kind correction)."""

from __future__ import annotations

import os

import pytest
from web3.logs import DISCARD

from medledger.chain.errors import ContractRevertError
from medledger.ledger import ProviderKind, ProviderStatus
from medledger.ledger.emergency import EmergencyReason
from medledger.ledger.providers import ADMIN_ROLE
from medledger.scopes import Category, Purpose
from tests.chain.helpers import CODEC_RAW, grant_labs


def _refusal(call) -> str:
    with pytest.raises(ContractRevertError) as caught:
        call()
    return caught.value.error


@pytest.fixture
def paused(world):
    """The world with the stranger as pauser, and the ledger paused."""
    world.ledger(world.actors.admin).providers.add_pauser(world.actors.stranger.address)
    world.ledger(world.actors.stranger).providers.pause()
    return world


# Two-step, delayed admin transfer


def test_an_admin_transfer_takes_effect_only_when_accepted_after_the_delay(world, clock):
    admin = world.ledger(world.actors.admin).providers
    newcomer = world.actors.other_patient
    admin.begin_admin_transfer(newcomer.address)
    clock.warp(admin.admin_state().delay + 1)
    world.ledger(newcomer).providers.accept_admin_transfer()
    assert (admin.is_admin(newcomer.address), admin.is_admin(world.actors.admin.address)) == (True, False)


def test_an_admin_transfer_cannot_be_accepted_before_the_delay(world):
    admin = world.ledger(world.actors.admin).providers
    admin.begin_admin_transfer(world.actors.other_patient.address)
    newcomer = world.ledger(world.actors.other_patient).providers
    assert _refusal(newcomer.accept_admin_transfer) == "AccessControlEnforcedDefaultAdminDelay"


def test_the_admin_role_cannot_be_granted_in_one_step(world):
    admin = world.ledger(world.actors.admin)
    fn = admin.contract.functions.grantRole(ADMIN_ROLE, world.actors.other_patient.address)
    assert _refusal(lambda: admin.sender.send(admin.signer, fn)) == "AccessControlEnforcedDefaultAdminRules"


def test_the_admin_cannot_be_renounced(world):
    admin = world.ledger(world.actors.admin)
    fn = admin.contract.functions.beginDefaultAdminTransfer("0x" + "00" * 20)
    assert _refusal(lambda: admin.sender.send(admin.signer, fn)) == "ZeroAddress"


# Separation of duties


def test_the_admin_may_not_make_itself_registrar(world):
    admin = world.ledger(world.actors.admin).providers
    assert _refusal(lambda: admin.add_registrar(world.actors.admin.address)) == "ConflictingDuties"


def test_a_registrar_may_not_also_be_pauser(world):
    admin = world.ledger(world.actors.admin).providers
    assert _refusal(lambda: admin.add_pauser(world.actors.registrar.address)) == "ConflictingDuties"


def test_a_registrar_may_not_become_admin(world, clock):
    admin = world.ledger(world.actors.admin).providers
    admin.begin_admin_transfer(world.actors.registrar.address)
    clock.warp(admin.admin_state().delay + 1)
    registrar = world.ledger(world.actors.registrar).providers
    assert _refusal(registrar.accept_admin_transfer) == "ConflictingDuties"


# The pause


def test_only_a_pauser_may_pause(world):
    assert _refusal(world.ledger(world.actors.admin).providers.pause) == "AccessControlUnauthorizedAccount"


def test_pause_stops_break_glass(paused):
    clinician = paused.ledger(paused.actors.provider).emergency
    assert (
        _refusal(lambda: clinician.break_glass(paused.actors.patient.address, EmergencyReason.UNCONSCIOUS))
        == "EnforcedPause"
    )


def test_pause_stops_registration(paused):
    registrar = paused.ledger(paused.actors.registrar).providers
    assert (
        _refusal(lambda: registrar.register(paused.actors.other_patient.address, ProviderKind.CLINICIAN))
        == "EnforcedPause"
    )


def test_pause_stops_reinstatement(paused):
    registrar = paused.ledger(paused.actors.registrar).providers
    assert _refusal(lambda: registrar.reinstate(paused.actors.suspended.address)) == "EnforcedPause"


def test_pause_stops_access_logging(world):
    a = world.actors
    digest = os.urandom(32)
    world.ledger(a.patient).records.add(a.patient.address, digest, CODEC_RAW, Category.LABS)
    grant_labs(world.ledger(a.patient), a.provider.address)
    world.ledger(a.admin).providers.add_pauser(a.stranger.address)
    world.ledger(a.stranger).providers.pause()
    reader = world.ledger(a.provider).records
    assert _refusal(lambda: reader.log_access(a.patient.address, digest, Purpose.TREAT)) == "EnforcedPause"


def test_suspension_works_while_paused(paused):
    paused.ledger(paused.actors.registrar).providers.suspend(paused.actors.provider.address)
    assert not paused.ledger().providers.is_active(paused.actors.provider.address)


def test_withdrawal_works_while_paused(paused):
    paused.ledger(paused.actors.registrar).providers.withdraw(paused.actors.provider.address)
    assert paused.ledger().providers.get(paused.actors.provider.address).status is ProviderStatus.WITHDRAWN


def test_revocation_works_while_paused(world):
    a = world.actors
    grant_labs(world.ledger(a.patient), a.provider.address)
    world.ledger(a.admin).providers.add_pauser(a.stranger.address)
    world.ledger(a.stranger).providers.pause()
    world.ledger(a.patient).consent.revoke(a.provider.address)
    assert not world.ledger().consent.get(a.patient.address, a.provider.address).exists


def test_closing_a_break_glass_window_works_while_paused(world):
    a = world.actors
    world.ledger(a.provider).emergency.break_glass(a.patient.address, EmergencyReason.UNCONSCIOUS)
    world.ledger(a.admin).providers.add_pauser(a.stranger.address)
    world.ledger(a.stranger).providers.pause()
    world.ledger(a.patient).emergency.close(a.patient.address, a.provider.address)
    assert not world.ledger().emergency.is_open(a.patient.address, a.provider.address)


def test_unpause_resumes_registration(paused):
    paused.ledger(paused.actors.stranger).providers.unpause()
    paused.ledger(paused.actors.registrar).providers.register(
        paused.actors.other_patient.address, ProviderKind.CLINICIAN
    )
    assert paused.ledger().providers.is_active(paused.actors.other_patient.address)


# Provider lifecycle


def test_a_withdrawn_provider_can_never_be_reinstated(world):
    registrar = world.ledger(world.actors.registrar).providers
    registrar.withdraw(world.actors.suspended.address)
    assert _refusal(lambda: registrar.reinstate(world.actors.suspended.address)) == "ProviderIsWithdrawn"


def test_a_withdrawn_provider_can_never_be_registered_again(world):
    registrar = world.ledger(world.actors.registrar).providers
    registrar.withdraw(world.actors.provider.address)
    assert (
        _refusal(lambda: registrar.register(world.actors.provider.address, ProviderKind.CLINICIAN))
        == "ProviderIsWithdrawn"
    )


def test_a_withdrawn_provider_loses_its_consents(world):
    a = world.actors
    grant_labs(world.ledger(a.patient), a.provider.address)
    world.ledger(a.registrar).providers.withdraw(a.provider.address)
    assert not world.ledger().consent.has_access(a.patient.address, a.provider.address, Category.LABS, Purpose.TREAT, 1)


def test_only_a_registrar_may_withdraw(world):
    admin = world.ledger(world.actors.admin).providers
    assert _refusal(lambda: admin.withdraw(world.actors.provider.address)) == "AccessControlUnauthorizedAccount"


def test_a_registrar_corrects_a_providers_kind(world):
    registrar = world.ledger(world.actors.registrar).providers
    receipt = registrar.set_kind(world.actors.researcher.address, ProviderKind.INSURER)
    kind = world.ledger().providers.get(world.actors.researcher.address).kind
    events = world.ledger().contract.events.ProviderKindSet().process_receipt(receipt.raw, errors=DISCARD)
    assert (kind, [e.args.kind for e in events]) == (ProviderKind.INSURER, [ProviderKind.INSURER])


def test_setting_the_same_kind_is_refused(world):
    registrar = world.ledger(world.actors.registrar).providers
    assert (
        _refusal(lambda: registrar.set_kind(world.actors.provider.address, ProviderKind.CLINICIAN))
        == "ProviderKindUnchanged"
    )


def test_a_kind_correction_ends_an_open_break_glass_window(world):
    a = world.actors
    world.ledger(a.provider).emergency.break_glass(a.patient.address, EmergencyReason.UNCONSCIOUS)
    world.ledger(a.registrar).providers.set_kind(a.provider.address, ProviderKind.ORGANIZATION)
    assert not world.ledger().emergency.is_open(a.patient.address, a.provider.address)
