"""Human units on the command line: durations, dates, category and purpose names."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import click

from medledger.scopes import ScopeError, category_mask, permission, purpose_mask

_DURATION = re.compile(r"^(\d+)\s*([smhdw]|y)$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def parse_expiry(text: str, now: int) -> int:
    """`90d`, `12h`, `2w`, `1y` from now, or an ISO date/time (`2027-01-31`, `2027-01-31T12:00Z`)."""
    value = text.strip().lower()
    match = _DURATION.match(value)
    if match:
        amount = int(match.group(1))
        if amount == 0:
            raise click.BadParameter("a zero duration would expire at once", param_hint="--expires")
        return now + amount * _SECONDS[match.group(2)]
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither a duration (90d, 12h, 2w, 1y) nor an ISO date (2027-01-31)", param_hint="--expires"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


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
