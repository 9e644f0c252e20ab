"""What the patient sees and does, page by page, against the real chain and IPFS daemon."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from medledger.ledger.emergency import EmergencyReason
from medledger.portal import PortalThread
from medledger.scopes import Category, Purpose
from tests.portal.conftest import (
    CLINIC,
    CLINIC_NAME,
    GUARDIAN,
    LAB,
    LAB_NAME,
    LAB_RESULT,
    PATIENT,
    PortalWorld,
    account,
    login,
)


def _day(world: PortalWorld, days: int) -> tuple[str, str, int]:
    """A date `days` ahead of chain time: (YYYY-MM-DD, '1 March 2027', unix time)."""
    moment = datetime.fromtimestamp(world.chain.now() + days * 86400, UTC)
    start = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return start.strftime("%Y-%m-%d"), f"{start.day} {start.strftime('%B %Y')}", int(start.timestamp())


def test_overview_says_who_may_see_what_in_plain_words(client: httpx.Client, world: PortalWorld) -> None:
    login(client)
    page = client.get("/").text
    assert f"{LAB_NAME} may read and add to your lab results for your treatment until" in page


def test_a_grant_is_reviewed_with_the_cli_confirmation_then_sent(client: httpx.Client, world: PortalWorld) -> None:
    token = login(client)
    day, words, expiry = _day(world, 60)
    form = {
        "csrf": token,
        "provider": account(CLINIC).address,
        "categories": ["labs", "allergies"],
        "purposes": ["TREAT"],
        "access": "read",
        "until": day,
    }
    review = client.post("/grant/review", data=form)
    assert review.status_code == 200, review.text
    sentence = f"{CLINIC_NAME} may read your lab results and allergies for your treatment until {words}"
    assert sentence in review.text
    assert f"are about to let {account(CLINIC).address} (clinician, active)" in review.text
    assert world.ledger().consent.get(account(PATIENT).address, account(CLINIC).address).exists is False
    hidden = {
        name: review.text.split(f'name="{name}" value="')[1].split('"')[0]
        for name in ("grantee", "categories", "purposes", "access", "expiry")
    }
    sent = client.post("/grant/confirm", data={"csrf": token, **hidden})
    assert sent.status_code == 303
    terms = world.ledger().consent.get(account(PATIENT).address, account(CLINIC).address)
    assert (terms.categories, terms.purposes, terms.permissions, terms.expiry) == (
        (1 << Category.LABS) | (1 << Category.ALLERGIES),
        1 << Purpose.TREAT,
        1,
        expiry,
    )
    assert sentence in client.get("/").text


def test_timeline_draws_each_read_and_lists_it_in_words(client: httpx.Client, world: PortalWorld) -> None:
    login(client)
    page = client.get("/timeline").text
    assert '<svg id="timeline-chart"' in page
    assert page.count('class="mark mark-read"') == 1
    assert 'class="bar bar-consent"' in page
    assert f"{LAB_NAME} read your lab results for your treatment" in page


def test_records_download_decrypts_the_patients_record(client: httpx.Client, world: PortalWorld) -> None:
    token = login(client)
    page = client.get("/records").text
    assert "lab results" in page and LAB_NAME in page
    reply = client.post("/records/download", data={"csrf": token, "digest": "0x" + world.digest.hex()})
    assert reply.status_code == 200, reply.text
    assert reply.content.decode() == LAB_RESULT
    assert "attachment" in reply.headers["content-disposition"]


def test_guardian_sees_a_ward_selector(client: httpx.Client, world: PortalWorld) -> None:
    token = login(client, GUARDIAN)
    page = client.get("/").text
    assert account(PATIENT).address in page
    reply = client.post("/act-as", data={"csrf": token, "ward": account(PATIENT).address})
    assert reply.status_code == 303
    page = client.get("/").text
    assert "acting as guardian" in page
    assert f"{LAB_NAME} may read and add to" in page


def _hidden(html: str, name: str) -> str:
    return html.split(f'name="{name}" value="')[1].split('"')[0]


def test_revoke_shows_the_cli_confirmation_then_ends_the_consent(client: httpx.Client, world: PortalWorld) -> None:
    token = login(client)
    lab = account(LAB).address
    review = client.post("/revoke/review", data={"csrf": token, "grantee": lab})
    assert review.status_code == 200
    assert f"Revoke {lab}&#39;s access to: labs" in review.text
    assert (
        f"{LAB_NAME} may no longer read or add to your lab results; what it has already read, it keeps" in review.text
    )
    assert world.ledger().consent.get(account(PATIENT).address, lab).exists
    assert client.post("/revoke/confirm", data={"csrf": token, "grantee": lab}).status_code == 303
    assert not world.ledger().consent.get(account(PATIENT).address, lab).exists
    assert f"Revoked: {LAB_NAME}" in client.get("/").text


def test_less_is_a_narrowing_a_later_day_an_extension_and_both_a_change(
    client: httpx.Client, world: PortalWorld
) -> None:
    token = login(client)
    lab = account(LAB).address
    form = client.get(f"/grant?grantee={lab}").text
    assert 'id="cat-labs" name="categories" value="labs" checked' in form
    terms = world.ledger().consent.get(account(PATIENT).address, lab)
    same = datetime.fromtimestamp(terms.expiry, UTC).strftime("%Y-%m-%d")
    later = datetime.fromtimestamp(terms.expiry + 30 * 86400, UTC).strftime("%Y-%m-%d")
    base = {"csrf": token, "provider": lab, "categories": ["labs"], "purposes": ["TREAT"], "access": "read,write"}
    for change, title in (
        ({"until": later}, "Extend access"),
        ({"until": same, "access": "read"}, "Narrow access"),
        ({"until": later, "access": "read"}, "Change access"),
    ):
        review = client.post("/grant/review", data=base | change).text
        assert f"<h1>{title}</h1>" in review, change
        assert "Now</span>" in review and "After</span>" in review


def test_break_glass_opt_out_is_confirmed_then_set_on_chain(client: httpx.Client, world: PortalWorld) -> None:
    token = login(client)
    page = client.get("/emergency").text
    assert "Now: <strong>allowed</strong>" in page
    assert f"{CLINIC_NAME} broke the glass" not in page  # its window has closed by now
    review = client.post("/emergency/review", data={"csrf": token, "choice": "opt-out"})
    assert "Nobody may open emergency (break-glass) access to your records" in review.text
    assert world.ledger().emergency.preferences(account(PATIENT).address)[0] is False
    sent = client.post(
        "/emergency/confirm", data={"csrf": token, "opt_out": _hidden(review.text, "opt_out"), "categories": "0"}
    )
    assert sent.status_code == 303
    assert world.ledger().emergency.preferences(account(PATIENT).address)[0] is True
    assert "Now: <strong>opted out</strong>" in client.get("/emergency").text


def test_a_patient_closes_an_open_break_glass_window(client: httpx.Client, world: PortalWorld) -> None:
    patient, clinic = account(PATIENT).address, account(CLINIC).address
    world.chain.increase_time(world.ledger().emergency.cooldown() + 1)
    world.ledger(CLINIC).emergency.break_glass(patient, EmergencyReason.LIFE_THREATENING)
    token = login(client)
    assert f"{CLINIC_NAME} broke the glass" in client.get("/emergency").text
    review = client.post("/emergency/close", data={"csrf": token, "provider": clinic})
    assert f"End {CLINIC_NAME}&#39;s emergency access" in review.text
    assert world.ledger().emergency.is_open(patient, clinic)
    client.post("/emergency/close", data={"csrf": token, "provider": clinic, "confirmed": "1"})
    assert not world.ledger().emergency.is_open(patient, clinic)


def test_a_provider_can_be_named_from_the_page(client: httpx.Client, world: PortalWorld, server: PortalThread) -> None:
    token = login(client)
    server.portal.config.names.remove(account(LAB).address)
    page = client.get("/").text
    assert "Give 0x" in page
    reply = client.post("/names", data={"csrf": token, "address": account(LAB).address, "name": "Valley Labs"})
    assert reply.status_code == 303
    assert "Valley Labs may read and add to your lab results" in client.get("/").text
    assert "Valley Labs" in (server.portal.config.home / "names.toml").read_text()


def test_a_guardian_grants_for_the_ward(client: httpx.Client, world: PortalWorld) -> None:
    token = login(client, GUARDIAN)
    client.post("/act-as", data={"csrf": token, "ward": account(PATIENT).address})
    day, _, _ = _day(world, 20)
    form = {
        "csrf": token,
        "provider": account(CLINIC).address,
        "categories": ["allergies"],
        "purposes": ["TREAT"],
        "access": "read",
        "until": day,
    }
    review = client.post("/grant/review", data=form)
    assert f"As guardian of {account(PATIENT).address}, you are about to let" in review.text
    fields = {n: _hidden(review.text, n) for n in ("grantee", "categories", "purposes", "access", "expiry")}
    assert client.post("/grant/confirm", data={"csrf": token, **fields}).status_code == 303
    assert world.ledger().consent.get(account(PATIENT).address, account(CLINIC).address).exists


def test_a_stranger_cannot_act_for_someone_elses_records(client: httpx.Client, world: PortalWorld) -> None:
    token = login(client)  # the patient is nobody's guardian
    reply = client.post("/act-as", data={"csrf": token, "ward": account(LAB).address})
    assert reply.status_code == 403
    assert "not a guardian" in reply.text
