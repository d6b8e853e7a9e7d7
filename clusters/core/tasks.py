"""Celery tasks of the platform: timeline retention and the job outbox sweep (thin:
they call clusters.core services)."""

from __future__ import annotations

import logging

from celery import shared_task

from clusters.core.jobs import jobs_pending_send, jobs_prune
from clusters.core.timeline import events_prune

logger = logging.getLogger(__name__)


@shared_task(name="clusters.core.tasks.prune_events", ignore_result=True)
def prune_events() -> dict[str, int]:
    """Apply per-source event retention. Idempotent."""
    deleted = events_prune()
    if deleted:
        logger.info("pruned timeline events: %s", deleted)
    return deleted


@shared_task(name="clusters.core.tasks.jobs_resend", ignore_result=True)
def jobs_resend() -> int:
    """Every 15 s and when a worker starts: send what the broker refused earlier
    (each job claimed once, so two sweeps never send it twice); forget old sent ones."""
    sent = jobs_pending_send()
    if sent:
        logger.info("resent %s queued job(s) the broker had refused", sent)
    jobs_prune()
    return sent
