"""The ECS Anywhere bill with a moved clock: instances registered at known times cost
hours x price to the cent; a deregistered one stops adding; months split exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from clusters.cost import cost_bill, cost_months, idle_instances, registration_close
from clusters.display import usd_text
from tests.clusters.cost.helpers import external
from tests.console import fleet

pytestmark = pytest.mark.django_db
PRICE = Decimal("0.01025")
NOV = date(2026, 11, 1)


def at(day: int, hour: int = 0, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def test_instances_registered_at_known_times_cost_hours_times_price() -> None:
    c = fleet.cluster(name="edge")
    external(c, at(3, 10))  # 7 days 6.5 h before "now"
    external(c, at(10, 4))  # 12.5 h before "now"
    now = at(10, 16, 30)
    bill = cost_bill(month=NOV, now=now)
    hours = Decimal("174.5") + Decimal("12.5")
    assert bill.hours == hours
    assert bill.cost == hours * PRICE == Decimal("1.916750")
    assert usd_text(bill.cost) == "1.92"
    # Open intervals run to the month's end: 662 h + 500 h.
    assert bill.projected_cost == (Decimal(662) + Decimal(500)) * PRICE
    assert usd_text(bill.projected_cost) == "11.91"
    [row] = bill.clusters
    assert (row.cluster, row.instances, row.cost) == ("edge", 2, bill.cost)
    # The daily trend adds up to the same bill, one bar per day begun.
    assert len(bill.daily) == 10
    assert sum(v for _, v in bill.daily) == bill.cost
    assert bill.daily[0] == (date(2026, 11, 1), Decimal(0))
    assert bill.daily[3][1] == 24 * PRICE


def test_moving_the_clock_adds_cost_by_the_hour() -> None:
    external(fleet.cluster(), at(1))
    for hours in (1, 24, 100, 719):
        now = at(1) + timedelta(hours=hours)
        assert cost_bill(month=NOV, now=now).cost == hours * PRICE


def test_an_instance_deregistered_mid_month_stops_adding_cost() -> None:
    c = fleet.cluster()
    ci = external(c, at(2, 6))
    # Still registered on the 7th: 5 days so far, projected to the end of the month.
    earlier = cost_bill(month=NOV, now=at(7, 6))
    assert earlier.cost == 120 * PRICE
    assert earlier.projected_cost == (30 * 24 - 30) * PRICE
    # Deregistered on the 12th at 18:00 (a decommission closes the interval there).
    assert registration_close(instance_arn=ci.arn, at=at(12, 18)) == 1
    expected = 252 * PRICE  # 10.5 days
    for now in (at(12, 18), at(13), at(20), at(30, 23, 59)):
        bill = cost_bill(month=NOV, now=now)
        assert bill.cost == expected
        assert bill.projected_cost == expected  # nothing more to come
        assert sum(v for _, v in bill.daily) == expected
    assert usd_text(expected) == "2.58"
    assert cost_bill(month=date(2026, 12, 1), now=at(2, month=12)).cost == 0


def test_an_interval_over_a_month_boundary_splits_at_midnight_utc() -> None:
    c = fleet.cluster()
    external(c, at(31, 20, month=10))  # 4 h in October
    external(c, at(25, 12, month=10), deregistered=at(1, 6))  # 6 d 12 h + 6 h
    now = at(2)
    october = cost_bill(month=date(2026, 10, 1), now=now)
    assert october.hours == 4 + 6 * 24 + 12
    assert october.cost == october.projected_cost  # a past month is final
    november = cost_bill(month=NOV, now=now)
    assert november.hours == 24 + 6
    assert november.projected_cost == (30 * 24 + 6) * PRICE
    # The two months add up to the whole interval: no hour twice, none lost.
    assert october.hours + november.hours == 4 + 24 + (6 * 24 + 18)
    assert cost_months(now=now) == [date(2026, 11, 1), date(2026, 10, 1)]
    # A December bill seen on Nov 2 has not begun: nothing so far.
    assert cost_bill(month=date(2026, 12, 1), now=now).cost == 0


def test_price_per_region_is_configurable(settings) -> None:  # type: ignore[no-untyped-def]
    settings.FLEETDECK_ANYWHERE_PRICE_PER_HOUR = Decimal("0.02")
    settings.FLEETDECK_ANYWHERE_PRICE_BY_REGION = {"eu-west-1": Decimal("0.5")}
    external(fleet.cluster(name="us"), at(1))
    external(fleet.cluster(name="eu", region="eu-west-1"), at(1))
    bill = cost_bill(month=NOV, now=at(1, 10))
    by_name = {c.cluster: c for c in bill.clusters}
    assert by_name["us"].cost == Decimal("0.20")
    assert by_name["eu"].cost == Decimal("5.0")
    assert [c.cluster for c in bill.top_clusters()] == ["eu", "us"]


def test_account_filter(settings) -> None:  # type: ignore[no-untyped-def]
    external(fleet.cluster(fleet.account("a"), name="one"), at(1))
    external(fleet.cluster(fleet.account("b"), name="two"), at(1))
    bill = cost_bill(month=NOV, now=at(2), account="b")
    assert [c.cluster for c in bill.clusters] == ["two"]


def test_idle_instances_are_those_without_a_task_for_n_days(settings) -> None:  # type: ignore[no-untyped-def]
    settings.FLEETDECK_ANYWHERE_IDLE_DAYS = 7
    now = at(20)
    c = fleet.cluster(name="edge")
    idle = external(c, at(1))
    busy = external(c, at(1))
    recent = external(c, at(18))  # registered 2 days ago: too soon to call idle
    stale = external(c, at(1))
    gone = external(c, at(1), deregistered=at(5))
    svc = fleet.service(c, "camera")
    recent_stop = fleet.stopped_task(svc, stopped=now - timedelta(days=2))
    recent_stop.container_instance = busy
    recent_stop.save()
    old = fleet.stopped_task(svc, stopped=now - timedelta(days=9))
    old.container_instance = stale
    old.save()
    found = {i.instance.pk: i for i in idle_instances(now=now)}
    assert set(found) == {idle.pk, stale.pk}
    assert busy.pk not in found and recent.pk not in found and gone.pk not in found
    assert found[stale.pk].last_task_at == now - timedelta(days=9)
    assert found[idle.pk].last_task_at is None
    assert found[idle.pk].saving_per_month == 730 * PRICE
    assert usd_text(found[idle.pk].saving_per_month) == "7.48"
