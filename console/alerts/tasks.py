"""Celery tasks for alerts out (thin: ids in, one service call, typed retries)."""

from __future__ import annotations

import random

from celery import shared_task

from clusters.core.jobs import task_retry
from console.alerts.notifications import (
    MAX_ATTEMPTS,
    DeliveryClaimBusy,
    DeliveryTransientError,
    alerts_evaluate,
    alerts_prune,
    delivery_attempt,
)


@shared_task(name="console.alerts.tasks.evaluate_alerts", ignore_result=True)
def evaluate_alerts() -> int:
    """Beat runs this every minute: fire what started, resolve what cleared."""
    result = alerts_evaluate()
    alerts_prune()
    return len(result.deliveries)


@shared_task(
    bind=True,
    name="console.alerts.tasks.deliver",
    ignore_result=True,
    max_retries=MAX_ATTEMPTS - 1,
)
def deliver(self, delivery_id: int) -> None:  # type: ignore[no-untyped-def]
    """Send one delivery; retry 5xx and connection errors with backoff and jitter.

    A message delivered twice (acks_late) sends once: the delivery is claimed
    first. While another worker holds the claim, look again once that claim would
    be stale, so a worker killed mid-send does not leave the delivery unsent."""
    final = self.request.retries >= self.max_retries
    try:
        delivery_attempt(delivery_id=delivery_id, final=final)
    except DeliveryClaimBusy as exc:
        if final:
            return
        task_retry(self, exc=exc, countdown=exc.retry_in + random.uniform(1, 5))
    except DeliveryTransientError as exc:
        if final:
            return
        countdown = min(2 ** (self.request.retries + 1), 300) + random.uniform(0, 1)
        task_retry(self, exc=exc, countdown=countdown)
