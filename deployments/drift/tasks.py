"""Periodic drift evaluation (some findings open by time passing alone: an agent
disconnected for more than 5 minutes, a host unreachable for more than 2 syncs)."""

from __future__ import annotations

from celery import shared_task

from deployments.drift.evaluation import drift_evaluate


@shared_task(name="deployments.drift.tasks.evaluate_drift", ignore_result=True)
def evaluate_drift() -> int:
    result = drift_evaluate()
    return len(result.opened) + len(result.resolved)
