"""Service samples: the running/desired history behind the dashboard's trends."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.db.models.functions import Mod, TruncHour
from django.utils import timezone

from deployments.models import Service, ServiceSample, Task

FULL_RESOLUTION = timedelta(hours=24)


def epoch_minute(at: datetime) -> int:
    return int(at.timestamp() // 60)


def services_sample(*, now: datetime | None = None) -> int:
    """Store one sample per live service for the current minute (idempotent: a
    second run in the same minute writes nothing). Returns rows written."""
    now = now or timezone.now()
    minute = epoch_minute(now)
    rows = [
        ServiceSample(
            service_id=s["id"],
            minute=minute,
            sampled_at=now,
            desired_count=s["desired_count"],
            running_count=s["running_count"],
            pending_count=s["pending_count"],
        )
        for s in Service.objects.filter(gone_at__isnull=True, status="ACTIVE").values(
            "id", "desired_count", "running_count", "pending_count"
        )
    ]
    before = ServiceSample.objects.filter(minute=minute).count()
    ServiceSample.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return ServiceSample.objects.filter(minute=minute).count() - before


def samples_prune(*, now: datetime | None = None) -> int:
    """Keep 1/min for 24 h, 1/hour (minute % 60 == 0) beyond, nothing past retention."""
    now = now or timezone.now()
    full_since = epoch_minute(now - FULL_RESOLUTION)
    keep_since = epoch_minute(now - timedelta(days=settings.FLEETDECK_RETENTION_DAYS))
    old, _ = ServiceSample.objects.filter(minute__lt=keep_since).delete()
    coarse = (
        ServiceSample.objects.filter(minute__lt=full_since)
        .annotate(past_hour=Mod("minute", 60))
        .exclude(past_hour=0)
    )
    thinned, _ = coarse.delete()
    return old + thinned


def service_series(
    *, service_ids: list[int], since: datetime, step_minutes: int = 10
) -> dict[int, list[tuple[datetime, int, int]]]:
    """(time, running, desired) per service since ``since``, one query, one point per
    ``step_minutes`` (``step_minutes`` divides 60, so hourly rows beyond 24 h pass)."""
    out: dict[int, list[tuple[datetime, int, int]]] = {i: [] for i in service_ids}
    last_kept: dict[int, int] = {}
    rows = (
        ServiceSample.objects.filter(service_id__in=service_ids, minute__gte=epoch_minute(since))
        # Thin in SQL first (every step-th minute; hourly rows are on it too), so
        # 24 h of 12 services is ~1,700 rows, not ~17,000.
        .annotate(phase=Mod("minute", step_minutes))
        .filter(phase=0)
        .order_by("service_id", "minute")
        .values_list("service_id", "minute", "sampled_at", "running_count", "desired_count")
    )
    for sid, minute, at, running, desired in rows:
        prev = last_kept.get(sid)
        if prev is not None and minute - prev < step_minutes:
            continue
        last_kept[sid] = minute
        out[sid].append((at, running, desired))
    return out


def task_stops_per_hour(*, since: datetime) -> list[tuple[datetime, int, int]]:
    """(hour, stops, failed stops) from Task.stopped_at; failed = a container exited
    non-zero or was OOM-killed. One query."""
    failed = Q(containers__exit_code__isnull=False) & ~Q(containers__exit_code=0) | Q(
        containers__reason__icontains="OutOfMemory"
    )
    rows = (
        Task.objects.filter(stopped_at__gte=since)
        .annotate(hour=TruncHour("stopped_at"))
        .values("hour")
        .annotate(
            total=Count("id", distinct=True),
            failed=Count("id", distinct=True, filter=failed),
        )
        .order_by("hour")
    )
    return [(r["hour"], r["total"], r["failed"]) for r in rows]
