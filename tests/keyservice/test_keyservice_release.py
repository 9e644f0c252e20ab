"""Threshold key release, end to end: a reader, five real services (3 of 5) on loopback, anvil.

A read succeeds only with a fresh, logged, on-chain-authorised release; every honest service
refuses every read the patient's rules do not allow at the moment it asks.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from medledger.flows.release import fetch_blob, log_read, read_record, release_key
from medledger.keyservice.client import KeyReleaseClient, service_directory
from medledger.keyservice.errors import ReleaseFailedError, ServiceAttempt
from medledger.keyservice.requests import ReleaseDomain, ReleaseRequest, SignedRelease
from medledger.ledger.emergency import EmergencyReason
from medledger.scopes import Category, Purpose

from .conftest import SERVICE_COUNT, KeyWorld

pytestmark = [pytest.mark.anvil]

LAB_REPORT = b"potassium 4.1 mmol/L; sodium 139 mmol/L\n" * 50
ALLERGY = b"penicillin: anaphylaxis\n"


def codes(failed: pytest.ExceptionInfo[ReleaseFailedError]) -> list[str]:
    return [attempt.code or attempt.outcome for attempt in failed.value.attempts]


def every_service_refuses(failed: pytest.ExceptionInfo[ReleaseFailedError], code: str) -> None:
    assert codes(failed) == [code] * SERVICE_COUNT, failed.value


def prepared(
    kw: KeyWorld,
    reader,
    tmp_path: Path,
    category: Category = Category.LABS,  # type: ignore[no-untyped-def]
    content: bytes = LAB_REPORT,
    purpose: Purpose = Purpose.TREAT,
):
    """A published record, fetched by `reader` with its access logged: (session, blob, access tx)."""
    digest = kw.publish(category, content)
    session = kw.session(reader)
    blob = fetch_blob(session, kw.patient.address, digest, tmp_path / "blobs", purpose)
    return session, blob, log_read(session, blob, purpose)


def post_to_every_service(kw: KeyWorld, session, blob, access_tx: bytes) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    """Send each service the same signed request (no early stop): (status, code or 'released') each."""
    domain = ReleaseDomain(kw.chain.chain_id, kw.deployment.ledger_address)
    answers = []
    for service in service_directory(session.ledger, kw.set_version):
        request = ReleaseRequest(
            service.address, kw.patient.address, blob.pointer.digest, 0, access_tx, bytes(32 * [7]), kw.now() + 60
        )
        body = SignedRelease(request, request.sign(session.signer, domain), blob.proof).to_json()
        response = httpx.post(service.url + "/v1/release", json=body, timeout=10)
        data = response.json()
        answers.append((response.status_code, data["error"]["code"] if "error" in data else "released"))
    return answers


# -- reads that work --------------------------------------------------------------------------------


def test_a_granted_reader_reads_a_record_through_three_services(kw: KeyWorld, tmp_path: Path) -> None:
    digest = kw.publish(Category.LABS, LAB_REPORT)
    kw.grant(kw.clinic, [Category.LABS])
    lines: list[str] = []
    result = read_record(kw.session(kw.clinic), kw.patient.address, digest, tmp_path / "labs.txt", step=lines.append)
    assert (tmp_path / "labs.txt").read_bytes() == LAB_REPORT
    assert sum(attempt.outcome == "share" for attempt in result.attempts) >= 3
    assert any("access logged" in line for line in lines) and any("decrypted" in line for line in lines)


def test_the_read_is_logged_on_chain_before_any_share_is_released(kw: KeyWorld, tmp_path: Path) -> None:
    digest = kw.publish(Category.LABS, LAB_REPORT)
    kw.grant(kw.clinic, [Category.LABS])
    result = read_record(kw.session(kw.clinic), kw.patient.address, digest, tmp_path / "labs.txt")
    logged = kw.ledger().events("AccessLogged", patient=kw.patient.address, accessor=kw.clinic.address)
    assert [("0x" + bytes(event["transactionHash"]).hex(), event["args"]["digest"]) for event in logged] == [
        (result.access_tx, digest)
    ]


def test_a_read_succeeds_with_two_services_down(kw: KeyWorld, tmp_path: Path) -> None:
    digest = kw.publish(Category.LABS, LAB_REPORT)
    kw.grant(kw.clinic, [Category.LABS])
    kw.fleet.stop(1)
    kw.fleet.stop(4)
    result = read_record(kw.session(kw.clinic), kw.patient.address, digest, tmp_path / "labs.txt")
    assert (tmp_path / "labs.txt").read_bytes() == LAB_REPORT
    outcomes = [attempt.outcome for attempt in result.attempts]
    assert outcomes[0] == outcomes[3] == "unreachable"
    assert outcomes.count("share") == 3


def test_a_read_fails_clearly_with_three_services_down(kw: KeyWorld, tmp_path: Path) -> None:
    digest = kw.publish(Category.LABS, LAB_REPORT)
    kw.grant(kw.clinic, [Category.LABS])
    for index in (1, 2, 3):
        kw.fleet.stop(index)
    with pytest.raises(ReleaseFailedError) as failed:
        read_record(kw.session(kw.clinic), kw.patient.address, digest, tmp_path / "labs.txt")
    message = str(failed.value)
    assert message.startswith("only 2 of the 3 shares needed")
    for service in kw.fleet.services:  # every service tried is named, with its URL
        assert service.signer.address in message and service.url in message
    assert codes(failed) == ["unreachable"] * 3 + ["share"] * 2
    assert "\n" not in message
    assert not (tmp_path / "labs.txt").exists()


def test_a_wrong_share_is_detected_named_and_the_read_still_succeeds(kw: KeyWorld, tmp_path: Path) -> None:
    kw.grant(kw.clinic, [Category.LABS])
    session, blob, access_tx = prepared(kw, kw.clinic, tmp_path)
    kw.fleet.stop(5)
    kw.fleet.start(5, faulty=True)  # service 5's key and address, but it flips a bit of its share
    kw.fleet.stop(4)
    kw.fleet.pause(1)  # service 1 answers only once the faulty service's answer is in

    def on_answer(attempt: ServiceAttempt) -> None:
        if attempt.address == kw.fleet[5].signer.address:
            kw.fleet.resume(1)

    result = release_key(session, blob, access_tx, on_answer=on_answer)
    assert [(a.address, a.url) for a in result.wrong] == [(kw.fleet[5].signer.address, kw.fleet[5].url)]
    assert "fails its commitment" in result.wrong[0].describe()
    assert [a.outcome for a in result.attempts] == ["share", "share", "share", "unreachable", "wrong-share"]


def test_a_guardian_reads_while_the_guardianship_lasts(kw: KeyWorld, tmp_path: Path) -> None:
    kw.ledger(kw.patient).guardians.appoint(kw.patient.address, kw.guardian.address, until=kw.now() + 86400)
    digest = kw.publish(Category.MENTAL_HEALTH, b"guardian-visible note\n")
    read_record(kw.session(kw.guardian), kw.patient.address, digest, tmp_path / "note.txt")
    assert (tmp_path / "note.txt").read_bytes() == b"guardian-visible note\n"


def test_a_guardians_logged_access_is_refused_once_the_guardianship_ends(kw: KeyWorld, tmp_path: Path) -> None:
    kw.ledger(kw.patient).guardians.appoint(kw.patient.address, kw.guardian.address, until=kw.now() + 86400)
    session, blob, access_tx = prepared(kw, kw.guardian, tmp_path, Category.MENTAL_HEALTH, b"note\n")
    kw.ledger(kw.patient).guardians.remove(kw.patient.address, kw.guardian.address)
    with pytest.raises(ReleaseFailedError) as failed:
        release_key(session, blob, access_tx)
    every_service_refuses(failed, "no-access")


# -- every honest service refuses ------------------------------------------------------------------


def test_every_service_refuses_after_revocation(kw: KeyWorld, tmp_path: Path) -> None:
    kw.grant(kw.clinic, [Category.LABS])
    session, blob, access_tx = prepared(kw, kw.clinic, tmp_path)
    kw.ledger(kw.patient).consent.revoke(kw.clinic.address)
    with pytest.raises(ReleaseFailedError) as failed:
        release_key(session, blob, access_tx)
    every_service_refuses(failed, "no-access")


def test_every_service_refuses_a_category_dropped_by_narrowing(kw: KeyWorld, tmp_path: Path) -> None:
    """Regression (issue 9): a grant narrowed to fewer categories left the dropped category readable."""
    kw.grant(kw.clinic, [Category.LABS, Category.ALLERGIES])
    session, blob, access_tx = prepared(kw, kw.clinic, tmp_path, Category.ALLERGIES, ALLERGY)
    kw.grant(kw.clinic, [Category.LABS])  # re-granted without allergies
    with pytest.raises(ReleaseFailedError) as failed:
        release_key(session, blob, access_tx)
    every_service_refuses(failed, "no-access")


def test_a_record_published_after_narrowing_cannot_even_be_logged(kw: KeyWorld, tmp_path: Path) -> None:
    kw.grant(kw.clinic, [Category.LABS, Category.ALLERGIES])
    kw.grant(kw.clinic, [Category.LABS])
    digest = kw.publish(Category.ALLERGIES, ALLERGY)
    from medledger.flows.errors import AccessDeniedError

    with pytest.raises(AccessDeniedError):
        read_record(kw.session(kw.clinic), kw.patient.address, digest, tmp_path / "allergy.txt")


def test_every_service_refuses_after_the_consent_expires(kw: KeyWorld, tmp_path: Path) -> None:
    kw.grant(kw.clinic, [Category.LABS], expiry=timedelta(seconds=120))
    session, blob, access_tx = prepared(kw, kw.clinic, tmp_path)
    kw.warp(180)  # past the expiry, well within the services' max access age
    with pytest.raises(ReleaseFailedError) as failed:
        release_key(session, blob, access_tx)
    every_service_refuses(failed, "no-access")


def test_every_service_refuses_a_suspended_provider(kw: KeyWorld, tmp_path: Path) -> None:
    kw.grant(kw.clinic, [Category.LABS])
    session, blob, access_tx = prepared(kw, kw.clinic, tmp_path)
    kw.ledger(kw.registrar).providers.suspend(kw.clinic.address)
    with pytest.raises(ReleaseFailedError) as failed:
        release_key(session, blob, access_tx)
    every_service_refuses(failed, "no-access")


def test_every_service_refuses_a_purpose_the_patient_no_longer_grants(kw: KeyWorld, tmp_path: Path) -> None:
    kw.grant(kw.researcher, [Category.LABS], [Purpose.TREAT, Purpose.HRESCH])
    session, blob, access_tx = prepared(kw, kw.researcher, tmp_path, purpose=Purpose.HRESCH)
    kw.grant(kw.researcher, [Category.LABS], [Purpose.TREAT])
    with pytest.raises(ReleaseFailedError) as failed:
        release_key(session, blob, access_tx, Purpose.HRESCH)
    every_service_refuses(failed, "no-access")


def test_every_service_refuses_a_purpose_other_than_the_one_logged(kw: KeyWorld, tmp_path: Path) -> None:
    kw.grant(kw.researcher, [Category.LABS], [Purpose.TREAT])
    session, blob, access_tx = prepared(kw, kw.researcher, tmp_path)
    with pytest.raises(ReleaseFailedError) as failed:
        release_key(session, blob, access_tx, Purpose.HRESCH)
    every_service_refuses(failed, "access-not-logged")


def test_every_service_refuses_without_a_logged_access(kw: KeyWorld, tmp_path: Path) -> None:
    kw.grant(kw.clinic, [Category.LABS])
    session, blob, _ = prepared(kw, kw.clinic, tmp_path)
    grant_tx = (
        kw.ledger(kw.patient)
        .consent.grant(kw.researcher.address, categories=2, purposes=1, permissions=1, expiry=timedelta(days=1))
        .tx_hash
    )
    for access_tx in (bytes(32 * [0xAB]), bytes.fromhex(grant_tx[2:])):  # never mined; mined but no AccessLogged
        with pytest.raises(ReleaseFailedError) as failed:
            release_key(session, blob, access_tx)
        every_service_refuses(failed, "access-not-logged")


def test_every_service_refuses_an_access_logged_by_someone_else(kw: KeyWorld, tmp_path: Path) -> None:
    kw.grant(kw.clinic, [Category.LABS])
    kw.grant(kw.researcher, [Category.LABS])
    session, blob, _ = prepared(kw, kw.clinic, tmp_path)
    researchers_tx = log_read(kw.session(kw.researcher), blob)
    with pytest.raises(ReleaseFailedError) as failed:
        release_key(session, blob, researchers_tx)
    every_service_refuses(failed, "access-not-logged")


def test_every_service_refuses_an_access_logged_for_another_record(kw: KeyWorld, tmp_path: Path) -> None:
    kw.grant(kw.clinic, [Category.LABS])
    _, _, other_tx = prepared(kw, kw.clinic, tmp_path, content=b"another lab report\n")
    session, blob, _ = prepared(kw, kw.clinic, tmp_path)
    with pytest.raises(ReleaseFailedError) as failed:
        release_key(session, blob, other_tx)
    every_service_refuses(failed, "access-not-logged")


def test_every_service_refuses_a_replayed_request(kw: KeyWorld, tmp_path: Path) -> None:
    kw.grant(kw.clinic, [Category.LABS])
    session, blob, access_tx = prepared(kw, kw.clinic, tmp_path)
    assert post_to_every_service(kw, session, blob, access_tx) == [(200, "released")] * SERVICE_COUNT
    assert post_to_every_service(kw, session, blob, access_tx) == [(409, "replayed")] * SERVICE_COUNT


def test_every_service_refuses_an_expired_request(kw: KeyWorld, tmp_path: Path) -> None:
    kw.grant(kw.clinic, [Category.LABS])
    session, blob, access_tx = prepared(kw, kw.clinic, tmp_path)
    client = KeyReleaseClient(lifetime=30)
    services = service_directory(session.ledger, kw.set_version)
    domain = ReleaseDomain(kw.chain.chain_id, kw.deployment.ledger_address)
    with pytest.raises(ReleaseFailedError) as failed:
        client.request_key(
            session.signer,
            domain,
            blob.header,
            blob.proof,
            patient=kw.patient.address,
            digest=blob.pointer.digest,
            purpose=0,
            access_tx=access_tx,
            services=services,
            now=kw.now() - 31,
        )  # its deadline is a second in the past
    every_service_refuses(failed, "request-expired")


def test_every_service_refuses_after_break_glass_closes(kw: KeyWorld, tmp_path: Path) -> None:
    clinic = kw.ledger(kw.clinic)
    clinic.emergency.break_glass(kw.patient.address, EmergencyReason.UNCONSCIOUS)
    session, blob, access_tx = prepared(kw, kw.clinic, tmp_path, Category.ALLERGIES, ALLERGY, Purpose.ETREAT)
    clinic.emergency.close(kw.patient.address, kw.clinic.address)
    with pytest.raises(ReleaseFailedError) as failed:
        release_key(session, blob, access_tx, Purpose.ETREAT)
    every_service_refuses(failed, "no-access")


def test_break_glass_opens_an_emergency_read_while_its_window_lasts(kw: KeyWorld, tmp_path: Path) -> None:
    kw.ledger(kw.clinic).emergency.break_glass(kw.patient.address, EmergencyReason.UNCONSCIOUS)
    digest = kw.publish(Category.ALLERGIES, ALLERGY)
    read_record(kw.session(kw.clinic), kw.patient.address, digest, tmp_path / "allergy.txt", purpose=Purpose.ETREAT)
    assert (tmp_path / "allergy.txt").read_bytes() == ALLERGY


# -- the service's own state ----------------------------------------------------------------------


def test_a_restarted_service_keeps_its_log_and_still_refuses_a_replay(kw: KeyWorld, tmp_path: Path) -> None:
    kw.grant(kw.clinic, [Category.LABS])
    session, blob, access_tx = prepared(kw, kw.clinic, tmp_path)
    assert post_to_every_service(kw, session, blob, access_tx)[1] == (200, "released")
    kw.fleet.stop(2)
    kw.fleet.start(2)
    assert post_to_every_service(kw, session, blob, access_tx)[1] == (409, "replayed")


def test_each_decision_is_in_the_service_log_without_any_secret(kw: KeyWorld, tmp_path: Path) -> None:
    import sqlite3

    kw.grant(kw.clinic, [Category.LABS])
    session, blob, access_tx = prepared(kw, kw.clinic, tmp_path)
    post_to_every_service(kw, session, blob, access_tx)
    post_to_every_service(kw, session, blob, access_tx)
    db = sqlite3.connect(f"file:{kw.fleet[3].database}?mode=ro", uri=True)
    rows = db.execute(
        "SELECT reader, digest, access_tx, set_version, outcome FROM releases WHERE access_tx = ?", (access_tx.hex(),)
    ).fetchall()
    assert rows == [
        (kw.clinic.address, blob.pointer.digest.hex(), access_tx.hex(), kw.set_version, outcome)
        for outcome in ("released", "replayed")
    ]


def test_health_reports_membership_of_the_current_set(kw: KeyWorld) -> None:
    health = httpx.get(kw.fleet[2].url + "/health", timeout=5).json()
    assert health["ok"] and health["memberIndex"] == 2 and health["holdsKey"] and health["logWritable"]
    assert health["currentSet"] == kw.set_version


def test_an_oversized_body_is_refused_with_413(kw: KeyWorld) -> None:
    response = httpx.post(
        kw.fleet[1].url + "/v1/release",
        content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "too-large"


def test_a_body_that_is_not_json_is_refused_as_a_bad_request(kw: KeyWorld) -> None:
    response = httpx.post(kw.fleet[1].url + "/v1/release", content=b"{not json", timeout=10)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad-request"


def test_release_answers_only_post(kw: KeyWorld) -> None:
    response = httpx.get(kw.fleet[1].url + "/v1/release", timeout=10)
    assert response.status_code == 405 and response.headers["allow"] == "POST"


def test_a_request_for_another_service_is_refused(kw: KeyWorld, tmp_path: Path) -> None:
    kw.grant(kw.clinic, [Category.LABS])
    session, blob, access_tx = prepared(kw, kw.clinic, tmp_path)
    domain = ReleaseDomain(kw.chain.chain_id, kw.deployment.ledger_address)
    request = ReleaseRequest(
        kw.fleet[2].signer.address,
        kw.patient.address,
        blob.pointer.digest,
        0,
        access_tx,
        bytes(32 * [7]),
        kw.now() + 60,
    )
    body = SignedRelease(request, request.sign(session.signer, domain), blob.proof).to_json()
    response = httpx.post(kw.fleet[1].url + "/v1/release", json=body, timeout=10)
    assert response.status_code == 400 and response.json()["error"]["code"] == "wrong-service"


def test_a_proof_of_another_blob_is_refused(kw: KeyWorld, tmp_path: Path) -> None:
    kw.grant(kw.clinic, [Category.LABS])
    _, other, _ = prepared(kw, kw.clinic, tmp_path, content=b"another lab report\n")
    session, blob, access_tx = prepared(kw, kw.clinic, tmp_path)
    domain = ReleaseDomain(kw.chain.chain_id, kw.deployment.ledger_address)
    request = ReleaseRequest(
        kw.fleet[1].signer.address,
        kw.patient.address,
        blob.pointer.digest,
        0,
        access_tx,
        bytes(32 * [7]),
        kw.now() + 60,
    )
    body = SignedRelease(request, request.sign(session.signer, domain), other.proof).to_json()
    response = httpx.post(kw.fleet[1].url + "/v1/release", json=body, timeout=10)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad-proof"


# -- the header must be the record's own and the set's ---------------------------------------------


def publish_with_policy(kw: KeyWorld, category: Category, content: bytes, threshold: int, keys: list[bytes]) -> bytes:
    """A record of the patient whose header claims `threshold` and seals share i to `keys[i - 1]`."""
    import io

    from medledger.crypto.container import AccountRecipient, ServiceRecipient, ThresholdPolicy, encrypt_stream

    session = kw.session(kw.patient)
    policy = ThresholdPolicy(
        kw.set_version, threshold, tuple(ServiceRecipient(i + 1, key) for i, key in enumerate(keys))
    )
    out = io.BytesIO()
    encrypt_stream(
        io.BytesIO(content),
        out,
        binding=session.binding(kw.patient.address, category, author=kw.patient.address),
        recipients=[AccountRecipient(session.keypair.public)],
        threshold_policy=policy,
    )
    cid = kw.store.put(io.BytesIO(out.getvalue()))
    kw.ledger(kw.patient).records.add(kw.patient.address, cid.digest, cid.codec, int(category))
    return cid.digest


def set_keys(kw: KeyWorld) -> list[bytes]:
    return list(kw.ledger().services.service_set(kw.set_version).encryption_keys)


def test_every_service_refuses_a_header_whose_threshold_is_not_the_sets(kw: KeyWorld, tmp_path: Path) -> None:
    digest = publish_with_policy(kw, Category.LABS, LAB_REPORT, 1, set_keys(kw))  # k=1 under a 3-of-5 set
    kw.grant(kw.clinic, [Category.LABS])
    session = kw.session(kw.clinic)
    blob = fetch_blob(session, kw.patient.address, digest, tmp_path / "blobs")
    with pytest.raises(ReleaseFailedError) as failed:
        release_key(session, blob, log_read(session, blob))
    every_service_refuses(failed, "bad-header")


def test_every_service_refuses_a_header_sealing_a_share_to_a_key_outside_the_set(kw: KeyWorld, tmp_path: Path) -> None:
    from medledger.crypto.keys import EncryptionKeyPair

    keys = set_keys(kw)
    keys[4] = EncryptionKeyPair.generate().public  # share 5 sealed to someone who is not member 5
    digest = publish_with_policy(kw, Category.LABS, LAB_REPORT, 3, keys)
    kw.grant(kw.clinic, [Category.LABS])
    session = kw.session(kw.clinic)
    blob = fetch_blob(session, kw.patient.address, digest, tmp_path / "blobs")
    with pytest.raises(ReleaseFailedError) as failed:
        release_key(session, blob, log_read(session, blob))
    every_service_refuses(failed, "bad-header")


def register_decoy(kw: KeyWorld, original: bytes, writer) -> bytes:  # type: ignore[no-untyped-def]
    """A second LABS record of the patient, registered by `writer` (given WRITE consent unless it is
    the patient), whose blob is the original's header followed by junk: its digest differs, its
    header opens the original's key."""
    import io

    from medledger.crypto.container import read_header
    from medledger.scopes import Permission, mask
    from medledger.storage import Cid

    if writer.address != kw.patient.address:
        kw.ledger(kw.patient).consent.grant(
            writer.address,
            categories=mask([Category.LABS]),
            purposes=mask([Purpose.TREAT]),
            permissions=Permission.READ | Permission.WRITE,
            expiry=timedelta(days=30),
        )
    pointer = kw.ledger().records.get(kw.patient.address, original)
    blob = b"".join(kw.store.get(Cid.from_digest(original, pointer.codec)))
    header = read_header(io.BytesIO(blob))
    cid = kw.store.put(io.BytesIO(blob[: len(header.raw)] + b"decoy"))
    kw.ledger(writer).records.add(kw.patient.address, cid.digest, cid.codec, int(Category.LABS))
    return cid.digest


