"""Health of the things the console depends on: database, broker, worker."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

log = logging.getLogger(__name__)

# Written by the heartbeat task (console.ops.tasks), read here: health never imports tasks.
HEARTBEAT_KEY = "fleetdeck:worker-heartbeat"

# Beat sends a heartbeat every 30 s; three missed beats means work is paused.
HEARTBEAT_STALE_AFTER = timedelta(seconds=95)


@dataclass(frozen=True)
class BackgroundStatus:
    ok: bool
    last_heartbeat: datetime | None
    message: str
    unreachable: bool = False  # the cache (the broker's Redis) did not answer

    @property
    def paused(self) -> bool:
        """Work stopped (broker unreachable, or the worker's heartbeat went stale),
        as opposed to a worker that has not reported in yet."""
        return not self.ok and (self.unreachable or self.last_heartbeat is not None)


def database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down" to a health check
        return False, type(exc).__name__
    return True, connection.vendor


def broker_ok() -> tuple[bool, str]:
    from console.celery import app

    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
        from pathlib import Path

        ok = Path(str(folder)).is_dir()
        return ok, "filesystem" if ok else "broker folder missing"
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # kombu raises many types for "unreachable"
        return False, type(exc).__name__
    return True, "redis"


def background_work_status() -> BackgroundStatus:
    """Whether the worker and beat are alive, judged by the heartbeat task."""
    try:
        raw = cache.get(HEARTBEAT_KEY)
    except Exception:  # cache down (Redis stopped): pages still render
        log.warning("cache unreachable while reading the worker heartbeat")
        return BackgroundStatus(
            False, None, "Background work paused: the broker is unreachable.", unreachable=True
        )
    beat = parse_datetime(raw) if isinstance(raw, str) else None
    if beat is None:
        return BackgroundStatus(False, None, "Background work has not reported in yet.")
    if timezone.now() - beat > HEARTBEAT_STALE_AFTER:
        return BackgroundStatus(False, beat, "Background work paused: no worker heartbeat.")
    return BackgroundStatus(True, beat, "Background work running.")
