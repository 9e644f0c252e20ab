"""The portal's wall, against the real server: sign-in, CSRF, session timeout, Host and Origin
checks, headers, no external requests, and bad input refused in one sentence."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from medledger.portal import PortalThread
from medledger.portal.app import MAX_FORM_BYTES
from tests.portal.conftest import (
    CLINIC,
    LAB,
    PASSWORD,
    PATIENT,
    STRANGER,
    PortalWorld,
    account,
    csrf_of,
    login,
    make_config,
)

PAGES = ("/", "/grant", "/timeline", "/records", "/emergency")


def _lab_consent_exists(world: PortalWorld) -> bool:
    return world.ledger().consent.get(account(PATIENT).address, account(LAB).address).exists


def test_every_page_but_sign_in_needs_a_session(client: httpx.Client) -> None:
    for path in PAGES:
        reply = client.get(path)
        assert (reply.status_code, reply.headers["location"]) == (303, "/login"), path


def test_a_wrong_password_is_refused_without_echoing_it(
    client: httpx.Client, server: PortalThread, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = csrf_of(client.get("/login").text)
    wrong = "not-the-password-42"
    reply = client.post("/login", data={"csrf": token, "account": account(PATIENT).address, "password": wrong})
    assert reply.status_code == 401
    assert "Wrong password" in reply.text
    assert wrong not in reply.text and wrong not in caplog.text and PASSWORD not in caplog.text
    assert not any(session.logged_in for session in server.portal.sessions._sessions.values())


def test_the_session_cookie_is_httponly_samesite_strict_and_renewed_at_sign_in(client: httpx.Client) -> None:
    before = client.get("/login")
    cookie = before.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    anonymous = client.cookies["medledger_portal"]
    login(client)
    assert client.cookies["medledger_portal"] != anonymous  # no session fixation


def test_a_post_without_the_sessions_csrf_token_is_refused_and_changes_nothing(
    client: httpx.Client, world: PortalWorld
) -> None:
    login(client)
    lab = account(LAB).address
    for token in (None, "forged-token"):
        data = {"grantee": lab} | ({"csrf": token} if token else {})
        reply = client.post("/revoke/confirm", data=data)
        assert reply.status_code == 403
        assert "security token does not match" in reply.text
    assert _lab_consent_exists(world)


def test_another_sessions_csrf_token_is_refused(server: PortalThread, world: PortalWorld) -> None:
    with httpx.Client(base_url=server.url) as mine, httpx.Client(base_url=server.url) as other:
        login(mine)
        other_token = login(other)
        reply = mine.post("/revoke/confirm", data={"csrf": other_token, "grantee": account(LAB).address})
        assert reply.status_code == 403
    assert _lab_consent_exists(world)


def test_a_request_for_another_host_name_is_refused(client: httpx.Client) -> None:
    """DNS rebinding: a site whose name resolves to 127.0.0.1 still sends its own name as Host."""
    reply = client.get("/login", headers={"Host": "attacker.example:8600"})
    assert reply.status_code == 400
    assert "unknown host" in reply.text
    assert client.get("/login", headers={"Host": "localhost"}).status_code == 200


def test_a_cross_origin_post_is_refused(client: httpx.Client, world: PortalWorld) -> None:
    token = login(client)
    reply = client.post(
        "/revoke/confirm",
        data={"csrf": token, "grantee": account(LAB).address},
        headers={"Origin": "http://attacker.example"},
    )
    assert reply.status_code == 403
    assert _lab_consent_exists(world)


@pytest.fixture
def quick_timeout(world: PortalWorld, tmp_path: Path) -> Iterator[PortalThread]:
    thread = PortalThread(make_config(world, tmp_path / "home", idle_timeout=2.0)).start()
    try:
        yield thread
    finally:
        thread.stop()


def test_an_idle_session_ends_and_its_key_is_dropped(quick_timeout: PortalThread) -> None:
    with httpx.Client(base_url=quick_timeout.url) as http:
        login(http)
        assert http.get("/").status_code == 200
        time.sleep(3.5)  # no request meanwhile: the sweeper drops the session on its own
        assert not any(session.signer for session in quick_timeout.portal.sessions._sessions.values())
        reply = http.get("/")
        assert (reply.status_code, reply.headers["location"]) == (303, "/login")
        assert "signed out after" in http.get("/login").text
        assert not any(session.signer for session in quick_timeout.portal.sessions._sessions.values())


def test_sign_out_drops_the_key_and_the_old_cookie_is_worthless(client: httpx.Client, server: PortalThread) -> None:
    token = login(client)
    old = client.cookies["medledger_portal"]
    assert client.post("/logout", data={"csrf": token}).status_code == 303
    assert not any(session.signer for session in server.portal.sessions._sessions.values())
    client.cookies.set("medledger_portal", old)
    assert client.get("/").status_code == 303


def test_every_response_carries_a_strict_content_security_policy(client: httpx.Client) -> None:
    login(client)
    for path in (*PAGES, "/static/portal.css", "/no-such-page"):
        policy = client.get(path).headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'none'" in policy, path
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    page = client.get("/")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"


class _Page(HTMLParser):
    """Every referenced URL, every form control and every label of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.controls: list[dict[str, str | None]] = []
        self.labels: set[str] = set()
        self.scripts = 0
        self.inline_styles = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.urls += [value for key, value in attrs if key in ("src", "href", "action") and value]
        self.scripts += tag == "script"
        self.inline_styles += "style" in a or tag == "style"
        if tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.controls.append(a)