def publish_as_writer(kw: KeyWorld, writer, tmp_path: Path) -> bytes:  # type: ignore[no-untyped-def]
    """LAB_REPORT published by `writer` through the publish flow (so bound to it as author), with
    READ and WRITE consent for LABS; its digest."""
    from medledger.flows.records import publish
    from medledger.scopes import Permission, mask

    patient = kw.session(kw.patient)
    patient.ledger.keys.publish(patient.keypair.public)
    kw.ledger(kw.patient).consent.grant(
        writer.address,
        categories=mask([Category.LABS]),
        purposes=mask([Purpose.TREAT]),
        permissions=Permission.READ | Permission.WRITE,
        expiry=timedelta(days=30),
    )
    source = tmp_path / "lab-report.txt"
    source.write_bytes(LAB_REPORT)
    return publish(kw.session(writer), kw.patient.address, Category.LABS, source).digest


def test_a_decoy_by_a_second_writer_read_before_the_original_is_refused_by_every_service(
    kw: KeyWorld, tmp_path: Path
) -> None:
    # W1 (the clinic) publishes; W2 (the researcher, WRITE on LABS) registers a decoy reusing W1's
    # header and asks for its key itself, before anyone has read the original.
    original = publish_as_writer(kw, kw.clinic, tmp_path)
    decoy = register_decoy(kw, original, kw.researcher)
    session = kw.session(kw.researcher)
    blob = fetch_blob(session, kw.patient.address, decoy, tmp_path / "blobs")
    with pytest.raises(ReleaseFailedError) as failed:
        release_key(session, blob, log_read(session, blob))
    every_service_refuses(failed, "wrong-binding")
    assert f"binds author {kw.clinic.address}" in str(failed.value)


