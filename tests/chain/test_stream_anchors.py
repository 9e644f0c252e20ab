"""StreamAnchors: who may register devices and gateways and anchor windows, every refusal, the
consent rule per window (one patient's refusal never blocks the others in a batch), overlaps and
replays, the records it registers, and `verifyReading` against OpenZeppelin's StandardMerkleTree."""

from __future__ import annotations

from datetime import timedelta

import pytest
from eth_utils import keccak

from medledger.chain.accounts import Signer, anvil_account
from medledger.chain.errors import ContractRevertError
from medledger.crypto.merkle import MerkleTree
from medledger.flows.windows import LEAF_TYPES
from medledger.ledger.streams import Window, window_id
from medledger.scopes import Category, Permission, Purpose, mask

CATEGORY = int(Category.LABS)
DEVICE = Signer.from_private_key(keccak(text="stream test device 1")).address
OTHER_DEVICE = Signer.from_private_key(keccak(text="stream test device 2")).address
GATEWAY = anvil_account(9)
T0 = 1_900_000_020


def _refusal(call) -> ContractRevertError:
    with pytest.raises(ContractRevertError) as caught:
        call()
    return caught.value


def _values(count: int, start: int = T0) -> list[tuple]:
    return [(DEVICE, n, start + n, keccak(text=f"reading {start} {n}")) for n in range(count)]


def _window(patient: str, start: int = T0, count: int = 4, *, digest: bytes | None = None) -> tuple[Window, MerkleTree]:
    tree = MerkleTree.of(_values(count, start), LEAF_TYPES, sort_leaves=False)
    blob = digest or keccak(text=f"blob {patient} {start}")
    return Window(patient, CATEGORY, start, start + 60, tree.root, blob, 0x55, count), tree


def _grant_write(world, patient, provider, categories=(CATEGORY,)):
    world.ledger(patient).consent.grant(
        provider.address,
        categories=mask(categories),
        purposes=mask([Purpose.TREAT]),
        permissions=Permission.READ | Permission.WRITE,
        expiry=timedelta(days=30),
    )


@pytest.fixture
def streams(world):
    """The provider's view of the module, with GATEWAY authorised and DEVICE registered."""
    provider = world.ledger(world.actors.provider).streams
    provider.authorize_gateway(GATEWAY.address)
    provider.register_device(DEVICE)
    return provider


@pytest.fixture
def gateway(world, streams):
    return world.ledger(GATEWAY).streams


@pytest.fixture
def consented(world, streams):
    """Both patients granted the provider WRITE for the category."""
    _grant_write(world, world.actors.patient, world.actors.provider)
    _grant_write(world, world.actors.other_patient, world.actors.provider)


# -- the module and its ledger ---------------------------------------------------------------


def test_the_ledger_names_its_stream_module_and_the_module_its_ledger(world):
    ledger = world.ledger()
    assert ledger.streams.address == ledger.sender.call(ledger.contract.functions.streamAnchors())
    assert ledger.streams.contract.functions.ledger().call() == ledger.address


@pytest.mark.parametrize("caller", ["admin", "provider", "patient", "stranger"])
def test_only_the_stream_module_may_register_a_record_for_an_author(world, caller):
    account = getattr(world.actors, caller)
    ledger = world.ledger(account)
    function = ledger.contract.functions.addStreamRecord(
        world.actors.provider.address, world.actors.patient.address, keccak(text="x"), 0x55, CATEGORY
    )
    assert _refusal(lambda: ledger.sender.send(account, function)).error == "NotAuthorized"


# -- devices ---------------------------------------------------------------------------------


def test_an_active_provider_registers_a_device(world):
    streams = world.ledger(world.actors.provider).streams
    receipt = streams.register_device(DEVICE)
    (event,) = streams.contract.events.DeviceRegistered().process_receipt(receipt.raw)
    assert (event["args"]["device"], event["args"]["provider"]) == (DEVICE, world.actors.provider.address)
    assert streams.device_provider(DEVICE) == world.actors.provider.address


@pytest.mark.parametrize("caller", ["suspended", "patient", "stranger", "admin", "registrar"])
def test_only_an_active_provider_registers_devices(world, caller):
    streams = world.ledger(getattr(world.actors, caller)).streams
    assert _refusal(lambda: streams.register_device(DEVICE)).error == "ProviderInactive"


def test_a_device_belongs_to_one_provider_for_good(world, streams):
    other = world.ledger(world.actors.researcher).streams
    assert _refusal(lambda: other.register_device(DEVICE)).error == "DeviceAlreadyRegistered"
    streams.retire_device(DEVICE)
    assert _refusal(lambda: streams.register_device(DEVICE)).error == "DeviceAlreadyRegistered"
    assert _refusal(lambda: other.register_device(DEVICE)).error == "DeviceAlreadyRegistered"


