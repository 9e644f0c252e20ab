"""Durations on the command line are calendar terms in UTC: `18y` ends on the 18th anniversary,
`6m` on the same day of the month six months later (clamped to the month's end; 29 Feb + 1y is
28 Feb), weeks, days, hours, minutes and seconds are fixed lengths, and ISO dates are accepted.
Fixed "now" values cover leap years and month ends; one test runs `guardian appoint --until 18y`
against anvil at a leap day."""

from __future__ import annotations

from datetime import UTC, datetime

import click
import pytest

from medledger.cli.units import limit_seconds, parse_duration, parse_expiry, parse_moment

from .conftest import LAB, PATIENT, Cli, address, assert_clear_failure


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("now", "duration", "ends"),
    [
        ("2026-12-03T09:41:00", "18y", "2044-12-03T09:41:00"),
        ("2028-02-29T12:00:00", "18y", "2046-02-28T12:00:00"),  # born on a leap day: 28 Feb
        ("2028-02-29T12:00:00", "4y", "2032-02-29T12:00:00"),  # a leap year again: the leap day itself
        ("2027-03-01T00:00:00", "1y", "2028-03-01T00:00:00"),  # across a leap day: 366 days
        ("2026-12-03T09:41:00", "1 year", "2027-12-03T09:41:00"),
    ],
)
def test_years_end_on_the_anniversary(now: str, duration: str, ends: str) -> None:
    assert parse_expiry(duration, at(now)) == at(ends)


@pytest.mark.parametrize(
    ("now", "duration", "ends"),
    [
        ("2026-08-31T10:00:00", "6m", "2027-02-28T10:00:00"),  # clamped to February's end
        ("2027-08-31T10:00:00", "6m", "2028-02-29T10:00:00"),  # a leap February
        ("2027-01-31T10:00:00", "1m", "2027-02-28T10:00:00"),
        ("2027-01-15T10:00:00", "1mo", "2027-02-15T10:00:00"),
        ("2026-12-03T09:41:00", "3 months", "2027-03-03T09:41:00"),
        ("2026-11-30T23:59:59", "3m", "2027-02-28T23:59:59"),
        ("2026-12-31T00:00:00", "14m", "2028-02-29T00:00:00"),
    ],
)
def test_months_end_on_the_same_day_of_the_month_clamped(now: str, duration: str, ends: str) -> None:
    assert parse_expiry(duration, at(now)) == at(ends)


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [("90d", 90 * 86400), ("2w", 14 * 86400), ("12h", 12 * 3600), ("30min", 1800), ("45s", 45), ("3 days", 3 * 86400)],
)
def test_weeks_days_hours_minutes_and_seconds_are_fixed_lengths(duration: str, seconds: int) -> None:
    for now in ("2028-02-28T12:00:00", "2026-03-29T00:30:00"):  # across a leap day; a DST date (UTC has none)
        assert parse_expiry(duration, at(now)) == at(now) + seconds


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2027-03-01", "2027-03-01T00:00:00"),  # a date is its midnight UTC
        ("2027-03-01T09:30", "2027-03-01T09:30:00"),
        ("2027-03-01T09:30Z", "2027-03-01T09:30:00"),
        ("2027-03-01T10:30+01:00", "2027-03-01T09:30:00"),
    ],
)
def test_iso_dates_are_taken_in_utc(text: str, moment: str) -> None:
    assert parse_expiry(text, at("2026-12-03T09:41:00")) == at(moment)


def test_back_goes_back_in_calendar_terms() -> None:
    assert parse_moment("1m", at("2027-03-31T08:00:00"), back=True) == at("2027-02-28T08:00:00")
    assert parse_moment("1y", at("2028-02-29T08:00:00"), back=True) == at("2027-02-28T08:00:00")
    assert parse_moment("7d", at("2027-03-01T08:00:00"), back=True) == at("2027-02-22T08:00:00")


@pytest.mark.parametrize("text", ["next tuesday", "5 fortnights", "0d", "-3d", "99999y"])
def test_what_is_not_a_usable_duration_or_date_is_a_bad_parameter(text: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_expiry(text, at("2026-12-03T09:41:00"), option="--until")


def test_unit_names_are_short_singular_or_plural() -> None:
    assert parse_duration("6m") == parse_duration("6 months") == parse_duration("6mo") == (6, "mo")
    assert parse_duration("1 minute") == parse_duration("1min") == (1, "min")
    assert parse_duration("18Y") == (18, "y")


def test_a_limit_in_years_holds_the_longest_such_calendar_span() -> None:
    """`deploy --max-consent 5y` must admit `consent grant --expires 5y` from any day."""
    assert limit_seconds("5y", "--max-consent") == (5 * 365 + 2) * 86400
    assert limit_seconds("21y", "--max-guardian-term") == (21 * 365 + 6) * 86400
    for start in ("2027-03-01T00:00:00", "2028-02-29T00:00:00", "2026-12-31T00:00:00", "2027-01-01T00:00:00"):
        for years in (1, 4, 5, 18, 21):
            span = parse_expiry(f"{years}y", at(start)) - at(start)
            assert span <= limit_seconds(f"{years}y", "--max")


def test_a_limit_in_bare_m_is_refused_as_ambiguous() -> None:
    with pytest.raises(click.BadParameter, match="ambiguous: write 15min or 15mo"):
        limit_seconds("15m", "--emergency-cooldown")
    assert limit_seconds("15min", "--emergency-cooldown") == 900


@pytest.mark.anvil
@pytest.mark.ipfs
def test_guardian_until_18y_from_a_leap_day_ends_on_28_february(world: Cli) -> None:
    leap_day = at("2048-02-29T09:41:00")
    world.anvil.rpc("evm_mine", [leap_day])
    appointed = world.json("guardian", "appoint", address(LAB), "--until", "18y", account=PATIENT)
    assert isinstance(appointed, dict)
    assert appointed["until"] == at("2066-02-28T09:41:00")


@pytest.mark.anvil
@pytest.mark.ipfs
def test_a_bad_until_names_the_until_option(world: Cli) -> None:
    line = assert_clear_failure(
        world.invoke("guardian", "appoint", address(LAB), "--until", "someday", account=PATIENT), 2
    )
    assert "--until" in line and "someday" in line
