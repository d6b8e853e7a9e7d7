"""Timeline retention: per-source, pruned by a scheduled task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from clusters.core.tasks import prune_events
from clusters.core.timeline import NewEvent, event_retention_days, events_prune, events_record
from clusters.models import Event
from console.env import ConfigError
from console.settings_fleetdeck import _retention_overrides


def _event(source: str, age_days: float, key: str) -> NewEvent:
    return NewEvent(
        source=source,
        message=f"{source} {age_days}d old",
        dedupe_key=key,
        occurred_at=timezone.now() - timedelta(days=age_days),
    )


@pytest.mark.django_db
def test_prune_applies_default_and_per_source_retention(settings) -> None:
    settings.FLEETDECK_EVENT_RETENTION_DAYS = 90
    settings.FLEETDECK_EVENT_RETENTION_OVERRIDES = {"docker": 30, "sync": 7}
    events_record(
        [
            _event("task", 89, "a"),
            _event("task", 91, "b"),
            _event("docker", 29, "c"),
            _event("docker", 31, "d"),
            _event("sync", 6, "e"),
            _event("sync", 8, "f"),
            _event("audit", 120, "g"),
        ]
    )
    assert event_retention_days("docker") == 30
    assert event_retention_days("audit") == 90
    deleted = events_prune(batch_size=1)  # batches of one: the loop must finish them all
    assert deleted == {"task": 1, "docker": 1, "sync": 1, "audit": 1}
    assert set(Event.objects.values_list("dedupe_key", flat=True)) == {"a", "c", "e"}
    assert events_prune() == {}  # idempotent


@pytest.mark.django_db
def test_prune_task_runs_the_service() -> None:
    events_record([_event("sync", 400, "old")])
    assert prune_events.run() == {"sync": 1}
    assert not Event.objects.exists()


def test_prune_task_is_registered_and_scheduled() -> None:
    from console.celery import _app_schedules, app

    app.loader.import_default_modules()
    assert "clusters.core.tasks.prune_events" in app.tasks
    assert _app_schedules()["prune-events"]["task"] == "clusters.core.tasks.prune_events"


def test_retention_overrides_parse_and_reject_garbage() -> None:
    assert _retention_overrides("docker=30, sync=7,") == {"docker": 30, "sync": 7}
    assert _retention_overrides("") == {}
    for bad in ("docker", "docker=x", "docker=0"):
        with pytest.raises(ConfigError):
            _retention_overrides(bad)
