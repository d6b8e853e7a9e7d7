"""Celery tasks for forced redeploys: thin, id in, one service call, idempotent."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from clusters.core.jobs import job_enqueue
from deployments.models import RedeployStatus
from deployments.redeploy import redeploy_execute, redeploy_refresh, redeploys_sweep

logger = logging.getLogger(__name__)
TRACK_TASK = "deployments.redeploy.tasks.track"


def _poll_seconds() -> float:
    return float(settings.FLEETDECK_REDEPLOY_POLL_SECONDS)


def _track_later(redeploy_id: int) -> None:
    """The next look at a rollout. A poll loop re-queues itself directly (an outbox row
    every few seconds would be noise); if the broker refuses, the redeploy stays in
    progress and the sweep hands it back to be followed (``STALE_TRACKING``)."""
    try:
        redeploy_track_task.apply_async((redeploy_id,), countdown=_poll_seconds())
    except Exception as exc:  # kombu/redis raise many types for "unreachable"
        logger.warning(
            "could not queue tracking of redeploy %s (%s); the sweep picks it up",
            redeploy_id,
            type(exc).__name__,
        )


@shared_task(name="deployments.redeploy.tasks.execute", ignore_result=True)
def redeploy_execute_task(redeploy_id: int) -> None:
    """Make the UpdateService call, then follow the rollout."""
    redeploy = redeploy_execute(redeploy_id=redeploy_id)
    if redeploy is not None and redeploy.status == RedeployStatus.IN_PROGRESS:
        _track_later(redeploy_id)


@shared_task(name="deployments.redeploy.tasks.track", ignore_result=True)
def redeploy_track_task(redeploy_id: int) -> None:
    """One look at the rollout; schedules the next until it is terminal (or the
    service's tracking timeout fails it). A missing redeploy ends quietly."""
    redeploy = redeploy_refresh(redeploy_id=redeploy_id)
    if redeploy is not None and redeploy.status == RedeployStatus.IN_PROGRESS:
        _track_later(redeploy_id)


@shared_task(name="deployments.redeploy.tasks.sweep", ignore_result=True)
def redeploys_sweep_task() -> None:
    """Every minute: re-dispatch lost messages, restart stale tracking."""
    result = redeploys_sweep()
    for redeploy_id in result.to_track:
        job_enqueue(TRACK_TASK, redeploy_id)