def test_the_original_still_reads_after_a_decoy_of_its_header_was_refused(kw: KeyWorld, tmp_path: Path) -> None:
    original = publish_as_writer(kw, kw.clinic, tmp_path)
    decoy = register_decoy(kw, original, kw.researcher)
    session = kw.session(kw.researcher)
    blob = fetch_blob(session, kw.patient.address, decoy, tmp_path / "blobs")
    with pytest.raises(ReleaseFailedError):
        release_key(session, blob, log_read(session, blob))
    read_record(session, kw.patient.address, original, tmp_path / "labs.txt")
    assert (tmp_path / "labs.txt").read_bytes() == LAB_REPORT


def test_a_record_taken_over_by_its_patient_from_a_squatter_reads_through_the_services(
    kw: KeyWorld, tmp_path: Path
) -> None:
    # The patient's own blob (bound to the patient as author); a WRITE grantee registers its
    # digest first; the patient's own registration takes the digest over.
    from medledger.scopes import Permission, mask

    cid = kw.seal(Category.LABS, LAB_REPORT)
    kw.ledger(kw.patient).consent.grant(
        kw.clinic.address,
        categories=mask([Category.LABS]),
        purposes=mask([Purpose.TREAT]),
        permissions=Permission.WRITE,
        expiry=timedelta(days=30),
    )
    kw.ledger(kw.clinic).records.add(kw.patient.address, cid.digest, cid.codec, int(Category.LABS))
    kw.ledger(kw.patient).records.add(kw.patient.address, cid.digest, cid.codec, int(Category.LABS))
    assert kw.ledger().records.get(kw.patient.address, cid.digest).author == kw.patient.address
    kw.grant(kw.researcher, [Category.LABS])
    read_record(kw.session(kw.researcher), kw.patient.address, cid.digest, tmp_path / "labs.txt")
    assert (tmp_path / "labs.txt").read_bytes() == LAB_REPORT