def test_the_zero_address_is_no_device(world):
    streams = world.ledger(world.actors.provider).streams
    function = streams.functions.registerDevice("0x" + "00" * 20)
    assert _refusal(lambda: streams.sender.send(world.actors.provider, function)).error == "ZeroAddress"


def test_no_device_is_registered_while_the_ledger_is_paused(world):
    world.ledger(world.actors.admin).providers.add_pauser(world.actors.stranger.address)
    world.ledger(world.actors.stranger).providers.pause()
    streams = world.ledger(world.actors.provider).streams
    assert _refusal(lambda: streams.register_device(DEVICE)).error == "LedgerPaused"


def test_only_the_devices_provider_retires_it_once(world, streams):
    for caller in ("researcher", "patient", "stranger", "admin"):
        other = world.ledger(getattr(world.actors, caller)).streams
        assert _refusal(lambda other=other: other.retire_device(DEVICE)).error == "NotDeviceProvider"
    assert _refusal(lambda: streams.retire_device(OTHER_DEVICE)).error == "UnknownDevice"
    streams.retire_device(DEVICE)
    assert streams.device_provider(DEVICE) is None
    assert streams.device_entry(DEVICE) == (world.actors.provider.address, True)
    assert _refusal(lambda: streams.retire_device(DEVICE)).error == "DeviceIsRetired"


def test_a_suspended_providers_devices_and_gateways_stop_counting(world, streams):
    world.ledger(world.actors.registrar).providers.suspend(world.actors.provider.address)
    assert streams.device_provider(DEVICE) is None
    assert streams.gateway_provider(GATEWAY.address) is None
    assert streams.gateway_provider(GATEWAY.address, active_only=False) == world.actors.provider.address
    world.ledger(world.actors.registrar).providers.reinstate(world.actors.provider.address)
    assert streams.device_provider(DEVICE) == world.actors.provider.address


# -- gateways --------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", ["suspended", "patient", "stranger", "admin"])
def test_only_an_active_provider_authorises_gateways(world, caller):
    streams = world.ledger(getattr(world.actors, caller)).streams
    assert _refusal(lambda: streams.authorize_gateway(GATEWAY.address)).error == "ProviderInactive"


def test_a_gateway_serves_one_provider_at_a_time(world, streams):
    other = world.ledger(world.actors.researcher).streams
    assert _refusal(lambda: other.authorize_gateway(GATEWAY.address)).error == "GatewayAlreadyAuthorized"
    assert _refusal(lambda: other.revoke_gateway(GATEWAY.address)).error == "NotGatewayProvider"
    streams.revoke_gateway(GATEWAY.address)
    assert streams.gateway_provider(GATEWAY.address, active_only=False) is None
    assert _refusal(lambda: streams.revoke_gateway(GATEWAY.address)).error == "UnknownGateway"
    other.authorize_gateway(GATEWAY.address)
    assert other.gateway_provider(GATEWAY.address) == world.actors.researcher.address


# -- anchoring -------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", ["provider", "patient", "stranger", "admin"])
def test_only_an_authorised_gateway_anchors(world, streams, consented, caller):
    window, _ = _window(world.actors.patient.address)
    other = world.ledger(getattr(world.actors, caller)).streams
    assert _refusal(lambda: other.anchor([window])).error == "UnknownGateway"


def test_a_revoked_gateway_anchors_nothing(world, streams, gateway, consented):
    streams.revoke_gateway(GATEWAY.address)
    window, _ = _window(world.actors.patient.address)
    assert _refusal(lambda: gateway.anchor([window])).error == "UnknownGateway"


def test_a_suspended_providers_gateway_anchors_nothing(world, gateway, consented):
    world.ledger(world.actors.registrar).providers.suspend(world.actors.provider.address)
    window, _ = _window(world.actors.patient.address)
    assert _refusal(lambda: gateway.anchor([window])).error == "ProviderInactive"


def test_a_window_becomes_a_record_of_the_patient_authored_by_the_provider(world, gateway, consented):
    patient = world.actors.patient.address
    window, _ = _window(patient)
    outcome = gateway.anchor([window])
    identifier = outcome.anchored[(patient, CATEGORY, T0)]
    assert identifier == window_id(GATEWAY.address, window)
    assert gateway.window_root(identifier) == window.root
    assert gateway.stream_end(patient, GATEWAY.address, CATEGORY) == T0 + 60
    record = world.ledger().records.get(patient, window.digest)
    assert (record.author, record.category, record.codec) == (world.actors.provider.address, CATEGORY, 0x55)


def test_many_patients_windows_go_in_one_transaction(world, gateway, consented):
    windows = [_window(world.actors.patient.address)[0], _window(world.actors.other_patient.address)[0]]
    outcome = gateway.anchor(windows)
    assert len(outcome.anchored) == 2 and not outcome.skipped


