"""Break-glass: an active clinician or organization opens read access to a patient's emergency
categories, for emergency treatment only, for a window fixed at deployment. Patients may opt out
or choose the categories; the patient, a guardian or the provider may close it early. Break-glass
releases no key on chain: it is one more condition the key-release services check
(`isEmergencyOpen`, and `hasAccess` for ETREAT) before they release a record's key shares."""

from __future__ import annotations

import pytest

from medledger.chain.deploy import EmergencyPolicy, deploy
from medledger.chain.errors import ContractRevertError, DeploymentError
from medledger.ledger import MedLedger, ProviderKind
from medledger.ledger.base import InvalidArgumentError
from medledger.ledger.emergency import EmergencyReason
from medledger.scopes import Category, Permission, Purpose, mask

DEFAULT_WINDOW = 24 * 3600
EMERGENCY_CATEGORIES = [Category.MEDICATIONS, Category.ALLERGIES, Category.EMERGENCY]
OTHER_CATEGORIES = [c for c in Category if c not in EMERGENCY_CATEGORIES]


def _refusal(call) -> ContractRevertError:
    with pytest.raises(ContractRevertError) as caught:
        call()
    return caught.value


def _break_glass(world, provider=None, reason=EmergencyReason.UNCONSCIOUS, patient=None):
    a = world.actors
    return world.ledger(provider or a.provider).emergency.break_glass((patient or a.patient).address, reason)


def _reads(
    world,
    category=Category.ALLERGIES,
    purpose=Purpose.ETREAT,
    permission=Permission.READ,
    provider=None,
    ledger: MedLedger | None = None,
) -> bool:
    a = world.actors
    return (ledger or world.ledger()).consent.has_access(
        a.patient.address, (provider or a.provider).address, category, purpose, permission
    )


def _opened(world, receipt, ledger: MedLedger | None = None):
    (event,) = (ledger or world.ledger()).contract.events.EmergencyAccessOpened().process_receipt(receipt.raw)
    return event.args


def _block_time(world, receipt) -> int:
    return int(world.chain.w3.eth.get_block(receipt.block_number)["timestamp"])


# -- opening ---------------------------------------------------------------------------------


def test_a_clinician_breaks_glass_for_the_deployed_window(world):
    a = world.actors
    receipt = _break_glass(world, reason=EmergencyReason.LIFE_THREATENING)
    event = _opened(world, receipt)
    assert dict(event) == {
        "patient": a.patient.address,
        "provider": a.provider.address,
        "reason": EmergencyReason.LIFE_THREATENING,
        "until": _block_time(world, receipt) + DEFAULT_WINDOW,
    }
    assert world.ledger().emergency.access_until(a.patient.address, a.provider.address) == event["until"]


def test_the_deployed_window_is_published(world):
    assert world.ledger().emergency.window() == DEFAULT_WINDOW


def test_an_organization_may_break_glass(world):
    a = world.actors
    world.ledger(a.registrar).providers.register(a.stranger.address, ProviderKind.ORGANIZATION)
    _break_glass(world, provider=a.stranger)
    assert _reads(world, provider=a.stranger)


@pytest.mark.parametrize("category", EMERGENCY_CATEGORIES, ids=lambda c: c.name)
def test_break_glass_opens_reading_an_emergency_category_for_emergency_treatment(world, category):
    _break_glass(world)
    assert _reads(world, category=category)


@pytest.mark.parametrize("purpose", [p for p in Purpose if p is not Purpose.ETREAT], ids=lambda p: p.name)
def test_break_glass_opens_nothing_for_other_purposes(world, purpose):
    _break_glass(world)
    assert not _reads(world, purpose=purpose)


def test_break_glass_never_allows_writing(world):
    _break_glass(world)
    assert not any(_reads(world, category=c, permission=Permission.WRITE) for c in EMERGENCY_CATEGORIES)


def test_break_glass_opens_no_other_category(world):
    _break_glass(world)
    assert not any(_reads(world, category=c) for c in OTHER_CATEGORIES)


def test_break_glass_opens_nothing_for_other_providers(world):
    a = world.actors
    world.ledger(a.registrar).providers.register(a.stranger.address, ProviderKind.CLINICIAN)
    _break_glass(world)
    assert not _reads(world, provider=a.stranger)


def test_break_glass_opens_nothing_for_other_patients(world):
    a = world.actors
    _break_glass(world)
    assert not world.ledger().consent.has_access(
        a.other_patient.address, a.provider.address, Category.ALLERGIES, Purpose.ETREAT, Permission.READ
    )


def test_no_emergency_access_without_breaking_glass(world):
    assert not _reads(world)


# -- the window ------------------------------------------------------------------------------


def test_emergency_access_lasts_until_just_before_the_window_ends(world, clock):
    until = _opened(world, _break_glass(world))["until"]
    clock.mine_at(until - 1)
    assert _reads(world)
    clock.mine_at(until)
    assert not _reads(world)


