"""Paid research studies, as people run them.

Researcher: `register_study` stores the protocol and the ethics-board approval (public documents in
the blob store, referenced by CID like records), approves the escrow and registers the study;
`read_study_record` reads one participant's de-identified record the way every read works (verified
blob -> the ledger's `logAccess` for HRESCH, confirmed -> the study's `logStudyAccess`, which earns
the participant's reward on the first read -> key release -> decrypt); `close_study` takes back the
places never earned once the study has ended.

Patient: `publish_study_data` de-identifies FHIR resources by Safe Harbor (fhir.deidentify) and
publishes the copies as the patient's own encrypted records, in the study's categories, so the
study reads those and never the originals; `enrol` gives the research consent on the ledger (merged
into any consent the researcher already holds) and enrols with those records (or, with
`sign_enrolment`, hands a signed Enrol to any relayer); `withdraw` leaves the study and revokes the
consent; `claim_reward` pulls the reward once the researcher has read.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from medledger.chain.transactions import Receipt
from medledger.fhir.deidentify import Deidentified, Deidentifier
from medledger.flows.errors import AccessDeniedError
from medledger.flows.records import FetchResult, PublishResult, publish
from medledger.flows.release import decrypt_blob, fetch_blob, log_read, release_key
from medledger.flows.session import Session
from medledger.keyservice.client import KeyReleaseClient
from medledger.ledger.base import InvalidArgumentError, checked_address
from medledger.ledger.signatures import SignedMessage
from medledger.ledger.studies import StudiesClient, Study, StudyTerms, sign_study_message
from medledger.ledger.tokens import TokenClient
from medledger.scopes import Category, Permission, Purpose, categories_in, category_name
from medledger.storage import BlobStore, Cid

# The record category a de-identified copy is published under, by resource type.
CATEGORY_OF: dict[str, Category] = {
    "Patient": Category.SUMMARY,
    "Condition": Category.SUMMARY,
    "Observation": Category.LABS,
    "DiagnosticReport": Category.LABS,
    "MedicationStatement": Category.MEDICATIONS,
    "AllergyIntolerance": Category.ALLERGIES,
    "Immunization": Category.IMMUNIZATIONS,
    "Procedure": Category.PROCEDURES,
    "Encounter": Category.NOTES,
}


class StudyError(AccessDeniedError):
    """A study step the study's rules refuse (the study is unknown or not in that phase, the data
    is not of the study's categories, the reward was paid already...): exit code 3 in the CLI."""


@dataclass(frozen=True)
class StoredDocument:
    """A document stored in the blob store, referenced on chain like a record (digest + codec)."""

    cid: str
    digest: bytes
    codec: int


@dataclass(frozen=True)
class RegisteredStudy:
    study_id: int
    tx_hash: str
    protocol: StoredDocument
    approval: StoredDocument
    deposit: int


@dataclass(frozen=True)
class StudyCopy:
    """One de-identified copy published for a study."""

    source: str
    resource_type: str
    category: int
    published: PublishResult
    removed: tuple[str, ...]
    generalised: tuple[str, ...]


@dataclass(frozen=True)
class StudyRead:
    fetched: FetchResult
    first: bool  # this read earned the participant's reward
    study_tx: str


def require_study(studies: StudiesClient, study_id: int) -> Study:
    study = studies.study(study_id)
    if study is None:
        raise StudyError(f"there is no study {study_id} (studies run 1..{studies.study_count()})")
    return study


# -- researchers -----------------------------------------------------------------------------


def store_document(store: BlobStore, path: str | os.PathLike[str]) -> StoredDocument:
    """Store a public document (a protocol, an approval letter) as it is; its CID names it on chain."""
    source = Path(path)
    if not source.is_file() or source.stat().st_size == 0:
        raise InvalidArgumentError(f"{source} is not a readable, non-empty file")
    with source.open("rb") as handle:
        cid = store.put(handle)
    store.pin(cid)
    parsed = cid if isinstance(cid, Cid) else Cid.parse(str(cid))
    return StoredDocument(str(parsed), parsed.digest, parsed.codec)


def register_study(
    session: Session,
    studies: StudiesClient,
    token: TokenClient,
    *,
    protocol: str | os.PathLike[str],
    approval: str | os.PathLike[str],
    categories: int,
    reward: int,
    places: int,
    enrolment_end: int,
    end: int,
    encrypt: bool = False,
) -> RegisteredStudy:
    """Store the documents, approve the deposit (places x reward) if needed, register the study.

    Documents are public by default (stored as they are: anyone with the CID reads them, as a
    trial registry would publish them). With `encrypt`, each is published as an encrypted record
    of the researcher's own (category `notes`), readable by the researcher and by whoever it grants
    (an ethics board or an auditor credentialed on the ledger), through the key-release services."""
    if encrypt:
        protocol_doc = _encrypted_document(session, protocol)
        approval_doc = _encrypted_document(session, approval)
    else:
        protocol_doc = store_document(session.store, protocol)
        approval_doc = store_document(session.store, approval)
    terms = StudyTerms(
        token=token.address,
        reward=int(reward),
        max_participants=int(places),
        categories=int(categories),
        enrolment_end=int(enrolment_end),
        end=int(end),
        protocol_digest=protocol_doc.digest,
        protocol_codec=protocol_doc.codec,
        approval_digest=approval_doc.digest,
        approval_codec=approval_doc.codec,
    ).check()
    balance = token.balance_of(session.address)
    if balance < terms.deposit:
        raise StudyError(
            f"the escrow needs {token.format(terms.deposit)} and {session.address} holds {token.format(balance)}"
        )
    if token.allowance(session.address, studies.address) < terms.deposit:
        token.as_signer(session.signer).approve(studies.address, terms.deposit)
    study_id, receipt = studies.as_signer(session.signer).register(terms)
    return RegisteredStudy(study_id, receipt.tx_hash, protocol_doc, approval_doc, terms.deposit)


