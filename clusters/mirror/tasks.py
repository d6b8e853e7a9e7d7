"""Infrastructure tasks. The AWS sync fan-out lives in ``deployments.tasks`` because a
cluster sync writes workloads too (and clusters may not import deployments)."""

from __future__ import annotations

from celery import shared_task

from clusters.mirror.history import infrastructure_history_prune


@shared_task(name="clusters.mirror.tasks.prune_history", ignore_result=True)
def prune_history() -> dict[str, int]:
    """Infrastructure-only retention (events, gone instances, old sync runs);
    the schedule runs ``deployments.tasks.prune_history``, which includes this."""
    return infrastructure_history_prune()
