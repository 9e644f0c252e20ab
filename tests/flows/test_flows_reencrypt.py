"""Re-encryption after a revocation: the old record's new version is sealed only to current
readers, and the old version is erased."""

from __future__ import annotations

from pathlib import Path

import pytest

from medledger.chain.errors import ContractRevertError
from medledger.crypto import NotARecipientError
from medledger.flows.consent import revoke
from medledger.flows.errors import RecordErasedError
from medledger.flows.records import PublishResult, amend, fetch, publish, reencrypt

from .conftest import LABS, People, grant_read, sha256_of, write_source
from .test_flows_revocation import _decrypt_bypassing_the_chain

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]


@pytest.fixture
def old_record(people: People, tmp_path: Path) -> tuple[PublishResult, str]:
    """A labs record both grantees could read; then the clinic is revoked."""
    grant_read(people, people.clinic)
    grant_read(people, people.researcher)
    source = tmp_path / "old.json"
    expected = write_source(source, 4000, seed=7)
    record = publish(people.lab, people.patient.address, LABS, source)
    revoke(people.patient, people.clinic.address)
    return record, expected


def test_the_revoked_grantee_still_opens_the_old_version_before_reencryption(people, old_record):
    record, _ = old_record
    assert _decrypt_bypassing_the_chain(people.clinic, people.patient.address, record)


def test_no_key_the_revoked_grantee_ever_held_opens_the_reencrypted_version(people, old_record):
    fresh = reencrypt(people.patient, old_record[0].digest)
    with pytest.raises(NotARecipientError):
        _decrypt_bypassing_the_chain(people.clinic, people.patient.address, fresh)


def test_a_remaining_grantee_reads_the_reencrypted_version(people, old_record, tmp_path):
    record, expected = old_record
    fresh = reencrypt(people.patient, record.digest)
    out = fetch(people.researcher, people.patient.address, fresh.digest, tmp_path / "out.json")
    assert sha256_of(out.path) == expected


def test_the_reencrypted_version_supersedes_and_the_old_one_is_erased(people, old_record, tmp_path):
    record, _ = old_record
    fresh = reencrypt(people.patient, record.digest)
    ledger = people.patient.ledger
    old = ledger.records.get(people.patient.address, record.digest)
    assert old.erased and old.superseded
    assert ledger.records.get(people.patient.address, fresh.digest).exists
    with pytest.raises(RecordErasedError):
        fetch(people.researcher, people.patient.address, record.digest, tmp_path / "gone.json")


def test_only_the_current_version_can_be_reencrypted(people, old_record, tmp_path):
    record, _ = old_record
    newer = tmp_path / "newer.json"
    write_source(newer, 100, seed=8)
    amend(people.patient, people.patient.address, record.digest, newer)
    with pytest.raises(ContractRevertError) as caught:
        reencrypt(people.patient, record.digest)
    assert caught.value.error == "RecordAlreadySuperseded"
