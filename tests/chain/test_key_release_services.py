"""Key-release service sets: who may change them, every refusal, the activation delay, versions,
endpoints, and the separation of duties between members, role holders and providers (both ways)."""

from __future__ import annotations

import os

import pytest

from medledger.chain.accounts import anvil_account
from medledger.chain.errors import ContractRevertError
from medledger.ledger import ProviderKind
from medledger.ledger.providers import ADMIN_ROLE, PAUSER_ROLE, REGISTRAR_ROLE

MEMBERS = tuple(anvil_account(i) for i in range(10, 15))  # five accounts with no role, not providers


def _refusal(call) -> ContractRevertError:
    with pytest.raises(ContractRevertError) as caught:
        call()
    return caught.value


def _keys(n: int) -> list[bytes]:
    return [os.urandom(32) for _ in range(n)]


def _addresses(n: int) -> list[str]:
    return [m.address for m in MEMBERS[:n]]


def _raw_propose(ledger, members, keys, threshold):
    """Propose without the client's own checks, so the contract's refusal is what is tested."""
    services = ledger.services
    return services.sender.send(ledger.signer, services.functions.proposeServiceSet(members, keys, threshold))


@pytest.fixture
def admin(world):
    return world.ledger(world.actors.admin)


@pytest.fixture
def delay(admin) -> int:
    return admin.providers.admin_state().delay


def test_admin_proposes_a_versioned_set(admin):
    keys = _keys(5)
    admin.services.propose(_addresses(5), keys, 3)
    info = admin.services.service_set(1)
    assert (admin.services.count(), info.members, info.encryption_keys, info.threshold, info.cancelled) == (
        1,
        tuple(_addresses(5)),
        tuple(keys),
        3,
        False,
    )


def test_a_set_activates_after_the_admin_delay(admin, clock, delay):
    admin.services.propose(_addresses(3), _keys(3), 2)
    assert admin.services.service_set(1).activates_at == clock.now() + delay


def test_no_set_is_current_before_its_activation(admin, clock, delay):
    admin.services.propose(_addresses(3), _keys(3), 2)
    clock.warp(delay - 10)
    assert admin.services.current_version() == 0


def test_a_set_is_current_once_its_delay_has_passed(admin, clock, delay):
    admin.services.propose(_addresses(3), _keys(3), 2)
    clock.warp(delay)
    assert admin.services.current_version() == 1


def test_a_newer_set_takes_over_only_after_its_own_delay(admin, clock, delay):
    admin.services.propose(_addresses(3), _keys(3), 2)
    clock.warp(delay)
    admin.services.propose(_addresses(5), _keys(5), 3)
    assert admin.services.current_version() == 1
    clock.warp(delay)
    assert admin.services.current_version() == 2


def test_old_versions_stay_readable(admin, clock, delay):
    first_keys = _keys(3)
    admin.services.propose(_addresses(3), first_keys, 2)
    clock.warp(delay)
    admin.services.propose(_addresses(5), _keys(5), 3)
    clock.warp(delay)
    assert admin.services.service_set(1).encryption_keys == tuple(first_keys)


def test_only_the_admin_may_propose(world):
    stranger = world.ledger(world.actors.registrar)
    assert (
        _refusal(lambda: stranger.services.propose(_addresses(3), _keys(3), 2)).error
        == "AccessControlUnauthorizedAccount"
    )


@pytest.mark.parametrize(
    ("members", "keys", "threshold", "error"),
    [
        (3, 2, 2, "ServiceKeysMismatch"),
        (0, 0, 1, "InvalidServiceCount"),
        (3, 3, 0, "InvalidThreshold"),
        (3, 3, 4, "InvalidThreshold"),
    ],
)
def test_malformed_sets_are_refused(admin, members, keys, threshold, error):
    assert _refusal(lambda: _raw_propose(admin, _addresses(members), _keys(keys), threshold)).error == error


def test_more_than_sixteen_members_are_refused(admin):
    members = [anvil_account(i).address for i in range(20, 37)]
    assert _refusal(lambda: _raw_propose(admin, members, _keys(17), 3)).error == "InvalidServiceCount"


def test_a_zero_member_is_refused(admin):
    members = [*_addresses(2), "0x" + "00" * 20]
    assert _refusal(lambda: _raw_propose(admin, members, _keys(3), 2)).error == "ZeroAddress"


