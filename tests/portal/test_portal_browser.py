"""The portal in a real browser: Debian's chromium, headless, driven by selenium through
chromedriver, against `medledger portal` started as a user starts it (a subprocess of the
installed console script) on the session anvil and the IPFS daemon.

Through: sign-in with the keystore password, a grant (review, confirm), a revoke, the timeline;
the same pages at a phone's size. Saves its screenshots in the test's temporary directory, or, with
MEDLEDGER_SCREENSHOT_DIR set (`make screenshots`), as docs/portal.png (the README's screenshot) and
docs/portal-phone.png: a test run leaves the tree as it found it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.portal.conftest import (
    CLINIC,
    CLINIC_NAME,
    DAY,
    LAB_NAME,
    PASSWORD,
    PortalWorld,
    account,
    portal_process,
)

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOT_DIR = os.environ.get("MEDLEDGER_SCREENSHOT_DIR")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
DESKTOP, PHONE = (1280, 1000), (390, 844)  # a phone: iPhone 12-14 CSS pixels

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    if os.geteuid() == 0:  # CI and fresh machines run as root: `make chromium` installs them
        pytest.fail("chromium or chromedriver is missing: run `make chromium`", pytrace=False)
    pytest.skip(
        "Debian's chromium and chromium-driver are not installed and this user cannot install them "
        "(run `make chromium` as root)",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402  (after the skip: only needed when a browser exists)
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.expected_conditions import staleness_of  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@pytest.fixture
def portal_url(world: PortalWorld, tmp_path: Path) -> Iterator[str]:
    """`medledger portal` on a free port, signing in with the patient's keystore."""
    with portal_process(world, tmp_path, "--keystore", str(world.keystores / "patient.json")) as (url, _):
        yield url


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


def _go(driver: WebDriver, by: str, what: str) -> None:
    """Click what leads to another page, and wait until that page has replaced this one."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(by, what).click()
    WebDriverWait(driver, 30).until(staleness_of(old))


def _text(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "main").text


def _fits_the_width(driver: WebDriver) -> bool:
    scroll, inner = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    return int(scroll) <= int(inner)


def test_patient_signs_in_grants_revokes_and_reads_the_timeline(
    browser: WebDriver, portal_url: str, world: PortalWorld, tmp_path: Path
) -> None:
    clinic = account(CLINIC).address
    browser.get(f"{portal_url}/login")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    _go(browser, By.CSS_SELECTOR, "form button[type=submit]")
    assert f"{LAB_NAME} may read and add to your lab results for your treatment until" in _text(browser)

    # grant: the form, the review with the CLI's confirmation, then the transaction
    _go(browser, By.ID, "grant-link")
    Select(browser.find_element(By.ID, "provider")).select_by_value(clinic)
    browser.find_element(By.CSS_SELECTOR, "label[for=cat-labs]").click()
    _go(browser, By.ID, "review")
    sentence = browser.find_element(By.ID, "confirm-sentence").text
    assert f"{CLINIC_NAME} may read your lab results for your treatment until" in sentence
    assert f"are about to let {clinic} (clinician, active)" in _text(browser)
    _go(browser, By.ID, "confirm")
    assert f"Done: {CLINIC_NAME} may read your lab results" in _text(browser)
    assert world.ledger().consent.has_access(account(4).address, clinic, 1, 0, 1)
    browser.find_element(By.ID, f"consent-{clinic}")
    world.chain.increase_time(4 * DAY)  # the clinic holds it for a few days

    # revoke: from the consent's card, confirmed
    _go(browser, By.CSS_SELECTOR, f"#consent-{clinic} button.danger")
    assert f"Revoke {clinic}'s access to: labs" in _text(browser)
    _go(browser, By.ID, "confirm")
    assert f"Revoked: {CLINIC_NAME} may no longer see" in _text(browser)
    assert not world.ledger().consent.get(account(4).address, clinic).exists
    browser.implicitly_wait(0)  # an absence: do not wait for it to appear
    assert not browser.find_elements(By.ID, f"consent-{clinic}")
    browser.implicitly_wait(5)

    # the timeline: a chart (consent bars, the lab's read) and the same in words
    _go(browser, By.LINK_TEXT, "Timeline")
    chart = browser.find_element(By.ID, "timeline-chart")
    assert chart.is_displayed() and chart.size["width"] > 600
    assert len(browser.find_elements(By.CSS_SELECTOR, "#timeline-chart .bar-consent")) >= 2
    assert len(browser.find_elements(By.CSS_SELECTOR, "#timeline-chart .mark-read")) == 1
    events = browser.find_element(By.ID, "events").text
    assert f"Revoked: {CLINIC_NAME} may no longer see your records" in events
    assert f"{LAB_NAME} read your lab results for your treatment" in events
    assert _fits_the_width(browser)
    shots = Path(SCREENSHOT_DIR) if SCREENSHOT_DIR else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(shots / "portal.png"))

    # a phone: nothing wider than the screen, the chart scaled down, tables stacked
    browser.set_window_size(*PHONE)
    for path in ("/", "/timeline", "/records", "/grant", "/emergency"):
        browser.get(f"{portal_url}{path}")
        assert _fits_the_width(browser), path
    browser.get(f"{portal_url}/timeline")
    assert browser.find_element(By.CSS_SELECTOR, "figure.chart").size["width"] <= PHONE[0]
    browser.save_screenshot(str(shots / "portal-phone.png"))
