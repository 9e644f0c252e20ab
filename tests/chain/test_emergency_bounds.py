"""A break-glass window is fixed once opened: no re-opening while it runs, a cool-down after the
patient or a guardian closes it, and an opt-out or a suspension ends it for good."""

from __future__ import annotations

import pytest

from medledger.chain.errors import ContractRevertError
from medledger.ledger.emergency import EmergencyReason


def _refusal(call) -> str:
    with pytest.raises(ContractRevertError) as caught:
        call()
    return caught.value.error


def _open(world):
    return world.ledger(world.actors.provider).emergency.break_glass(
        world.actors.patient.address, EmergencyReason.UNCONSCIOUS
    )


def _is_open(world) -> bool:
    return world.ledger().emergency.is_open(world.actors.patient.address, world.actors.provider.address)


def test_a_window_cannot_be_reopened_while_it_runs(world, clock):
    _open(world)
    clock.warp(world.ledger().emergency.window() - 60)
    assert _refusal(lambda: _open(world)) == "EmergencyAccessAlreadyOpen"


def test_a_window_can_be_opened_again_after_it_ends(world, clock):
    _open(world)
    clock.warp(world.ledger().emergency.window() + 1)
    _open(world)
    assert _is_open(world)


def test_a_patients_close_starts_a_cooldown(world, clock):
    _open(world)
    world.ledger(world.actors.patient).emergency.close(world.actors.patient.address, world.actors.provider.address)
    assert _refusal(lambda: _open(world)) == "EmergencyCooldown"


def test_a_guardians_close_starts_a_cooldown(world, guardian, clock):
    a = world.actors
    world.ledger(a.patient).guardians.appoint(a.patient.address, guardian.address, until=clock.now() + 86400)
    _open(world)
    world.ledger(guardian).emergency.close(a.patient.address, a.provider.address)
    assert _refusal(lambda: _open(world)) == "EmergencyCooldown"


def test_glass_may_be_broken_again_after_the_cooldown(world, clock):
    _open(world)
    world.ledger(world.actors.patient).emergency.close(world.actors.patient.address, world.actors.provider.address)
    clock.warp(world.ledger().emergency.cooldown() + 1)
    _open(world)
    assert _is_open(world)


def test_a_providers_own_close_starts_no_cooldown(world, clock):
    _open(world)
    world.ledger(world.actors.provider).emergency.close(world.actors.patient.address, world.actors.provider.address)
    _open(world)
    assert _is_open(world)


def test_opting_back_in_does_not_revive_a_window(world, clock):
    _open(world)
    patient = world.ledger(world.actors.patient).emergency
    patient.set_preferences(opt_out=True)
    clock.warp(5)
    patient.set_preferences(opt_out=False)
    assert not _is_open(world)


def test_a_reinstatement_does_not_revive_a_window(world, clock):
    _open(world)
    registrar = world.ledger(world.actors.registrar).providers
    registrar.suspend(world.actors.provider.address)
    clock.warp(5)
    registrar.reinstate(world.actors.provider.address)
    assert not _is_open(world)


def test_a_revived_window_grants_no_read(world, clock):
    _open(world)
    patient = world.ledger(world.actors.patient).emergency
    patient.set_preferences(opt_out=True)
    clock.warp(5)
    patient.set_preferences(opt_out=False)
    _, categories = world.ledger().emergency.preferences(world.actors.patient.address)
    category = (categories & -categories).bit_length() - 1
    assert not world.ledger().consent.has_access(
        world.actors.patient.address, world.actors.provider.address, category, 1, 1
    )


def test_after_a_reinstatement_glass_may_be_broken_anew(world, clock):
    _open(world)
    registrar = world.ledger(world.actors.registrar).providers
    registrar.suspend(world.actors.provider.address)
    clock.warp(5)
    registrar.reinstate(world.actors.provider.address)
    _open(world)
    assert _is_open(world)