def test_a_patient_without_consent_is_skipped_and_the_others_are_anchored(world, gateway, consented):
    world.ledger(world.actors.other_patient).consent.revoke(world.actors.provider.address)
    kept, _ = _window(world.actors.patient.address)
    refused, _ = _window(world.actors.other_patient.address)
    outcome = gateway.anchor([refused, kept])
    assert list(outcome.anchored) == [(world.actors.patient.address, CATEGORY, T0)]
    assert outcome.skipped == {(world.actors.other_patient.address, CATEGORY, T0): "no write consent"}
    assert world.ledger().records.get(world.actors.other_patient.address, refused.digest).created_at == 0


def test_read_only_or_other_category_consent_does_not_anchor(world, streams, gateway):
    patient = world.actors.patient
    world.ledger(patient).consent.grant(
        world.actors.provider.address,
        categories=mask([CATEGORY]),
        purposes=mask([Purpose.TREAT]),
        permissions=Permission.READ,
        expiry=timedelta(days=30),
    )
    _grant_write(world, world.actors.other_patient, world.actors.provider, categories=[Category.NOTES])
    outcome = gateway.anchor([_window(patient.address)[0], _window(world.actors.other_patient.address)[0]])
    assert not outcome.anchored and set(outcome.skipped.values()) == {"no write consent"}


def test_a_digest_the_patient_already_holds_is_skipped(world, gateway, consented):
    patient = world.actors.patient
    window, _ = _window(patient.address)
    world.ledger(patient).records.add(patient.address, window.digest, 0x55, CATEGORY)
    outcome = gateway.anchor([window])
    assert outcome.skipped == {(patient.address, CATEGORY, T0): "record exists"}


def test_overlapping_and_replayed_windows_are_refused(world, gateway, consented):
    patient = world.actors.patient.address
    window, _ = _window(patient)
    gateway.anchor([window])
    assert _refusal(lambda: gateway.anchor([window])).error == "WindowOverlaps"
    overlapping, _ = _window(patient, start=T0 + 30)
    assert _refusal(lambda: gateway.anchor([overlapping])).error == "WindowOverlaps"
    following, _ = _window(patient, start=T0 + 60)
    assert len(gateway.anchor([following]).anchored) == 1


def test_a_batch_with_two_windows_of_one_stream_must_not_overlap_itself(world, gateway, consented):
    patient = world.actors.patient.address
    first, _ = _window(patient)
    again, _ = _window(patient, digest=keccak(text="another blob"))
    assert _refusal(lambda: gateway.anchor([first, again])).error == "WindowOverlaps"


@pytest.mark.parametrize(
    "field, value",
    [
        ("patient", "0x" + "00" * 20),
        ("category", 64),
        ("end", T0),
        ("root", bytes(32)),
        ("digest", bytes(32)),
        ("codec", 0x71),
        ("count", 0),
    ],
)
def test_a_malformed_window_reverts_the_batch(world, gateway, consented, field, value):
    window, _ = _window(world.actors.patient.address)
    fields = window.as_tuple()
    index = ["patient", "category", "start", "end", "root", "digest", "codec", "count"].index(field)
    bad = (*fields[:index], value, *fields[index + 1 :])
    good = _window(world.actors.other_patient.address)[0].as_tuple()
    function = gateway.functions.anchor([good, bad])
    refusal = _refusal(lambda: gateway.sender.send(GATEWAY, function))
    assert (refusal.error, refusal.arguments) == ("InvalidWindow", {"index": 1})


def test_an_empty_batch_is_refused(world, gateway):
    assert _refusal(lambda: gateway.sender.send(GATEWAY, gateway.functions.anchor([]))).error == "EmptyBatch"


# -- verifying readings ----------------------------------------------------------------------


def test_every_reading_verifies_on_chain_with_its_proof(world, gateway, consented):
    patient = world.actors.patient.address
    window, tree = _window(patient, count=7)
    identifier = gateway.anchor([window]).anchored[(patient, CATEGORY, T0)]
    for index, (device, sequence, timestamp, hashed) in enumerate(tree.values):
        assert gateway.verify_reading(identifier, device, sequence, timestamp, hashed, tree.proof(index))


def test_a_changed_reading_or_a_wrong_proof_does_not_verify(world, gateway, consented):
    patient = world.actors.patient.address
    window, tree = _window(patient, count=5)
    identifier = gateway.anchor([window]).anchored[(patient, CATEGORY, T0)]
    device, sequence, timestamp, hashed = tree.values[2]
    assert not gateway.verify_reading(identifier, device, sequence, timestamp, keccak(text="forged"), tree.proof(2))
    assert not gateway.verify_reading(identifier, device, sequence + 1, timestamp, hashed, tree.proof(2))
    assert not gateway.verify_reading(identifier, device, sequence, timestamp, hashed, tree.proof(3))


def test_an_unknown_window_is_named(world, gateway):
    refusal = _refusal(lambda: gateway.verify_reading(keccak(text="nothing"), DEVICE, 0, 0, bytes(32), []))
    assert refusal.error == "UnknownWindow"