def _encrypted_document(session: Session, path: str | os.PathLike[str]) -> StoredDocument:
    published = publish(session, session.address, int(Category.NOTES), path)
    return StoredDocument(published.cid, published.digest, published.codec)


def read_study_record(
    session: Session,
    studies: StudiesClient,
    study_id: int,
    patient: str,
    digest: bytes,
    destination: str | os.PathLike[str],
    *,
    client: KeyReleaseClient | None = None,
) -> StudyRead:
    """The researcher reads one de-identified study record: verified blob -> `logAccess` (HRESCH),
    confirmed -> `logStudyAccess` (the participant's reward, on the first read) -> key release ->
    decrypt. The study's log comes before the key is released, so no read goes unpaid."""
    patient = checked_address(patient, "patient")
    require_study(studies, study_id)
    if not studies.is_study_record(study_id, patient, digest):
        raise StudyError(f"record {bytes(digest).hex()} is not one of {patient}'s records for study {study_id}")
    destination = Path(destination)
    blob = fetch_blob(session, patient, digest, destination.parent / ".staging", Purpose.HRESCH)
    try:
        access_tx = log_read(session, blob, Purpose.HRESCH)
        first, receipt = studies.as_signer(session.signer).log_access(study_id, patient, digest)
        released = release_key(session, blob, access_tx, Purpose.HRESCH, client=client)
        size = decrypt_blob(session, blob, released.data_key, destination)
    finally:
        blob.path.unlink(missing_ok=True)
    fetched = FetchResult(
        blob.pointer, str(blob.cid), destination, size, False, "0x" + access_tx.hex(), released.attempts
    )
    return StudyRead(fetched, first, receipt.tx_hash)


def close_study(session: Session, studies: StudiesClient, study_id: int) -> tuple[int, Receipt]:
    """After the end: the refund of the places never earned, sent to the researcher."""
    study = require_study(studies, study_id)
    now = session.ledger.chain.now()
    if now < study.end:
        raise StudyError(f"study {study_id} runs until {study.end}; it can be closed from then on")
    return studies.as_signer(session.signer).close(study_id)


# -- patients --------------------------------------------------------------------------------


def deidentify_files(
    sources: Sequence[str | os.PathLike[str]], *, as_of: datetime | None = None
) -> list[tuple[Path, Deidentified]]:
    """The Safe Harbor copies of FHIR JSON files (one resource or a Bundle each), sharing pseudonyms."""
    deidentifier = Deidentifier(as_of=as_of)
    copies = []
    for source in sources:
        path = Path(source)
        try:
            resource = json.loads(path.read_text())
        except FileNotFoundError:
            raise InvalidArgumentError(f"{path} does not exist") from None
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise InvalidArgumentError(f"{path} is not a FHIR JSON file: {exc}") from None
        copies.append((path, deidentifier.one(resource)))
    return copies


def publish_study_data(
    session: Session,
    studies: StudiesClient,
    study_id: int,
    sources: Sequence[str | os.PathLike[str]],
    *,
    category: int | None = None,
    as_of: datetime | None = None,
) -> list[StudyCopy]:
    """De-identify each FHIR file and publish the copy as a record of the session's patient, in a
    category the study asks for (`category`, or the resource type's usual one). The originals are
    never published for the study."""
    study = require_study(studies, study_id)
    if session.ledger.chain.now() >= study.enrolment_end:
        raise StudyError(f"enrolment in study {study_id} has closed: data published now would not count")
    copies = deidentify_files(sources, as_of=as_of)
    plan = []
    for path, copy in copies:
        kind = str(copy.resource["resourceType"])
        chosen = int(category) if category is not None else int(CATEGORY_OF.get(kind, Category.SUMMARY))
        if not study.categories >> chosen & 1:
            asked = ", ".join(categories_in(study.categories))
            raise StudyError(
                f"{path.name} ({kind}) would be a {category_name(chosen)} record; study {study_id} asks for {asked} "
                "(choose one with --category)"
            )
        plan.append((path, copy, kind, chosen))
    results = []
    with tempfile.TemporaryDirectory(prefix="medledger-study-") as staging:
        for n, (path, copy, kind, chosen) in enumerate(plan):
            staged = Path(staging) / f"{n}-{kind.lower()}.json"
            staged.write_text(json.dumps(copy.resource, sort_keys=True))
            published = publish(session, session.address, chosen, staged)
            results.append(StudyCopy(str(path), kind, chosen, published, tuple(copy.removed), tuple(copy.generalised)))
    return results


