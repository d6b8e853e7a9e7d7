"""Celery tasks of the health model: thin wrappers over ``health_refresh``."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from clusters.core.locks import Lock
from deployments.health.refresh import FLEET_EVALUATED_KEY, health_refresh


@shared_task(name="deployments.health.tasks.health_refresh_fleet", ignore_result=True)
def health_refresh_fleet() -> int:
    """Every subject, every FLEETDECK_HEALTH_INTERVAL_SECONDS: what time alone
    changes (stale data, a crash window ageing out). One run at a time fleet-wide."""
    with Lock("health-refresh-fleet", ttl=120).held(keep_alive=True) as held:
        if not held:
            return 0
        written = health_refresh()
        # /metrics exposes its age: every state is only as fresh as this run.
        cache.set(FLEET_EVALUATED_KEY, timezone.now().isoformat(), timeout=None)
        return written


@shared_task(name="deployments.health.tasks.health_refresh_host", ignore_result=True)
def health_refresh_host(host_id: int) -> int:
    """After a Docker host's sync or an engine event changed its mirror."""
    return health_refresh(cluster_ids=[], host_ids=[host_id], account_ids=[])