def test_a_squatted_record_is_refused_until_its_patient_takes_it_over(kw: KeyWorld, tmp_path: Path) -> None:
    from medledger.scopes import Permission, mask

    cid = kw.seal(Category.LABS, LAB_REPORT)
    kw.ledger(kw.patient).consent.grant(
        kw.clinic.address,
        categories=mask([Category.LABS]),
        purposes=mask([Purpose.TREAT]),
        permissions=Permission.WRITE,
        expiry=timedelta(days=30),
    )
    kw.ledger(kw.clinic).records.add(kw.patient.address, cid.digest, cid.codec, int(Category.LABS))
    kw.grant(kw.researcher, [Category.LABS])
    session = kw.session(kw.researcher)
    blob = fetch_blob(session, kw.patient.address, cid.digest, tmp_path / "blobs")
    with pytest.raises(ReleaseFailedError) as failed:
        release_key(session, blob, log_read(session, blob))
    every_service_refuses(failed, "wrong-binding")


def test_every_service_refuses_a_header_that_binds_no_author_and_says_to_reencrypt(
    kw: KeyWorld, tmp_path: Path
) -> None:
    import io

    from medledger.crypto.container import AccountRecipient, ServiceRecipient, ThresholdPolicy
    from medledger.crypto.keys import derive_encryption_keypair
    from tests.crypto.legacy import version_2_container

    patient = kw.session(kw.patient)
    policy = ThresholdPolicy(
        kw.set_version,
        3,
        tuple(
            ServiceRecipient(s.index, derive_encryption_keypair(s.signer.private_key_bytes()).public)
            for s in kw.fleet.services
        ),
    )
    binding = patient.binding(kw.patient.address, Category.LABS, author=kw.patient.address)
    blob = version_2_container(LAB_REPORT[:1000], binding, [AccountRecipient(patient.keypair.public)], policy)
    cid = kw.store.put(io.BytesIO(blob))
    kw.ledger(kw.patient).records.add(kw.patient.address, cid.digest, cid.codec, int(Category.LABS))
    kw.grant(kw.clinic, [Category.LABS])
    session = kw.session(kw.clinic)
    fetched = fetch_blob(session, kw.patient.address, cid.digest, tmp_path / "blobs")
    domain = ReleaseDomain(kw.chain.chain_id, kw.deployment.ledger_address)
    access_tx = log_read(session, fetched)
    messages = []
    for service in service_directory(session.ledger, kw.set_version):
        request = ReleaseRequest(
            service.address, kw.patient.address, cid.digest, 0, access_tx, bytes(32 * [7]), kw.now() + 60
        )
        body = SignedRelease(request, request.sign(session.signer, domain), fetched.proof).to_json()
        error = httpx.post(service.url + "/v1/release", json=body, timeout=10).json()["error"]
        messages.append((error["code"], "medledger record reencrypt" in error["message"]))
    assert messages == [("wrong-binding", True)] * SERVICE_COUNT