def test_a_zero_key_is_refused(admin):
    assert _refusal(lambda: _raw_propose(admin, _addresses(3), [*_keys(2), b"\x00" * 32], 2)).error == "ZeroServiceKey"


def test_a_duplicate_member_is_refused(admin):
    members = [*_addresses(2), MEMBERS[0].address]
    assert _refusal(lambda: _raw_propose(admin, members, _keys(3), 2)).error == "DuplicateServiceMember"


def test_a_duplicate_key_is_refused(admin):
    key = os.urandom(32)
    assert (
        _refusal(lambda: _raw_propose(admin, _addresses(3), [key, os.urandom(32), key], 2)).error
        == "DuplicateServiceKey"
    )


@pytest.mark.parametrize("holder", ["admin", "registrar"])
def test_a_role_holder_may_not_be_a_member(world, admin, holder):
    account = getattr(world.actors, holder).address
    refusal = _refusal(lambda: _raw_propose(admin, [*_addresses(2), account], _keys(3), 2))
    assert (refusal.error, refusal.arguments["role"]) == (
        "ServiceMemberHoldsRole",
        ADMIN_ROLE if holder == "admin" else REGISTRAR_ROLE,
    )


def test_a_pauser_may_not_be_a_member(world, admin):
    admin.providers.add_pauser(world.actors.stranger.address)
    refusal = _refusal(lambda: _raw_propose(admin, [world.actors.stranger.address], _keys(1), 1))
    assert (refusal.error, refusal.arguments["role"]) == ("ServiceMemberHoldsRole", PAUSER_ROLE)


def test_a_registered_provider_may_not_be_a_member(world, admin):
    refusal = _refusal(lambda: _raw_propose(admin, [world.actors.provider.address], _keys(1), 1))
    assert refusal.error == "ServiceMemberIsProvider"


def test_a_member_may_not_take_a_role(world, admin):
    admin.services.propose(_addresses(3), _keys(3), 2)
    assert _refusal(lambda: admin.providers.add_registrar(MEMBERS[0].address)).error == "ServiceMemberMayNotHoldRole"


def test_a_member_of_a_proposed_set_may_not_be_registered_as_provider(world, admin):
    admin.services.propose(_addresses(3), _keys(3), 2)
    registrar = world.ledger(world.actors.registrar).providers
    refusal = _refusal(lambda: registrar.register(MEMBERS[0].address, ProviderKind.CLINICIAN))
    assert (refusal.error, refusal.arguments["account"]) == ("ServiceMemberMayNotBeProvider", MEMBERS[0].address)
    assert registrar.get(MEMBERS[0].address).kind is ProviderKind.NONE


def test_a_member_of_an_active_set_may_not_be_registered_as_provider(world, admin, clock, delay):
    admin.services.propose(_addresses(3), _keys(3), 2)
    clock.warp(delay)
    registrar = world.ledger(world.actors.registrar).providers
    refusal = _refusal(lambda: registrar.register(MEMBERS[2].address, ProviderKind.AUDITOR))
    assert refusal.error == "ServiceMemberMayNotBeProvider"


def test_a_member_of_an_older_set_still_serving_may_not_be_registered_as_provider(world, admin, clock, delay):
    admin.services.propose(_addresses(3), _keys(3), 2)
    clock.warp(delay)
    admin.services.propose(_addresses(5)[3:], _keys(2), 2)
    clock.warp(delay)
    registrar = world.ledger(world.actors.registrar).providers
    assert _refusal(lambda: registrar.register(MEMBERS[0].address, ProviderKind.CLINICIAN)).error == (
        "ServiceMemberMayNotBeProvider"
    )


def test_a_member_of_a_cancelled_set_may_be_registered_as_provider(world, admin):
    admin.services.propose(_addresses(3), _keys(3), 2)
    admin.services.cancel(1)
    registrar = world.ledger(world.actors.registrar).providers
    registrar.register(MEMBERS[0].address, ProviderKind.CLINICIAN)
    assert registrar.is_active(MEMBERS[0].address)


