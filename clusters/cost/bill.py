"""The ECS Anywhere bill, computed from registered intervals (pure: no queries).

Every amount is a ``Decimal`` of hours x price, unrounded; money is rounded to the
cent only where it is shown (``clusters.display.usd_text``). Months are calendar
months in UTC, as on the AWS invoice. ``now`` is a parameter everywhere, so a test
can move the clock.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

_MICROS_PER_HOUR = Decimal(3_600_000_000)


@dataclass(frozen=True)
class Span:
    """One registered interval as the bill sees it (``end`` None: still registered)."""

    instance: str  # the mi- id
    instance_arn: str
    account: str
    region: str
    cluster_id: int
    cluster: str
    start: datetime
    end: datetime | None
    price: Decimal


@dataclass(frozen=True)
class Line:
    span: Span
    hours: Decimal
    cost: Decimal
    projected_hours: Decimal
    projected_cost: Decimal


@dataclass
class ClusterBill:
    account: str
    region: str
    cluster_id: int
    cluster: str
    price: Decimal
    instances: int = 0
    hours: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    projected_hours: Decimal = Decimal(0)
    projected_cost: Decimal = Decimal(0)


@dataclass
class Bill:
    month: date
    start: datetime
    end: datetime
    now: datetime
    lines: list[Line] = field(default_factory=list)
    clusters: list[ClusterBill] = field(default_factory=list)
    daily: list[tuple[date, Decimal]] = field(default_factory=list)

    @property
    def hours(self) -> Decimal:
        return sum((c.hours for c in self.clusters), Decimal(0))

    @property
    def cost(self) -> Decimal:
        return sum((c.cost for c in self.clusters), Decimal(0))

    @property
    def projected_cost(self) -> Decimal:
        return sum((c.projected_cost for c in self.clusters), Decimal(0))

    @property
    def is_current(self) -> bool:
        return self.start <= self.now < self.end

    def top_clusters(self, n: int = 5) -> list[ClusterBill]:
        costly = [c for c in self.clusters if c.projected_cost > 0]
        return sorted(costly, key=lambda c: (-c.projected_cost, c.cluster))[:n]


class MonthNotBegun(ValueError):
    """A well-formed month after the current one: it has no bill yet."""


def month_parse(raw: str, *, now: datetime) -> date:
    """``YYYY-MM`` (empty: the current month) as the month's first day. A month not
    begun by ``now`` or before 2000 is refused (``ValueError`` with the reason)."""
    current = date(now.year, now.month, 1)
    raw = raw.strip()
    if not raw:
        return current
    year, sep, number = raw.partition("-")
    if not (sep and len(year) == 4 and len(number) == 2 and (year + number).isdigit()):
        raise ValueError("Give a month as YYYY-MM.")
    if not 1 <= int(number) <= 12 or int(year) < 2000:
        raise ValueError("Give a month as YYYY-MM.")
    month = date(int(year), int(number), 1)
    if month > current:
        raise MonthNotBegun("That month has not begun.")
    return month


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) in UTC."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    following = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
    return start, following


def hours_between(start: datetime, end: datetime, lo: datetime, hi: datetime) -> Decimal:
    """Hours of [start, end) that fall in [lo, hi), exact to the microsecond."""
    overlap = min(end, hi) - max(start, lo)
    if overlap <= timedelta(0):
        return Decimal(0)
    return Decimal(overlap // timedelta(microseconds=1)) / _MICROS_PER_HOUR


def line_compute(span: Span, *, lo: datetime, hi: datetime, now: datetime) -> Line:
    """So far: to deregistration or now. Projected: an open interval runs to the
    end of the month (the instance stays registered), a closed one adds nothing."""
    so_far_end = min(span.end or now, now)
    hours = hours_between(span.start, so_far_end, lo, hi)
    projected = hours_between(span.start, span.end or hi, lo, hi)
    return Line(span, hours, hours * span.price, projected, projected * span.price)


def bill_compute(spans: list[Span], *, month: date, now: datetime, daily: bool = True) -> Bill:
    """The month's bill; ``daily=False`` leaves out the per-day trend (the costly part:
    every interval against every day), for readers of the totals only (/metrics)."""
    start, end = month_bounds(month)
    bill = Bill(month=month, start=start, end=end, now=now)
    clusters: dict[int, ClusterBill] = {}
    for span in spans:
        line = line_compute(span, lo=start, hi=end, now=now)
        if not line.projected_hours and not line.hours:
            continue
        bill.lines.append(line)
        row = clusters.get(span.cluster_id)
        if row is None:
            row = clusters[span.cluster_id] = ClusterBill(
                span.account, span.region, span.cluster_id, span.cluster, span.price
            )
        row.instances += 1
        row.hours += line.hours
        row.cost += line.cost
        row.projected_hours += line.projected_hours
        row.projected_cost += line.projected_cost
    bill.clusters = sorted(clusters.values(), key=lambda c: (c.account, c.region, c.cluster))
    if daily:
        spans_billed = [line.span for line in bill.lines]
        bill.daily = daily_costs(spans_billed, start=start, end=end, now=now)
    return bill


def daily_costs(
    spans: list[Span], *, start: datetime, end: datetime, now: datetime
) -> list[tuple[date, Decimal]]:
    """The cost of each day of [start, end) that has begun by ``now``. Counted in
    whole microseconds per (day, price) first: a month of a thousand instances is
    tens of thousands of overlaps, and integer sums keep that fast and exact."""
    day = timedelta(days=1)
    micro = timedelta(microseconds=1)
    days = []
    first = start
    while first < end and first < now:
        days.append(first)
        first += day
    used: dict[tuple[int, Decimal], int] = defaultdict(int)
    for span in spans:
        until = min(span.end or now, now, end)
        begin = max(span.start, start)
        if until <= begin:
            continue
        index = (begin - start) // day
        while index < len(days) and days[index] < until:
            lo = max(begin, days[index])
            hi = min(until, days[index] + day)
            used[(index, span.price)] += (hi - lo) // micro
            index += 1
    by_day: dict[int, Decimal] = defaultdict(Decimal)
    for (index, price), micros in used.items():
        by_day[index] += Decimal(micros) / _MICROS_PER_HOUR * price
    return [(d.date(), by_day[i]) for i, d in enumerate(days)]
