"""Every change the patient makes to a grant holds for every record, old and new, the moment it is
on chain: a grantee holds no key of its own, and the key-release services check the consent at
each release. Revocation, narrowing (issue 9's regression), expiry and purpose, through three real
services on anvil."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest

from medledger.crypto import NotARecipientError, decrypt_stream
from medledger.flows import AccessDeniedError, Session
from medledger.flows.consent import grant, revoke
from medledger.flows.records import PublishResult, fetch, publish
from medledger.flows.release import FetchedBlob, log_read, release_key
from medledger.flows.streams import chunk_reader
from medledger.keyservice.errors import ReleaseFailedError
from medledger.scopes import Category, Permission, Purpose, mask
from medledger.storage import Cid
from medledger.storage.proof import header_proof_blocks

from .conftest import LABS, TREATMENT, People, grant_read, refused_after, sha256_of, write_source

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]

ALLERGIES = Category.ALLERGIES


def _publish(people: People, tmp_path: Path, seed: int, category: Category = LABS) -> tuple[PublishResult, str]:
    source = tmp_path / f"record-{seed}.json"
    expected = write_source(source, 1000 + seed, seed=seed)
    return publish(people.lab, people.patient.address, category, source), expected


def _grant(people: People, categories: list[Category], expiry: timedelta = timedelta(days=30)) -> None:
    grant(
        people.patient,
        people.clinic.address,
        categories=mask(categories),
        purposes=TREATMENT,
        permissions=Permission.READ,
        expiry=expiry,
    )


def _decrypt_with_own_key(session: Session, patient: str, record: PublishResult, category: Category) -> bytes:
    """The reader's own key pair, no chain check: what a grantee holds without the services."""
    out = io.BytesIO()
    blob = chunk_reader(session.store.get(Cid.from_digest(record.digest, record.codec)))
    author = session.ledger.records.get(patient, record.digest).author
    decrypt_stream(blob, out, binding=session.binding(patient, category, author=author), identity=session.keypair)
    return out.getvalue()


def _codes(failed: ReleaseFailedError) -> list[str]:
    return sorted(attempt.code for attempt in failed.attempts)


@pytest.fixture
def both_categories(people: People) -> People:
    """The lab may write labs and allergies; the clinic may read both for treatment."""
    grant(
        people.patient,
        people.lab.address,
        categories=mask([LABS, ALLERGIES]),
        purposes=TREATMENT,
        permissions=Permission.WRITE,
        expiry=timedelta(days=365),
    )
    _grant(people, [LABS, ALLERGIES])
    return people


def test_a_read_grant_hands_the_grantee_no_key(people: People, tmp_path: Path) -> None:
    grant_read(people, people.clinic)
    record, _ = _publish(people, tmp_path, 1)

    with pytest.raises(NotARecipientError):
        _decrypt_with_own_key(people.clinic, people.patient.address, record, LABS)


def test_revoked_grantee_is_refused_before_anything_is_logged(people: People, tmp_path: Path) -> None:
    grant_read(people, people.clinic)
    record, _ = _publish(people, tmp_path, 2)
    revoke(people.patient, people.clinic.address)

    with pytest.raises(AccessDeniedError):
        fetch(people.clinic, people.patient.address, record.digest, tmp_path / "out.json")
    assert not (tmp_path / "out.json").exists()


def test_a_read_under_way_when_the_grant_is_revoked_is_refused_by_every_service(people: People, tmp_path: Path) -> None:
    grant_read(people, people.clinic)
    record, _ = _publish(people, tmp_path, 3)

    failed = refused_after(
        people.clinic,
        people.patient.address,
        record.digest,
        tmp_path,
        lambda: revoke(people.patient, people.clinic.address),
    )

    assert _codes(failed) == ["no-access"] * 3


def test_remaining_grantee_reads_after_another_is_revoked(people: People, tmp_path: Path) -> None:
    grant_read(people, people.clinic)
    grant_read(people, people.researcher)
    record, expected = _publish(people, tmp_path, 4)
    revoke(people.patient, people.clinic.address)

    out = fetch(people.researcher, people.patient.address, record.digest, tmp_path / "researcher.json")

    assert sha256_of(out.path) == expected


