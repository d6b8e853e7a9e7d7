"""Celery tasks for forced redeploys: thin, id in, one service call, idempotent."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from deployments.models import RedeployStatus
from deployments.redeploy import redeploy_execute, redeploy_refresh, redeploys_sweep


def _poll_seconds() -> float:
    return float(getattr(settings, "FLEETDECK_REDEPLOY_POLL_SECONDS", 3))


@shared_task(name="deployments.redeploy.tasks.execute", ignore_result=True)
def redeploy_execute_task(redeploy_id: int) -> None:
    """Make the UpdateService call, then follow the rollout."""
    redeploy = redeploy_execute(redeploy_id=redeploy_id)
    if redeploy is not None and redeploy.status == RedeployStatus.IN_PROGRESS:
        redeploy_track_task.apply_async((redeploy_id,), countdown=_poll_seconds())


@shared_task(name="deployments.redeploy.tasks.track", ignore_result=True)
def redeploy_track_task(redeploy_id: int) -> None:
    """One look at the rollout; schedules the next until it is terminal (or the
    service's tracking timeout fails it). A missing redeploy ends quietly."""
    redeploy = redeploy_refresh(redeploy_id=redeploy_id)
    if redeploy is not None and redeploy.status == RedeployStatus.IN_PROGRESS:
        redeploy_track_task.apply_async((redeploy_id,), countdown=_poll_seconds())


@shared_task(name="deployments.redeploy.tasks.sweep", ignore_result=True)
def redeploys_sweep_task() -> None:
    """Every minute: re-dispatch lost messages, restart stale tracking."""
    result = redeploys_sweep()
    for redeploy_id in result.to_track:
        redeploy_track_task.delay(redeploy_id)