def test_pages_request_nothing_from_other_sites_and_run_no_script(client: httpx.Client) -> None:
    login(client)
    for path in PAGES:
        page = _Page()
        page.feed(client.get(path).text)
        outside = [url for url in page.urls if not url.startswith(("/", "#"))]
        assert outside == [], (path, outside)
        assert (page.scripts, page.inline_styles) == (0, 0), path
    css = client.get("/static/portal.css").text
    assert "@import" not in css and "url(" not in css and "@font-face" not in css


def test_every_form_control_has_a_label(client: httpx.Client) -> None:
    pages = [client.get("/login").text]
    login(client)
    pages += [client.get(path).text for path in PAGES]
    for html in pages:
        page = _Page()
        page.feed(html)
        for control in page.controls:
            assert control.get("id") in page.labels or control.get("aria-label"), control


def test_pages_fit_a_phone(client: httpx.Client) -> None:
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in client.get("/login").text
    assert "@media (max-width: 40rem)" in client.get("/static/portal.css").text


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"categories": []}, 400, "choose at least one kind of record"),
        ({"purposes": []}, 400, "choose at least one purpose"),
        ({"provider": "", "address": "0x1234"}, 400, "is not an Ethereum address"),
        ({"until": "2001-01-01"}, 400, "is not in the future"),
        ({"until": "next tuesday"}, 400, "is not a date"),
        ({"until": "2099-01-01"}, 409, "is too far out"),
        ({"categories": ["x-rays"]}, 400, "unknown category"),
        ({"provider": account(STRANGER).address}, 409, "is not a registered provider"),
    ],
)
def test_bad_grant_input_is_refused_in_one_sentence(
    client: httpx.Client, world: PortalWorld, change: dict[str, object], status: int, message: str
) -> None:
    token = login(client)
    form: dict[str, object] = {
        "csrf": token,
        "provider": account(CLINIC).address,
        "categories": ["labs"],
        "purposes": ["TREAT"],
        "access": "read",
        "until": datetime.fromtimestamp(world.chain.now() + 90 * 86400, UTC).strftime("%Y-%m-%d"),
    }
    reply = client.post("/grant/review", data=form | change)
    assert reply.status_code == status, reply.text
    assert message in reply.text
    assert "Traceback" not in reply.text
    assert not world.ledger().consent.get(account(PATIENT).address, account(CLINIC).address).exists


def test_oversized_or_foreign_bodies_are_refused(client: httpx.Client) -> None:
    token = login(client)
    big = client.post("/grant/review", data={"csrf": token, "x": "a" * (MAX_FORM_BYTES + 1)})
    assert big.status_code == 413
    foreign = client.post("/grant/review", json={"csrf": token})
    assert foreign.status_code == 415
