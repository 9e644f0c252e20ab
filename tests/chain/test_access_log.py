"""The access log: whoever reads a record logs it on chain with a purpose; the log refuses anyone
without read access to that record's category for that purpose, and unknown or erased records."""

from __future__ import annotations

import pytest

from medledger.chain.errors import ContractRevertError
from medledger.ledger.base import InvalidArgumentError
from medledger.ledger.emergency import EmergencyReason
from medledger.scopes import Category, Permission, Purpose, mask

from .helpers import CODEC_RAW, DAY, grant_labs, random_digest

DAY_S = int(DAY.total_seconds())


def _refusal(call) -> ContractRevertError:
    with pytest.raises(ContractRevertError) as caught:
        call()
    return caught.value


def _record(world, category=Category.LABS) -> bytes:
    a = world.actors
    digest = random_digest()
    world.ledger(a.patient).records.add(a.patient.address, digest, CODEC_RAW, category)
    return digest


def _log(world, reader, digest, purpose=Purpose.TREAT):
    return world.ledger(reader).records.log_access(world.actors.patient.address, digest, purpose)


def _logged(world, receipt):
    (event,) = world.ledger().contract.events.AccessLogged().process_receipt(receipt.raw)
    return dict(event.args)


def _assert_not_authorized(world, reader, digest, purpose=Purpose.TREAT):
    error = _refusal(lambda: _log(world, reader, digest, purpose))
    assert (error.error, error.arguments["account"]) == ("NotAuthorized", reader.address)


# -- who may log -----------------------------------------------------------------------------


def test_a_grantee_logs_its_read_with_the_purpose(world):
    a = world.actors
    digest = _record(world)
    grant_labs(
        world.ledger(a.patient),
        a.provider.address,
        permissions=Permission.READ,
        purposes=mask([Purpose.TREAT, Purpose.HOPERAT]),
    )
    assert _logged(world, _log(world, a.provider, digest, Purpose.HOPERAT)) == {
        "patient": a.patient.address,
        "digest": digest,
        "accessor": a.provider.address,
        "purpose": Purpose.HOPERAT,
    }


def test_the_patient_logs_reading_their_own_record(world):
    a = world.actors
    digest = _record(world)
    assert _logged(world, _log(world, a.patient, digest, Purpose.PATRQT))["accessor"] == a.patient.address


def test_every_read_is_logged_again(world):
    a = world.actors
    digest = _record(world)
    grant_labs(world.ledger(a.patient), a.provider.address, permissions=Permission.READ)
    _log(world, a.provider, digest)
    _log(world, a.provider, digest)
    assert len(world.ledger().events("AccessLogged", patient=a.patient.address, digest=digest)) == 2


def test_a_stranger_may_not_log(world):
    _assert_not_authorized(world, world.actors.stranger, _record(world))


def test_a_grantee_without_the_records_category_may_not_log(world):
    a = world.actors
    digest = _record(world, Category.MENTAL_HEALTH)
    grant_labs(world.ledger(a.patient), a.provider.address, permissions=Permission.READ)
    _assert_not_authorized(world, a.provider, digest)


def test_a_grantee_may_not_log_for_a_purpose_it_was_not_granted(world):
    a = world.actors
    digest = _record(world)
    grant_labs(world.ledger(a.patient), a.provider.address, permissions=Permission.READ)
    _assert_not_authorized(world, a.provider, digest, Purpose.HRESCH)


def test_a_write_only_grantee_may_not_log_a_read(world):
    a = world.actors
    digest = _record(world)
    grant_labs(world.ledger(a.patient), a.provider.address, permissions=Permission.WRITE)
    _assert_not_authorized(world, a.provider, digest)


def test_the_author_of_a_record_may_not_log_reading_it_without_read_access(world):
    """A writer needs no read access to write: authorship is no read permission."""
    a = world.actors
    grant_labs(world.ledger(a.patient), a.provider.address, permissions=Permission.WRITE)
    digest = random_digest()
    world.ledger(a.provider).records.add(a.patient.address, digest, CODEC_RAW, Category.LABS)
    _assert_not_authorized(world, a.provider, digest)


def test_a_suspended_grantee_may_not_log(world):
    a = world.actors
    digest = _record(world)
    grant_labs(world.ledger(a.patient), a.provider.address, permissions=Permission.READ)
    world.ledger(a.registrar).providers.suspend(a.provider.address)
    _assert_not_authorized(world, a.provider, digest)


def test_a_grantee_whose_grant_expired_may_not_log(world, clock):
    a = world.actors
    digest = _record(world)
    grant_labs(world.ledger(a.patient), a.provider.address, permissions=Permission.READ, expiry=DAY)
    clock.warp(DAY_S + 60)
    _assert_not_authorized(world, a.provider, digest)


