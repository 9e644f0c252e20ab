"""Human units on the command line: durations, dates, category and purpose names."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime

import click

from medledger.scopes import ScopeError, category_mask, permission, purpose_mask

# Calendar units (months, years) and fixed lengths (the rest), singular, plural or short.
_UNIT_NAMES = {
    "s": ("s", "sec", "secs", "second", "seconds"),
    "min": ("min", "mins", "minute", "minutes"),
    "h": ("h", "hr", "hrs", "hour", "hours"),
    "d": ("d", "day", "days"),
    "w": ("w", "wk", "wks", "week", "weeks"),
    "mo": ("m", "mo", "mos", "month", "months"),
    "y": ("y", "yr", "yrs", "year", "years"),
}
_UNIT = {name: unit for unit, names in _UNIT_NAMES.items() for name in names}
_DURATION = re.compile(r"^(\d+)\s*([a-z]+)$")
_FIXED = {"s": 1, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DURATION_HELP = (
    "a duration (90d, 12h, 2w, 6m months, 18y; 30min minutes) or a UTC date (2027-03-01, 2027-03-01T09:30); "
    "months and years are calendar ones: 6m from 31 Aug ends on 28/29 Feb, 18y ends on the 18th anniversary "
    "(29 Feb: on 28 Feb)"
)


def parse_duration(text: str) -> tuple[int, str] | None:
    """`6m` as (6, "mo"), `90 days` as (90, "d"); None if `text` is not a duration."""
    match = _DURATION.match(text.strip().lower())
    if not match or match.group(2) not in _UNIT:
        return None
    return int(match.group(1)), _UNIT[match.group(2)]


def add_months(moment: datetime, months: int) -> datetime:
    """The same day of the month `months` later (or earlier), clamped to that month's last day
    (31 Jan + 1 month = 28/29 Feb; 29 Feb + 12 months = 28 Feb); the time of day is kept."""
    total = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def shift(now: int, amount: int, unit: str) -> int:
    """`now` (unix seconds) moved by `amount` units, in UTC: months and years on the calendar,
    weeks, days, hours, minutes and seconds as fixed lengths. A negative amount goes back."""
    if unit in _FIXED:
        return now + amount * _FIXED[unit]
    months = amount * (12 if unit == "y" else 1)
    return int(add_months(datetime.fromtimestamp(now, tz=UTC), months).timestamp())


def _option_hint(text: str, default: str) -> str:
    """The option that carried `text` in the running command (so errors name --until, --since...)."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        for param in ctx.command.params:
            if isinstance(param, click.Option) and ctx.params.get(param.name or "") == text:
                return param.opts[0]
    return default


def parse_moment(text: str, now: int, *, back: bool = False, option: str | None = None) -> int:
    """A duration from `now` (before it with `back`), or an ISO date/time in UTC; unix seconds."""
    hint = option or _option_hint(text, "--expires")
    duration = parse_duration(text)
    if duration is not None:
        amount, unit = duration
        if amount == 0:
            raise click.BadParameter("a zero duration would expire at once", param_hint=hint)
        try:
            return shift(now, -amount if back else amount, unit)
        except (ValueError, OverflowError):
            raise click.BadParameter(f"{text!r} is too far away", param_hint=hint) from None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither a duration (90d, 12h, 2w, 6m, 1y) nor an ISO date (2027-01-31)", param_hint=hint
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def parse_expiry(text: str, now: int, option: str | None = None) -> int:
    """`90d`, `12h`, `2w`, `6m`, `18y` from now (calendar months and years), or an ISO date/time
    (`2027-01-31` is its midnight UTC, `2027-01-31T12:00Z`)."""
    return parse_moment(text, now, option=option)


def limit_seconds(text: str, option: str) -> int:
    """A limit or delay the contract counts in seconds (`2d`, `1h`, `90s`, `30min`, `5y`): years and
    months are the longest such calendar span (5y = 5 * 365 + 2 leap days, 6mo = 6 * 31 days), so
    that a grant of `--expires 5y` always fits under `--max-consent 5y`. A bare `m` is refused here
    as ambiguous (minutes or months?)."""
    duration = parse_duration(text)
    bare_minutes_or_months = re.fullmatch(r"(\d+)\s*m", text.strip().lower())
    if bare_minutes_or_months:
        amount = bare_minutes_or_months.group(1)
        raise click.BadParameter(f"{text!r} is ambiguous: write {amount}min or {amount}mo", param_hint=option)
    if duration is None or duration[0] == 0:
        raise click.BadParameter(
            f"{text!r} is not a positive duration such as 90s, 30min, 1h, 2d, 1w, 6mo or 5y", param_hint=option
        )
    amount, unit = duration
    if unit == "y":
        return (amount * 365 + (amount + 3) // 4) * 86400
    if unit == "mo":
        return amount * 31 * 86400
    return amount * _FIXED[unit]


def categories_option(text: str) -> int:
    try:
        return category_mask(text)
    except ScopeError as exc:
        raise click.BadParameter(str(exc), param_hint="--categories") from None


def purposes_option(text: str) -> int:
    try:
        return purpose_mask(text)
    except ScopeError as exc:
        raise click.BadParameter(str(exc), param_hint="--purpose") from None


def permissions_option(text: str) -> int:
    try:
        return int(permission(text))
    except ScopeError as exc:
        raise click.BadParameter(str(exc), param_hint="--access") from None


def format_time(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