# The commitment log stays as defence in depth: a copy of a header under its own author (here the
# patient registering a second record with its own record's header) passes the binding check.


def test_a_copy_of_a_header_under_its_own_author_is_refused_by_every_service(kw: KeyWorld, tmp_path: Path) -> None:
    original = kw.publish(Category.LABS, LAB_REPORT)
    kw.grant(kw.clinic, [Category.LABS])
    read_record(kw.session(kw.clinic), kw.patient.address, original, tmp_path / "labs.txt")
    kw.warp(60)
    decoy = register_decoy(kw, original, kw.patient)
    session = kw.session(kw.clinic)
    blob = fetch_blob(session, kw.patient.address, decoy, tmp_path / "blobs")
    with pytest.raises(ReleaseFailedError) as failed:
        release_key(session, blob, log_read(session, blob))
    every_service_refuses(failed, "header-reused")
    assert original.hex() in str(failed.value)


def test_a_copy_released_first_does_not_block_the_older_original(kw: KeyWorld, tmp_path: Path) -> None:
    original = kw.publish(Category.LABS, LAB_REPORT)
    kw.grant(kw.clinic, [Category.LABS])
    kw.warp(60)
    decoy = register_decoy(kw, original, kw.patient)
    session = kw.session(kw.clinic)
    decoy_blob = fetch_blob(session, kw.patient.address, decoy, tmp_path / "blobs")
    release_key(session, decoy_blob, log_read(session, decoy_blob))  # the services had not seen the original
    read_record(kw.session(kw.clinic), kw.patient.address, original, tmp_path / "labs.txt")
    assert (tmp_path / "labs.txt").read_bytes() == LAB_REPORT
    with pytest.raises(ReleaseFailedError) as failed:
        release_key(session, decoy_blob, log_read(session, decoy_blob))
    every_service_refuses(failed, "header-reused")


def test_a_restarted_service_still_refuses_a_decoy(kw: KeyWorld, tmp_path: Path) -> None:
    original = kw.publish(Category.LABS, LAB_REPORT)
    kw.grant(kw.clinic, [Category.LABS])
    read_record(kw.session(kw.clinic), kw.patient.address, original, tmp_path / "labs.txt")
    kw.warp(60)
    decoy = register_decoy(kw, original, kw.patient)
    kw.fleet.stop(2)
    kw.fleet.start(2)
    session = kw.session(kw.clinic)
    blob = fetch_blob(session, kw.patient.address, decoy, tmp_path / "blobs")
    assert post_to_every_service(kw, session, blob, log_read(session, blob)) == [(409, "header-reused")] * SERVICE_COUNT
