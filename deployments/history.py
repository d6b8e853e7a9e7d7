"""Retention: history AWS has dropped is kept for FLEETDECK_RETENTION_DAYS, then pruned.

The deployment history (``ServiceDeployment``, ``ServiceRevision``) is not pruned: it
is kept as long as its service (``deployments.deployment_history``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from clusters.mirror.history import infrastructure_history_prune
from deployments.models import Deployment, Task


def history_prune(*, now: datetime | None = None, days: int | None = None) -> dict[str, int]:
    """Delete stopped tasks, inactive deployments and mirrored events older than the
    retention. Live rows are never pruned. Returns counts by kind."""
    now = now or timezone.now()
    days = days or settings.FLEETDECK_RETENTION_DAYS
    cutoff = now - timedelta(days=days)
    tasks, _ = Task.objects.filter(
        Q(last_status="STOPPED", stopped_at__lt=cutoff)
        | Q(last_status="STOPPED", stopped_at__isnull=True, gone_at__lt=cutoff)
        | Q(gone_at__lt=cutoff)
    ).delete()
    deployments, _ = Deployment.objects.filter(
        status="INACTIVE", updated_at_aws__lt=cutoff
    ).delete()
    counts = {"tasks": tasks, "deployments": deployments}
    counts.update(infrastructure_history_prune(now=now, days=days))
    return counts
