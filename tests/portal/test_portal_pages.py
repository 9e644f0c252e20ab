"""What the patient sees and does, page by page, against the real chain and IPFS daemon."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from medledger.scopes import Category, Purpose
from tests.portal.conftest import (
    CLINIC,
    CLINIC_NAME,
    GUARDIAN,
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
