"""Console-level tasks: the heartbeat that shows background work is alive."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready
from django.core.cache import cache
from django.utils import timezone

from console.ops.health import HEARTBEAT_KEY


@shared_task(name="console.ops.tasks.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Beat sends this every 30 s; the page banner warns when it goes stale."""
    cache.set(HEARTBEAT_KEY, timezone.now().isoformat(), timeout=None)


@shared_task(name="console.ops.tasks.echo")
def echo(value: str) -> str:
    """A trivial round trip, used by /healthz?deep=1 and the worker tests."""
    return value


@worker_ready.connect
def _heartbeat_on_start(**_: object) -> None:
    """Report in as soon as a worker is up, not 30 s later at the first beat."""
    heartbeat.delay()
