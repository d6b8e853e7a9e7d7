"""Retention for infrastructure history and the events the AWS mirror writes."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from clusters.models import ContainerInstance, Event, SyncRun

# The event sources the mirror writes (other writers keep their own retention).
MIRROR_EVENT_SOURCES = ("ecs-service-event", "task", "container-instance", "deployment")


def infrastructure_history_prune(
    *, now: datetime | None = None, days: int | None = None
) -> dict[str, int]:
    now = now or timezone.now()
    days = days or settings.FLEETDECK_RETENTION_DAYS
    cutoff = now - timedelta(days=days)
    events, _ = Event.objects.filter(
        source__in=MIRROR_EVENT_SOURCES, occurred_at__lt=cutoff
    ).delete()
    instances, _ = ContainerInstance.objects.filter(gone_at__lt=cutoff).delete()
    runs, _ = SyncRun.objects.filter(started_at__lt=now - timedelta(days=min(days, 7))).delete()
    return {"events": events, "instances": instances, "sync_runs": runs}
