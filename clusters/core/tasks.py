"""Celery tasks for the timeline (thin: they call clusters.core.timeline services)."""

from __future__ import annotations

import logging

from celery import shared_task

from clusters.core.timeline import events_prune

logger = logging.getLogger(__name__)


@shared_task(name="clusters.core.tasks.prune_events", ignore_result=True)
def prune_events() -> dict[str, int]:
    """Apply per-source event retention. Idempotent."""
    deleted = events_prune()
    if deleted:
        logger.info("pruned timeline events: %s", deleted)
    return deleted