def test_after_narrowing_an_allergies_record_published_afterwards_opens_with_no_key_the_grantee_holds(
    both_categories: People, tmp_path: Path
) -> None:
    """Issue 9, first bullet: narrowed to labs, the clinic decrypted an allergies record published
    after the narrowing with the keyring it kept. Now it holds no key at all."""
    people = both_categories
    _grant(people, [LABS])  # narrowed
    record, _ = _publish(people, tmp_path, 5, ALLERGIES)

    with pytest.raises(NotARecipientError):
        _decrypt_with_own_key(people.clinic, people.patient.address, record, ALLERGIES)
    with pytest.raises(AccessDeniedError):
        fetch(people.clinic, people.patient.address, record.digest, tmp_path / "out.json")


def test_after_narrowing_the_services_refuse_the_dropped_category_even_with_an_earlier_logged_access(
    both_categories: People, tmp_path: Path
) -> None:
    """The narrowed clinic cannot log a read of the new allergies record (logAccess refuses it),
    so it offers the services the access it logged for an allergies record before the narrowing:
    every service refuses."""
    people = both_categories
    earlier, _ = _publish(people, tmp_path, 6, ALLERGIES)
    clinic = people.clinic
    earlier_blob = _fetched(clinic, people.patient.address, earlier, tmp_path / "earlier.blob")
    access_tx = log_read(clinic, earlier_blob)
    _grant(people, [LABS])  # narrowed
    record, _ = _publish(people, tmp_path, 7, ALLERGIES)
    blob = _fetched(clinic, people.patient.address, record, tmp_path / "new.blob")

    with pytest.raises(ReleaseFailedError) as failed:
        release_key(clinic, blob, access_tx)

    assert all(attempt.outcome == "refused" for attempt in failed.value.attempts)
    assert len(failed.value.attempts) == 3


def test_a_read_under_way_when_the_grant_is_narrowed_is_refused_by_every_service(
    both_categories: People, tmp_path: Path
) -> None:
    people = both_categories
    record, _ = _publish(people, tmp_path, 8, ALLERGIES)

    failed = refused_after(
        people.clinic, people.patient.address, record.digest, tmp_path, lambda: _grant(people, [LABS])
    )

    assert _codes(failed) == ["no-access"] * 3


def test_the_category_kept_by_a_narrowing_stays_readable(both_categories: People, tmp_path: Path) -> None:
    people = both_categories
    record, expected = _publish(people, tmp_path, 9, LABS)
    _grant(people, [LABS])

    out = fetch(people.clinic, people.patient.address, record.digest, tmp_path / "labs.json")

    assert sha256_of(out.path) == expected


def test_a_read_under_way_when_the_grant_expires_is_refused_by_every_service(people: People, tmp_path: Path) -> None:
    _grant(people, [LABS], expiry=timedelta(minutes=5))
    record, _ = _publish(people, tmp_path, 10)

    failed = refused_after(
        people.clinic,
        people.patient.address,
        record.digest,
        tmp_path,
        lambda: people.patient.ledger.chain.increase_time(5 * 60 + 1),
    )

    assert _codes(failed) == ["no-access"] * 3


def test_a_release_for_a_purpose_not_granted_is_refused_by_every_service(people: People, tmp_path: Path) -> None:
    """The clinic logs a TREAT read, then asks the services for the key for research."""
    grant_read(people, people.clinic)
    record, _ = _publish(people, tmp_path, 11)
    blob = _fetched(people.clinic, people.patient.address, record, tmp_path / "blob")
    access_tx = log_read(people.clinic, blob, Purpose.TREAT)

    with pytest.raises(ReleaseFailedError) as failed:
        release_key(people.clinic, blob, access_tx, Purpose.HRESCH)

    assert all(attempt.outcome == "refused" for attempt in failed.value.attempts)


def _fetched(session: Session, patient: str, record: PublishResult, path: Path) -> FetchedBlob:
    """The verified blob and its header, fetched without the client-side access check (as a
    client that skips it would)."""
    from medledger.crypto import read_header

    cid = Cid.from_digest(record.digest, record.codec)
    with path.open("wb") as out:
        for chunk in session.store.get(cid):
            out.write(chunk)
    with path.open("rb") as blob:
        header = read_header(blob)
    pointer = session.ledger.records.get(patient, record.digest)
    return FetchedBlob(pointer, cid, path, header, tuple(header_proof_blocks(session.store, cid)))
