"""The bill's queries: a fixed number each, whatever the fleet's size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Max, Min, Q

from clusters.cost.bill import Bill, Span, bill_compute, month_bounds
from clusters.cost.prices import price_per_hour
from clusters.models import ContainerInstance, InstanceRegistration

# AWS's pricing pages count a month as 730 hours; an idle instance's saving uses it.
HOURS_PER_MONTH = Decimal(730)


def month_spans(*, month: date, account: str = "") -> list[Span]:
    """The intervals that overlap the month (one query)."""
    start, end = month_bounds(month)
    regs = InstanceRegistration.objects.filter(registered_at__lt=end).filter(
        Q(deregistered_at__isnull=True) | Q(deregistered_at__gt=start)
    )
    if account:
        regs = regs.filter(account__name=account)
    # Plain tuples: a bill of thousands of intervals needs eight columns, not models.
    rows = regs.order_by("registered_at", "id").values_list(
        "instance__ec2_instance_id",
        "instance__arn",
        "account__name",
        "region",
        "cluster_id",
        "cluster__name",
        "registered_at",
        "deregistered_at",
    )
    prices: dict[str, Decimal] = {}
    spans = []
    for mi_id, arn, account_name, region, cluster_id, cluster, registered, deregistered in rows:
        if region not in prices:
            prices[region] = price_per_hour(region)
        spans.append(
            Span(
                instance=mi_id or arn.rsplit("/", 1)[-1],
                instance_arn=arn,
                account=account_name,
                region=region,
                cluster_id=cluster_id,
                cluster=cluster,
                start=registered,
                end=deregistered,
                price=prices[region],
            )
        )
    return spans


def cost_bill(*, month: date, now: datetime, account: str = "", daily: bool = True) -> Bill:
    spans = month_spans(month=month, account=account)
    return bill_compute(spans, month=month, now=now, daily=daily)


def cost_months(*, now: datetime, limit: int = 24) -> list[date]:
    """The months there is something to bill, newest first (the current one always)."""
    first = InstanceRegistration.objects.aggregate(first=Min("registered_at"))["first"]
    month = date(now.year, now.month, 1)
    oldest = date(first.year, first.month, 1) if first else month
    months: list[date] = []
    while month >= oldest and len(months) < limit:
        months.append(month)
        month = (month - timedelta(days=1)).replace(day=1)
    return months


@dataclass(frozen=True)
class IdleInstance:
    instance: ContainerInstance
    account: str
    cluster: str
    region: str
    registered_at: datetime
    last_task_at: datetime | None
    saving_per_month: Decimal


def idle_instances(
    *, now: datetime, days: int | None = None, account: str = ""
) -> list[IdleInstance]:
    """Registered external instances with no task running and none started or
    stopped in the last ``days`` days (FLEETDECK_ANYWHERE_IDLE_DAYS): they cost the
    same as busy ones. One query."""
    days = days or settings.FLEETDECK_ANYWHERE_IDLE_DAYS
    since = now - timedelta(days=days)
    # Tasks live in deployments (which clusters may not import): reach them through
    # the reverse relation Task.container_instance (related_name="tasks").
    live = Q(tasks__gone_at__isnull=True) & ~Q(tasks__last_status="STOPPED")
    instances = (
        ContainerInstance.objects.filter(
            is_external=True,
            running_tasks_count=0,
            registrations__deregistered_at__isnull=True,
            registrations__registered_at__lte=since,
        )
        .annotate(
            last_started=Max("tasks__started_at"),
            last_stopped=Max("tasks__stopped_at"),
            live_tasks=Count("tasks", filter=live),
            registered=Min("registrations__registered_at"),
        )
        .filter(live_tasks=0)
        .select_related("cluster", "cluster__account")
        .only(
            "arn", "ec2_instance_id", "cluster__name", "cluster__region", "cluster__account__name"
        )
        .order_by("cluster__name", "ec2_instance_id")
    )
    if account:
        instances = instances.filter(cluster__account__name=account)
    out = []
    for ci in instances:
        stamps = [t for t in (ci.last_started, ci.last_stopped) if t is not None]  # type: ignore[attr-defined]
        last = max(stamps) if stamps else None
        if last is not None and last > since:
            continue
        out.append(
            IdleInstance(
                instance=ci,
                account=ci.cluster.account.name,
                cluster=ci.cluster.name,
                region=ci.cluster.region,
                registered_at=ci.registered,  # type: ignore[attr-defined]
                last_task_at=last,
                saving_per_month=HOURS_PER_MONTH * price_per_hour(ci.cluster.region),
            )
        )
    return out