def test_breaking_glass_after_the_window_ends_opens_a_new_window(world, clock):
    a = world.actors
    _break_glass(world)
    clock.warp(DEFAULT_WINDOW + 1)
    receipt = _break_glass(world)
    assert (
        world.ledger().emergency.access_until(a.patient.address, a.provider.address)
        == _block_time(world, receipt) + DEFAULT_WINDOW
    )


# -- who may open ----------------------------------------------------------------------------


def test_a_researcher_may_not_break_glass(world):
    a = world.actors
    error = _refusal(lambda: _break_glass(world, provider=a.researcher))
    assert (error.error, error.arguments["provider"], error.arguments["kind"]) == (
        "ProviderKindNotAllowed",
        a.researcher.address,
        ProviderKind.RESEARCHER,
    )
    assert not _reads(world, provider=a.researcher)


def test_a_suspended_provider_may_not_break_glass(world):
    a = world.actors
    error = _refusal(lambda: _break_glass(world, provider=a.suspended))
    assert (error.error, error.arguments["provider"]) == ("ProviderNotActive", a.suspended.address)


def test_an_unregistered_account_may_not_break_glass(world):
    a = world.actors
    error = _refusal(lambda: _break_glass(world, provider=a.stranger))
    assert (error.error, error.arguments["provider"]) == ("UnknownProvider", a.stranger.address)


def test_suspending_the_provider_ends_its_emergency_access(world):
    a = world.actors
    _break_glass(world)
    world.ledger(a.registrar).providers.suspend(a.provider.address)
    assert not _reads(world)


@pytest.mark.parametrize("reason", [0, 5, 255])
def test_an_unknown_reason_code_is_refused(world, reason):
    ledger = world.ledger(world.actors.provider)
    error = _refusal(
        lambda: ledger.sender.send(
            ledger.signer, ledger.contract.functions.breakGlass(world.actors.patient.address, reason)
        )
    )
    assert (error.error, error.arguments["reason"]) == ("InvalidReason", reason)


def test_the_client_refuses_an_unknown_reason_code_before_sending(world):
    with pytest.raises(InvalidArgumentError):
        _break_glass(world, reason=5)


@pytest.mark.parametrize("reason", list(EmergencyReason), ids=lambda r: r.name)
def test_every_known_reason_code_is_accepted(world, reason):
    assert _opened(world, _break_glass(world, reason=reason))["reason"] == reason


# -- the patient's preferences ---------------------------------------------------------------


def test_the_default_preferences_are_the_deployments_categories(world):
    assert world.ledger().emergency.preferences(world.actors.patient.address) == (False, mask(EMERGENCY_CATEGORIES))


def test_an_opted_out_patient_cannot_be_broken_into(world):
    a = world.actors
    world.ledger(a.patient).emergency.set_preferences(opt_out=True)
    error = _refusal(lambda: _break_glass(world))
    assert (error.error, error.arguments["patient"]) == ("EmergencyOptOut", a.patient.address)


def test_opting_out_after_opening_ends_access(world):
    _break_glass(world)
    world.ledger(world.actors.patient).emergency.set_preferences(opt_out=True)
    assert not _reads(world)


def test_patient_chosen_categories_replace_the_default(world):
    a = world.actors
    world.ledger(a.patient).emergency.set_preferences(opt_out=False, categories=mask([Category.IMMUNIZATIONS]))
    _break_glass(world)
    assert _reads(world, category=Category.IMMUNIZATIONS)
    assert not any(_reads(world, category=c) for c in EMERGENCY_CATEGORIES)


def test_choosing_no_categories_keeps_the_default(world):
    a = world.actors
    patient = world.ledger(a.patient).emergency
    patient.set_preferences(opt_out=False, categories=mask([Category.IMMUNIZATIONS]))
    patient.set_preferences(opt_out=False, categories=0)
    assert world.ledger().emergency.preferences(a.patient.address) == (False, mask(EMERGENCY_CATEGORIES))


def test_preferences_are_the_callers_own(world):
    a = world.actors
    world.ledger(a.other_patient).emergency.set_preferences(opt_out=True)
    _break_glass(world)
    assert _reads(world)


# -- closing ---------------------------------------------------------------------------------


def _close(world, closer):
    a = world.actors
    return world.ledger(closer).emergency.close(a.patient.address, a.provider.address)


def test_the_patient_closes_emergency_access(world):
    a = world.actors
    _break_glass(world)
    receipt = _close(world, a.patient)
    (event,) = world.ledger().contract.events.EmergencyAccessClosed().process_receipt(receipt.raw)
    assert dict(event.args) == {
        "patient": a.patient.address,
        "provider": a.provider.address,
        "closedBy": a.patient.address,
    }
    assert not _reads(world)
    assert world.ledger().emergency.access_until(a.patient.address, a.provider.address) == _block_time(
        world, receipt
    )  # the window now ends at the close


def test_the_provider_closes_its_own_emergency_access(world):
    _break_glass(world)
    _close(world, world.actors.provider)
    assert not _reads(world)


def test_a_guardian_closes_emergency_access(world, guardian):
    a = world.actors
    world.ledger(a.patient).guardians.appoint(a.patient.address, guardian.address, until=world.chain.now() + 86400)
    _break_glass(world)
    _close(world, guardian)
    assert not _reads(world)