def research_consent(session: Session, study: Study) -> Receipt | None:
    """Give the study's researcher research consent covering the study (HRESCH, READ, the study's
    categories, until its end), merged into any consent they hold already; None when it covers it."""
    current = session.ledger.consent.get(session.address, study.researcher)
    now = session.ledger.chain.now()
    live = current.expiry > now
    categories = study.categories | (current.categories if live else 0)
    purposes = (1 << Purpose.HRESCH) | (current.purposes if live else 0)
    permissions = Permission.READ | (current.permissions if live else 0)
    expiry = max(study.end, current.expiry if live else 0)
    if (
        live
        and current.categories & study.categories == study.categories
        and current.purposes >> Purpose.HRESCH & 1
        and current.permissions & Permission.READ
        and current.expiry >= study.end
    ):
        return None
    return session.ledger.consent.grant(
        study.researcher, categories=categories, purposes=purposes, permissions=permissions, expiry=expiry
    )


def enrol(session: Session, studies: StudiesClient, study_id: int, digests: Sequence[bytes]) -> Receipt:
    """Consent on the ledger (if needed), then enrol with the published study records."""
    study = require_study(studies, study_id)
    _check_enrolment(session, study, digests)
    research_consent(session, study)
    return studies.as_signer(session.signer).enrol(study_id, digests)


def sign_enrolment(
    session: Session, studies: StudiesClient, study_id: int, digests: Sequence[bytes], *, valid_for: int = 86_400
) -> SignedMessage:
    """Consent on the ledger (if needed), then a signed Enrol for any relayer to send."""
    study = require_study(studies, study_id)
    _check_enrolment(session, study, digests)
    research_consent(session, study)
    data = studies.enrol_data(study_id, session.address, digests, valid_for=valid_for)
    return sign_study_message(session.signer, data)


def withdraw(session: Session, studies: StudiesClient, study_id: int, *, keep_consent: bool = False) -> list[str]:
    """Leave the study and (unless `keep_consent`) revoke the researcher's consent on the ledger,
    which ends every later read, for this study and any other. The transactions sent."""
    study = require_study(studies, study_id)
    sent = [studies.as_signer(session.signer).withdraw(study_id).tx_hash]
    if not keep_consent and session.ledger.consent.get(session.address, study.researcher).categories:
        sent.append(session.ledger.consent.revoke(study.researcher).tx_hash)
    return sent


def claim_reward(session: Session, studies: StudiesClient, study_id: int, patient: str | None = None) -> int:
    """Pay `patient` (default: the session's account) the reward they earned; the amount."""
    patient = checked_address(patient or session.address, "patient")
    require_study(studies, study_id)
    entry = studies.participant(study_id, patient)
    if entry.paid:
        raise StudyError(f"{patient}'s reward for study {study_id} was paid already")
    if not entry.accessed:
        raise AccessDeniedError(
            f"{patient} has no reward to claim in study {study_id}: it is earned when the researcher first reads "
            "their study data"
        )
    amount, _ = studies.as_signer(session.signer).claim(study_id, patient)
    return amount


def _check_enrolment(session: Session, study: Study, digests: Sequence[bytes]) -> None:
    now = session.ledger.chain.now()
    if now >= study.enrolment_end:
        raise StudyError(f"enrolment in study {study.study_id} has closed")
    if not digests:
        raise StudyError("publish de-identified data for the study first (`medledger study enrol --data FILE`)")
    for digest in digests:
        pointer = session.ledger.records.get(session.address, digest)
        if not pointer.exists or pointer.erased:
            raise StudyError(f"record {bytes(digest).hex()} is not a live record of {session.address}")
        if not study.categories >> pointer.category & 1:
            raise StudyError(f"record {bytes(digest).hex()} is a {category_name(pointer.category)} record")


def study_summary(studies: StudiesClient, token: TokenClient, study: Study) -> dict[str, Any]:
    """A study as the CLI and the demo show it (amounts in the token's units)."""
    now = studies.chain.now()
    return {
        "study": study.study_id,
        "researcher": study.researcher,
        "status": study.phase(now),
        "token": study.token,
        "reward": token.format(study.reward),
        "places": study.max_participants,
        "enrolled": study.enrolled,
        "earned": study.earned,
        "paid": study.paid,
        "deposit": token.format(study.deposit),
        "categories": categories_in(study.categories),
        "enrolmentEnd": study.enrolment_end,
        "end": study.end,
        "protocol": str(Cid.from_digest(study.protocol_digest, study.protocol_codec)),
        "approval": str(Cid.from_digest(study.approval_digest, study.approval_codec)),
    }
