"""The timeline chart: who held access when, and every read, as an SVG drawn on the server.

One lane per party (each grantee, reader, guardian, provider that broke the glass; "you" for the
patient's own acts). Bars are periods: consent from its grant to its expiry, revocation or
replacement; break-glass windows; guardianships. Marks are moments: a read (a circle), a record
added (a square), an erasure or a revocation (a cross). Every bar and mark carries a <title>, which
browsers show on hover and screen readers read; the table under the chart says the same in words.

Drawn on the server rather than by a script library: the chart is a few dozen rectangles and
circles, which needs no library, works with scripts off and under a CSP without 'unsafe-inline'
(only presentation attributes and classes, no inline style), prints, and adds nothing to vet or
update from npm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from medledger.indexer import HistoryEntry

WIDTH = 800
LABEL_WIDTH = 170
RIGHT_PAD = 16
TOP = 28
LANE_HEIGHT = 30
AXIS_HEIGHT = 34
MIN_SPAN = 3600  # seconds: a history of a few seconds still gets an hour-wide chart

_STEPS = (  # tick spacing, label format
    (60, "%H:%M"),
    (300, "%H:%M"),
    (900, "%H:%M"),
    (3600, "%H:%M"),
    (6 * 3600, "%d %b %H:%M"),
    (86400, "%d %b"),
    (7 * 86400, "%d %b"),
    (30 * 86400, "%b %Y"),
    (365 * 86400, "%Y"),
)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    kind: str  # consent, emergency, guardian
    title: str
    continues: bool  # runs on past the chart's right edge


@dataclass(frozen=True)
class Mark:
    x: float
    y: float
    kind: str  # read, record, revoke, erase, emergency
    title: str


@dataclass(frozen=True)
class Lane:
    y: float
    label: str
    address: str


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass
class Chart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    start: int
    end: int
    now_x: float
    lanes: list[Lane] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    summary: str = ""

    @property
    def axis_y(self) -> float:
        return self.height - AXIS_HEIGHT + 6


def build(entries: list[HistoryEntry], now: int, label: Callable[[str], str], me: str) -> Chart:
    """The chart of `entries` (one patient's history in chain order) up to a little past `now`."""
    first = min((e.timestamp for e in entries), default=now - MIN_SPAN)
    span = max(now - first, MIN_SPAN)
    start, end = first - span // 20, now + span // 6
    lanes: dict[str, int] = {}

    def lane(address: str) -> int:
        if address not in lanes:
            lanes[address] = len(lanes)
        return lanes[address]

    periods: list[tuple[str, str, int, int, str]] = []  # (lane address, kind, from, to, title)
    open_: dict[tuple[str, str], tuple[int, int, str]] = {}  # (kind, address) -> (from, planned end, title)
    marks: list[tuple[str, str, int, str]] = []

    def close(kind: str, address: str, at: int) -> None:
        began = open_.pop((kind, address), None)
        if began is not None:
            periods.append((address, kind, began[0], min(began[1], at), began[2]))

    for entry in entries:
        d, t = entry.details, entry.timestamp
        if entry.event == "ConsentGranted":
            who = str(d["grantee"])
            lane(who)
            close("consent", who, t)
            what = ", ".join(str(c) for c in d["categories"]) if isinstance(d["categories"], list) else ""
            open_["consent", who] = (t, int(str(d["expiry"])), f"consent for {label(who)}: {what}")
        elif entry.event == "ConsentRevoked":
            who = str(d["grantee"])
            lane(who)
            close("consent", who, t)
            marks.append((who, "revoke", t, f"{label(who)}: consent revoked"))
        elif entry.event == "AccessLogged":
            who = str(d["accessor"])
            lane(who)
            what = str(d.get("category") or "a record")
            marks.append((who, "read", t, f"{label(who)} read {what} ({d['purpose']})"))
        elif entry.event == "RecordAdded":
            who = entry.actor
            lane(who)
            marks.append((who, "record", t, f"{label(who)} added a record ({d['category']})"))
        elif entry.event == "RecordErased":
            lane(me)
            marks.append((me, "erase", t, "a record was erased"))
        elif entry.event == "EmergencyAccessOpened":
            who = str(d["provider"])
            lane(who)
            close("emergency", who, t)
            open_["emergency", who] = (t, int(str(d["until"])), f"break-glass by {label(who)} ({d['reason']})")
            marks.append((who, "emergency", t, f"{label(who)} broke the glass ({d['reason']})"))
        elif entry.event == "EmergencyAccessClosed":
            close("emergency", str(d["provider"]), t)
        elif entry.event == "GuardianAppointed":
            who = str(d["guardian"])
            lane(who)
            close("guardian", who, t)
            until = int(str(d["until"])) if d.get("until") else 2**40
            open_["guardian", who] = (t, until, f"{label(who)} is a guardian")
        elif entry.event == "GuardianRemoved":
            close("guardian", str(d["guardian"]), t)
    for (kind, address), (began, planned, title) in list(open_.items()):
        periods.append((address, kind, began, planned, title))

    plot_left, plot_right = LABEL_WIDTH, WIDTH - RIGHT_PAD
    scale = (plot_right - plot_left) / (end - start)

    def x(moment: int) -> float:
        return round(plot_left + (min(max(moment, start), end) - start) * scale, 1)

    def y(address: str) -> float:
        return TOP + lanes[address] * LANE_HEIGHT

    height = TOP + len(lanes) * LANE_HEIGHT + AXIS_HEIGHT
    chart = Chart(WIDTH, height, plot_left, plot_right, start, end, x(now))
    chart.lanes = [Lane(y(a) + LANE_HEIGHT / 2, "you" if a == me else label(a), a) for a in lanes]
    for address, kind, began, finished, title in periods:
        left, right = x(began), x(finished)
        chart.bars.append(Bar(left, y(address) + 7, max(right - left, 2.0), kind, title, finished > end))
    chart.marks = [Mark(x(t), y(a) + LANE_HEIGHT / 2, kind, title) for a, kind, t, title in marks]
    chart.ticks = _ticks(start, end, x)
    reads = sum(1 for m in marks if m[1] == "read")
    grants = sum(1 for p in periods if p[1] == "consent")
    chart.summary = (
        f"{len(lanes)} parties; {grants} consent period{'s' if grants != 1 else ''}, "
        f"{reads} read{'s' if reads != 1 else ''}, from {_date(start)} to {_date(end)}"
    )
    return chart


def _ticks(start: int, end: int, x: Callable[[int], float]) -> list[Tick]:
    span = end - start
    step, pattern = next(((s, p) for s, p in _STEPS if span / s <= 7), _STEPS[-1])
    if step >= 30 * 86400:  # months and years: calendar boundaries
        return _calendar_ticks(start, end, x, yearly=step >= 365 * 86400, pattern=pattern)
    first = (start // step + 1) * step
    return [Tick(x(t), _label(t, pattern)) for t in range(first, end, step)]


def _calendar_ticks(start: int, end: int, x: Callable[[int], float], *, yearly: bool, pattern: str) -> list[Tick]:
    moment = datetime.fromtimestamp(start, UTC)
    year, month = moment.year, moment.month
    ticks: list[Tick] = []
    while True:
        month, year = (1, year + 1) if yearly or month == 12 else (month + 1, year)
        t = int(datetime(year, month, 1, tzinfo=UTC).timestamp())
        if t >= end:
            return ticks[:12]
        ticks.append(Tick(x(t), _label(t, pattern)))


def _label(moment: int, pattern: str) -> str:
    """A tick label: `3 Dec`, not `03 Dec`."""
    text = datetime.fromtimestamp(moment, UTC).strftime(pattern)
    return text[1:] if pattern.startswith("%d") and text.startswith("0") else text


def _date(moment: int) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%d %b %Y %H:%M UTC")


__all__ = ["Chart", "build"]