def test_a_stranger_may_not_close_emergency_access(world):
    a = world.actors
    _break_glass(world)
    error = _refusal(lambda: _close(world, a.stranger))
    assert (error.error, error.arguments["account"]) == ("NotGuardian", a.stranger.address)
    assert _reads(world)


def test_closing_what_is_not_open_is_refused(world):
    a = world.actors
    error = _refusal(lambda: _close(world, a.patient))
    assert (error.error, error.arguments["patient"], error.arguments["provider"]) == (
        "NoEmergencyAccess",
        a.patient.address,
        a.provider.address,
    )


def test_closing_after_the_window_is_refused(world, clock):
    _break_glass(world)
    clock.warp(DEFAULT_WINDOW + 60)
    assert _refusal(lambda: _close(world, world.actors.patient)).error == "NoEmergencyAccess"


# -- what the key-release services check ------------------------------------------------------


def _open(world) -> bool:
    a = world.actors
    return world.ledger().emergency.is_open(a.patient.address, a.provider.address)


def test_break_glass_releases_no_key_on_chain(world):
    """No emergency key service, role, release function or event: the key-release services
    check the open window themselves."""
    abi = world.ledger().contract.abi
    names = {item.get("name") for item in abi}
    assert not names & {"releaseEmergencyKeys", "EmergencyKeysReleased", "EMERGENCY_KEY_SERVICE_ROLE"}
    opened = next(item for item in abi if item.get("name") == "EmergencyAccessOpened")
    assert [i["type"] for i in opened["inputs"]] == ["address", "address", "uint8", "uint40"]


def test_an_open_window_counts_for_the_key_release_services(world):
    _break_glass(world)
    assert _open(world) and _reads(world)


def test_no_window_counts_without_break_glass(world):
    assert not _open(world)


def test_the_window_no_longer_counts_after_it_ends(world, clock):
    _break_glass(world)
    clock.warp(DEFAULT_WINDOW + 60)
    assert not _open(world) and not _reads(world)


def test_the_window_no_longer_counts_after_closing(world):
    _break_glass(world)
    _close(world, world.actors.patient)
    assert not _open(world)


def test_the_window_no_longer_counts_after_the_patient_opted_out(world):
    _break_glass(world)
    world.ledger(world.actors.patient).emergency.set_preferences(opt_out=True)
    assert not _open(world) and not _reads(world)


def test_the_window_no_longer_counts_for_a_provider_suspended_since(world):
    a = world.actors
    _break_glass(world)
    world.ledger(a.registrar).providers.suspend(a.provider.address)
    assert not _open(world) and not _reads(world)


# -- the policy is fixed at deployment -------------------------------------------------------


def _deploy_with(world, policy: EmergencyPolicy) -> MedLedger:
    a = world.actors
    ledger = MedLedger.from_deployment(world.chain, deploy(world.chain, a.admin, emergency=policy), signer=a.admin)
    ledger.providers.add_registrar(a.registrar.address)
    registrar = ledger.as_signer(a.registrar).providers
    registrar.register(a.provider.address, ProviderKind.CLINICIAN)
    registrar.register(a.researcher.address, ProviderKind.RESEARCHER)
    return ledger


def test_a_custom_window_is_honoured(world, clock):
    ledger = _deploy_with(world, EmergencyPolicy(window_seconds=3600))
    assert ledger.emergency.window() == 3600
    receipt = ledger.as_signer(world.actors.provider).emergency.break_glass(
        world.actors.patient.address, EmergencyReason.OTHER
    )
    until = _opened(world, receipt, ledger)["until"]
    assert until == _block_time(world, receipt) + 3600
    clock.mine_at(until - 1)
    assert _reads(world, ledger=ledger)
    clock.mine_at(until)
    assert not _reads(world, ledger=ledger)


def test_custom_provider_kinds_are_honoured(world):
    a = world.actors
    ledger = _deploy_with(world, EmergencyPolicy(provider_kinds=1 << ProviderKind.RESEARCHER))
    ledger.as_signer(a.researcher).emergency.break_glass(a.patient.address, EmergencyReason.OTHER)
    error = _refusal(
        lambda: ledger.as_signer(a.provider).emergency.break_glass(a.patient.address, EmergencyReason.OTHER)
    )
    assert error.error == "ProviderKindNotAllowed"


def test_custom_default_categories_are_honoured(world):
    a = world.actors
    ledger = _deploy_with(world, EmergencyPolicy(default_categories=mask([Category.SUMMARY])))
    ledger.as_signer(a.provider).emergency.break_glass(a.patient.address, EmergencyReason.OTHER)
    assert _reads(world, category=Category.SUMMARY, ledger=ledger)
    assert not _reads(world, category=Category.ALLERGIES, ledger=ledger)


def test_the_client_refuses_a_policy_that_lets_unregistered_accounts_break_glass():
    with pytest.raises(DeploymentError, match="kinds"):
        EmergencyPolicy(provider_kinds=1)
