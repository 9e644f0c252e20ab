"""`medledger audit` as a table that fits the terminal (COLUMNS 60, 80, 200): dates in UTC
(`2026-12-03 09:41`), never unix seconds; categories and purposes by name; addresses abbreviated
(`0x1234…abcd`) unless the terminal is wide; `--json` keeps the raw values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from medledger.cli.audit_table import abbreviated, date, details, disclosures_table, history_table

from .conftest import CLINIC, PATIENT, Cli, address

UNIX_SECONDS = re.compile(r"\b1[0-9]{9}\b")
DATE = re.compile(r"\b20[0-9]{2}-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]\b")
PATIENT_ADDRESS = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
CLINIC_ADDRESS = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
GRANTED = {
    "block": 12,
    "timestamp": 1796290042,
    "tx_hash": "0x" + "ab" * 32,
    "log_index": 0,
    "event": "ConsentGranted",
    "actor": PATIENT_ADDRESS,
    "details": {
        "grantee": CLINIC_ADDRESS,
        "categories": ["labs", "mental-health"],
        "purposes": ["TREAT", "HPAYMT"],
        "read": True,
        "write": False,
        "expiry": 1798882042,
    },
}
READ = {
    "block": 13,
    "timestamp": 1796290100,
    "tx_hash": "0x" + "cd" * 32,
    "log_index": 1,
    "kind": "record-access",
    "recipient": CLINIC_ADDRESS,
    "purpose": "ETREAT",
    "digest": "0x" + "ef" * 32,
    "cid": "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
}


def _fits(text: str, width: int) -> None:
    longest = max(len(line) for line in text.splitlines())
    assert longest <= width, f"a line of {longest} characters at width {width}:\n{text}"


@pytest.mark.parametrize("width", [60, 80, 200])
def test_the_history_fits_the_width(width: int) -> None:
    _fits(history_table(PATIENT_ADDRESS, [GRANTED] * 3, width), width)


@pytest.mark.parametrize("width", [60, 80, 200])
def test_the_disclosures_fit_the_width(width: int) -> None:
    _fits(disclosures_table(PATIENT_ADDRESS, [READ] * 3, width), width)


@pytest.mark.parametrize("width", [60, 80, 200])
def test_times_are_utc_dates_never_unix_seconds(width: int) -> None:
    text = history_table(PATIENT_ADDRESS, [GRANTED], width)
    assert "2026-12-03 09:27" in text and "2027-01-02 09:27" in text  # the event, the expiry
    assert not UNIX_SECONDS.search(text)


def test_purposes_and_permissions_are_words() -> None:
    line = details(GRANTED["details"], whole=False)
    assert "categories=labs,mental-health" in line and "purposes=treatment,payment" in line
    assert "access=read" in line and "TREAT" not in line
    assert "for emergency" in disclosures_table(PATIENT_ADDRESS, [READ], 80)


@pytest.mark.parametrize("width", [60, 80])
def test_addresses_are_abbreviated_on_a_narrow_terminal(width: int) -> None:
    text = history_table("0x" + "00" * 20, [GRANTED], width)
    assert "0x90F7…b906" in text and "0x3C44…93BC" in text
    assert PATIENT_ADDRESS not in text and CLINIC_ADDRESS not in text


def test_addresses_are_whole_on_a_wide_terminal() -> None:
    text = history_table("0x" + "00" * 20, [GRANTED], 200)
    assert PATIENT_ADDRESS in text and CLINIC_ADDRESS in text


def test_abbreviations_keep_both_ends() -> None:
    assert abbreviated(CLINIC_ADDRESS, whole=False) == "0x3C44…93BC"
    assert abbreviated(READ["cid"], whole=False) == "bafkreih…vyku"
    assert abbreviated("labs", whole=False) == "labs"
    assert date(0) == "1970-01-01 00:00"


# -- the command, against anvil, the IPFS daemon and the indexer ------------------------------


@pytest.fixture
def story(world: Cli, lab_result: Path, tmp_path: Path) -> Cli:
    """The patient publishes a labs record and grants the clinic, who reads it (logged)."""
    patient = address(PATIENT)
    published = world.json("record", "publish", lab_result, "--patient", patient, "--category", "labs", account=PATIENT)
    assert isinstance(published, dict)
    grant = ["consent", "grant", address(CLINIC), "--categories", "labs", "--purpose", "treatment", "--expires", "30d"]
    world.ok(*grant, "--yes", account=PATIENT)
    world.ok("record", "fetch", published["cid"], "--patient", patient, "--out", tmp_path / "r.json", account=CLINIC)
    return world


@pytest.mark.anvil
@pytest.mark.ipfs
@pytest.mark.parametrize("width", [60, 80, 200])
def test_medledger_audit_fits_columns_and_shows_dates(story: Cli, width: int) -> None:
    for extra in ((), ("--disclosures",)):
        output = story.ok("audit", address(PATIENT), *extra, env={"COLUMNS": str(width)}).stdout
        _fits(output, width)
        assert DATE.search(output) and not UNIX_SECONDS.search(output)
        assert "treatment" in output


@pytest.mark.anvil
@pytest.mark.ipfs
def test_medledger_audit_json_keeps_raw_values(story: Cli) -> None:
    history = story.json("audit", address(PATIENT))
    assert isinstance(history, list)
    granted = next(row for row in history if row["event"] == "ConsentGranted")
    assert isinstance(granted["timestamp"], int) and isinstance(granted["details"]["expiry"], int)
    assert granted["details"]["grantee"] == address(CLINIC)
    assert granted["details"]["purposes"] == ["TREAT"]
    disclosures = story.json("audit", address(PATIENT), "--disclosures")
    assert isinstance(disclosures, list) and disclosures[0]["purpose"] == "TREAT"
    assert disclosures[0]["recipient"] == address(CLINIC)
