"""Celery tasks of the health model: thin wrappers over ``health_refresh``."""

from __future__ import annotations

from celery import shared_task

from clusters.core.locks import Lock
from deployments.health.refresh import health_refresh


@shared_task(name="deployments.health.tasks.health_refresh_fleet", ignore_result=True)
def health_refresh_fleet() -> int:
    """Every subject, every FLEETDECK_HEALTH_INTERVAL_SECONDS: what time alone
    changes (stale data, a crash window ageing out). One run at a time fleet-wide."""
    with Lock("health-refresh-fleet", ttl=120).held(keep_alive=True) as held:
        return health_refresh() if held else 0


@shared_task(name="deployments.health.tasks.health_refresh_host", ignore_result=True)
def health_refresh_host(host_id: int) -> int:
    """After a Docker host's sync or an engine event changed its mirror."""
    return health_refresh(cluster_ids=[], host_ids=[host_id], account_ids=[])