def test_a_member_of_a_cancelled_set_may_take_a_role(admin):
    admin.services.propose(_addresses(3), _keys(3), 2)
    admin.services.cancel(1)
    admin.providers.add_pauser(MEMBERS[0].address)
    assert admin.providers.is_pauser(MEMBERS[0].address)


def test_the_admin_cancels_a_set_before_it_activates(admin, clock, delay):
    admin.services.propose(_addresses(3), _keys(3), 2)
    admin.services.cancel(1)
    clock.warp(delay)
    assert (admin.services.service_set(1).cancelled, admin.services.current_version()) == (True, 0)


def test_cancelling_the_newest_set_keeps_the_older_one_current(admin, clock, delay):
    admin.services.propose(_addresses(3), _keys(3), 2)
    clock.warp(delay)
    admin.services.propose(_addresses(5), _keys(5), 3)
    admin.services.cancel(2)
    clock.warp(delay)
    assert admin.services.current_version() == 1


def test_an_active_set_cannot_be_cancelled(admin, clock, delay):
    admin.services.propose(_addresses(3), _keys(3), 2)
    clock.warp(delay)
    assert _refusal(lambda: admin.services.cancel(1)).error == "ServiceSetAlreadyActive"


def test_a_set_cannot_be_cancelled_twice(admin):
    admin.services.propose(_addresses(3), _keys(3), 2)
    admin.services.cancel(1)
    assert _refusal(lambda: admin.services.cancel(1)).error == "ServiceSetAlreadyCancelled"


def test_an_unknown_version_is_refused(admin):
    assert _refusal(lambda: admin.services.cancel(1)).error == "UnknownServiceSet"


def test_reading_an_unknown_version_is_refused(admin):
    assert _refusal(lambda: admin.services.service_set(7)).error == "UnknownServiceSet"


def test_only_the_admin_may_cancel(world, admin):
    admin.services.propose(_addresses(3), _keys(3), 2)
    registrar = world.ledger(world.actors.registrar)
    assert _refusal(lambda: registrar.services.cancel(1)).error == "AccessControlUnauthorizedAccount"


def test_service_index_is_one_based_and_zero_for_strangers(world, admin):
    admin.services.propose(_addresses(3), _keys(3), 2)
    indexes = [admin.services.service_index(1, a) for a in [*_addresses(3), world.actors.stranger.address]]
    assert indexes == [1, 2, 3, 0]


def _funded_member(world, index: int):
    world.chain.w3.provider.make_request("anvil_setBalance", [MEMBERS[index].address, hex(10**18)])
    return world.ledger(MEMBERS[index])


def test_a_member_publishes_its_own_endpoint(world, admin):
    admin.services.propose(_addresses(3), _keys(3), 2)
    member = _funded_member(world, 1)
    member.services.set_endpoint("https://keys.example-hospital.org/v1")
    assert admin.services.endpoint(MEMBERS[1].address) == "https://keys.example-hospital.org/v1"


def test_a_non_member_may_not_publish_an_endpoint(world):
    stranger = world.ledger(world.actors.stranger)
    assert _refusal(lambda: stranger.services.set_endpoint("https://evil.example")).error == "NotAServiceMember"


def test_a_member_of_a_cancelled_set_may_not_publish_an_endpoint(world, admin):
    admin.services.propose(_addresses(3), _keys(3), 2)
    admin.services.cancel(1)
    member = _funded_member(world, 0)
    assert _refusal(lambda: member.services.set_endpoint("https://k.example")).error == "NotAServiceMember"


@pytest.mark.parametrize("url", ["", "https://" + "a" * 250])
def test_an_empty_or_overlong_endpoint_is_refused_on_chain(world, admin, url):
    admin.services.propose(_addresses(3), _keys(3), 2)
    member = _funded_member(world, 0)
    services = member.services
    refusal = _refusal(lambda: services.sender.send(member.signer, services.functions.setServiceEndpoint(url)))
    assert refusal.error == "InvalidServiceEndpoint"


def test_the_module_follows_the_ledgers_admin_and_providers(world, admin):
    registrar = world.ledger(world.actors.registrar).providers
    registrar.register(MEMBERS[4].address, ProviderKind.AUDITOR)
    refusal = _refusal(lambda: _raw_propose(admin, [MEMBERS[4].address], _keys(1), 1))
    assert refusal.error == "ServiceMemberIsProvider"