def test_a_revoked_grantee_may_not_log(world):
    a = world.actors
    digest = _record(world)
    grant_labs(world.ledger(a.patient), a.provider.address, permissions=Permission.READ)
    world.ledger(a.patient).consent.revoke(a.provider.address)
    _assert_not_authorized(world, a.provider, digest)


def test_a_guardian_may_log(world, guardian):
    a = world.actors
    digest = _record(world, Category.MENTAL_HEALTH)
    world.ledger(a.patient).guardians.appoint(a.patient.address, guardian.address, until=world.chain.now() + 86400)
    assert _logged(world, _log(world, guardian, digest, Purpose.PATRQT))["accessor"] == guardian.address


def test_a_removed_guardian_may_not_log(world, guardian):
    a = world.actors
    digest = _record(world)
    world.ledger(a.patient).guardians.appoint(a.patient.address, guardian.address, until=world.chain.now() + 86400)
    world.ledger(a.patient).guardians.remove(a.patient.address, guardian.address)
    _assert_not_authorized(world, guardian, digest)


def test_break_glass_may_log_an_emergency_category_for_emergency_treatment(world):
    a = world.actors
    digest = _record(world, Category.ALLERGIES)
    world.ledger(a.provider).emergency.break_glass(a.patient.address, EmergencyReason.UNCONSCIOUS)
    assert _logged(world, _log(world, a.provider, digest, Purpose.ETREAT))["purpose"] == Purpose.ETREAT


def test_break_glass_may_not_log_for_ordinary_treatment(world):
    a = world.actors
    digest = _record(world, Category.ALLERGIES)
    world.ledger(a.provider).emergency.break_glass(a.patient.address, EmergencyReason.UNCONSCIOUS)
    _assert_not_authorized(world, a.provider, digest, Purpose.TREAT)


def test_break_glass_may_not_log_a_non_emergency_category(world):
    a = world.actors
    digest = _record(world, Category.MENTAL_HEALTH)
    world.ledger(a.provider).emergency.break_glass(a.patient.address, EmergencyReason.UNCONSCIOUS)
    _assert_not_authorized(world, a.provider, digest, Purpose.ETREAT)


def test_break_glass_may_not_log_after_its_window(world, clock):
    a = world.actors
    digest = _record(world, Category.ALLERGIES)
    world.ledger(a.provider).emergency.break_glass(a.patient.address, EmergencyReason.UNCONSCIOUS)
    clock.warp(24 * 3600 + 60)
    _assert_not_authorized(world, a.provider, digest, Purpose.ETREAT)


# -- which records ---------------------------------------------------------------------------


def test_an_unknown_record_is_refused(world):
    a = world.actors
    digest = random_digest()
    error = _refusal(lambda: _log(world, a.patient, digest))
    assert (error.error, error.arguments["patient"], error.arguments["digest"]) == (
        "UnknownRecord",
        a.patient.address,
        digest,
    )


def test_a_record_of_another_patient_is_unknown_here(world):
    a = world.actors
    digest = _record(world)
    error = _refusal(lambda: world.ledger(a.patient).records.log_access(a.other_patient.address, digest, Purpose.TREAT))
    assert error.error == "UnknownRecord"


def test_an_erased_record_is_refused(world):
    a = world.actors
    digest = _record(world)
    world.ledger(a.patient).records.erase(digest)
    error = _refusal(lambda: _log(world, a.patient, digest))
    assert (error.error, error.arguments["digest"]) == ("RecordIsErased", digest)


def test_an_erased_record_is_refused_to_a_grantee_too(world):
    a = world.actors
    digest = _record(world)
    grant_labs(world.ledger(a.patient), a.provider.address, permissions=Permission.READ)
    world.ledger(a.patient).records.erase(digest)
    assert _refusal(lambda: _log(world, a.provider, digest)).error == "RecordIsErased"


def test_an_amended_record_may_still_be_logged(world):
    a = world.actors
    digest = _record(world)
    world.ledger(a.patient).records.add(a.patient.address, random_digest(), CODEC_RAW, Category.LABS, supersedes=digest)
    assert _logged(world, _log(world, a.patient, digest))["digest"] == digest


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("purpose", [7, 255])
def test_an_unknown_purpose_is_refused_by_the_contract(world, purpose):
    a = world.actors
    digest = _record(world)
    ledger = world.ledger(a.patient)
    error = _refusal(
        lambda: ledger.sender.send(a.patient, ledger.contract.functions.logAccess(a.patient.address, digest, purpose))
    )
    assert (error.error, error.arguments["purpose"]) == ("InvalidPurpose", purpose)


def test_the_client_refuses_an_unknown_purpose_before_sending(world):
    with pytest.raises(InvalidArgumentError):
        _log(world, world.actors.patient, _record(world), 7)
