"""MedLedger under eth-brownie: providers, consent, records, suspension and expiry.

Custom errors surface in brownie as revert messages "<ErrorName>: <arg>, <arg>", decoded
with the project's ABIs: addresses in lower case, bytes32 as a Python bytes repr.
`brownie.reverts(message)` matches exactly, `brownie.reverts(revert_pattern=...)` by regex.
"""

import brownie
from conftest import CLINICIAN, DAY, latest_timestamp

from medledger.scopes import Category, Permission, Purpose, mask

LABS = int(Category.LABS)
IMAGING = int(Category.IMAGING)
TREAT = int(Purpose.TREAT)
HRESCH = int(Purpose.HRESCH)
READ = int(Permission.READ)
WRITE = int(Permission.WRITE)
CODEC_RAW = 0x55
NO_SUPERSEDES = b"\x00" * 32
DIGEST = b"\x11" * 32


def error(name, *args):
    """The revert message brownie shows for a custom error."""
    return f"{name}: {', '.join(str(arg).lower() for arg in args)}"


def grant_labs(ledger, patient, grantee, permissions, expiry):
    return ledger.grant(grantee, mask([LABS]), mask([TREAT]), permissions, expiry, {"from": patient})


def test_registrar_registers_an_active_provider(ledger, registrar, stranger):
    tx = ledger.registerProvider(stranger, CLINICIAN, {"from": registrar})

    assert ledger.isActiveProvider(stranger)
    assert tx.events["ProviderRegistered"]["provider"] == stranger


def test_only_a_registrar_may_register_providers(ledger, stranger):
    with brownie.reverts(revert_pattern=rf"AccessControlUnauthorizedAccount: {stranger.address.lower()}, .+"):
        ledger.registerProvider(stranger, CLINICIAN, {"from": stranger})


def test_grant_gives_access_only_within_its_scope(ledger, patient, clinic, expiry):
    tx = grant_labs(ledger, patient, clinic, READ, expiry)

    assert tx.events["ConsentGranted"]["grantee"] == clinic
    assert ledger.hasAccess(patient, clinic, LABS, TREAT, READ)
    assert not ledger.hasAccess(patient, clinic, IMAGING, TREAT, READ)
    assert not ledger.hasAccess(patient, clinic, LABS, HRESCH, READ)
    assert not ledger.hasAccess(patient, clinic, LABS, TREAT, WRITE)


def test_grant_to_an_unregistered_account_reverts(ledger, patient, stranger, expiry):
    with brownie.reverts(error("UnknownProvider", stranger)):
        grant_labs(ledger, patient, stranger, READ, expiry)


def test_revoke_ends_access(ledger, patient, clinic, expiry):
    grant_labs(ledger, patient, clinic, READ, expiry)

    tx = ledger.revoke(clinic, {"from": patient})

    assert "ConsentRevoked" in tx.events
    assert not ledger.hasAccess(patient, clinic, LABS, TREAT, READ)


def test_revoke_without_consent_reverts(ledger, patient, clinic):
    with brownie.reverts(error("NoConsent", patient, clinic)):
        ledger.revoke(clinic, {"from": patient})


def test_grantee_with_write_permission_adds_a_record(ledger, patient, lab, expiry):
    grant_labs(ledger, patient, lab, WRITE, expiry)

    tx = ledger.addRecord(patient, DIGEST, CODEC_RAW, LABS, NO_SUPERSEDES, {"from": lab})

    assert tx.events["RecordAdded"]["author"] == lab
    assert ledger.recordOf(patient, DIGEST)[0] == lab


def test_add_record_without_consent_reverts(ledger, patient, lab):
    with brownie.reverts(error("NotAuthorized", lab)):
        ledger.addRecord(patient, DIGEST, CODEC_RAW, LABS, NO_SUPERSEDES, {"from": lab})


def test_read_only_grantee_cannot_add_records(ledger, patient, clinic, expiry):
    grant_labs(ledger, patient, clinic, READ, expiry)

    with brownie.reverts(error("NotAuthorized", clinic)):
        ledger.addRecord(patient, DIGEST, CODEC_RAW, LABS, NO_SUPERSEDES, {"from": clinic})


def test_suspension_ends_access_and_reinstatement_restores_it(ledger, registrar, patient, clinic, expiry):
    grant_labs(ledger, patient, clinic, READ, expiry)

    ledger.suspendProvider(clinic, {"from": registrar})
    assert not ledger.hasAccess(patient, clinic, LABS, TREAT, READ)

    ledger.reinstateProvider(clinic, {"from": registrar})
    assert ledger.hasAccess(patient, clinic, LABS, TREAT, READ)


def test_access_ends_at_expiry(ledger, patient, clinic, chain):
    grant_labs(ledger, patient, clinic, READ, latest_timestamp() + DAY)
    assert ledger.hasAccess(patient, clinic, LABS, TREAT, READ)

    chain.sleep(DAY + 1)
    chain.mine()

    assert not ledger.hasAccess(patient, clinic, LABS, TREAT, READ)


def test_expiry_must_be_in_the_future(ledger, patient, clinic):
    now = latest_timestamp()
    with brownie.reverts(revert_pattern=rf"ExpiryNotInFuture: {now}, \d+"):
        grant_labs(ledger, patient, clinic, READ, now)
