"""Service samples: one per minute, downsampled to hourly beyond 24 h, pruned."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from console.celery import app
from console.svg import bar_chart, sparkline
from deployments.models import ServiceSample
from deployments.samples.sampling import (
    epoch_minute,
    samples_prune,
    service_series,
    services_sample,
)
from tests.console import fleet

pytestmark = pytest.mark.django_db


def test_sample_is_idempotent_per_minute_and_pruned(settings) -> None:  # type: ignore[no-untyped-def]
    settings.FLEETDECK_RETENTION_DAYS = 3
    c = fleet.cluster(fleet.account())
    svc = fleet.service(c, "web", desired=3, running=2)
    now = timezone.now().replace(second=0, microsecond=0)
    assert services_sample(now=now) == 1
    assert services_sample(now=now) == 0  # same minute: nothing new
    # Backfill 3 days + of per-minute samples, then prune.
    start = epoch_minute(now) - 4 * 24 * 60
    ServiceSample.objects.bulk_create(
        [
            ServiceSample(service=svc, minute=m, sampled_at=now, desired_count=3, running_count=2)
            for m in range(start, epoch_minute(now))
        ],
        batch_size=2000,
    )
    samples_prune(now=now)
    minutes = list(ServiceSample.objects.values_list("minute", flat=True))
    recent = [m for m in minutes if m >= epoch_minute(now - timedelta(hours=24))]
    older = [m for m in minutes if m < epoch_minute(now - timedelta(hours=24))]
    assert len(recent) == 24 * 60 + 1  # one a minute for 24 h (+ the live one)
    assert older and all(m % 60 == 0 for m in older)  # hourly beyond
    assert min(minutes) >= epoch_minute(now - timedelta(days=3))  # nothing past retention
    assert len(older) <= 2 * 24 + 1
    series = service_series(service_ids=[svc.pk], since=now - timedelta(hours=24))
    assert 140 <= len(series[svc.pk]) <= 146  # thinned to one point per 10 min


def test_sample_task_and_schedules_are_registered() -> None:
    app.loader.import_default_modules()
    assert "deployments.samples.tasks.sample_services" in app.tasks
    assert "console.alerts.tasks.evaluate_alerts" in app.tasks
    assert "console.alerts.tasks.deliver" in app.tasks
    from console.celery import _app_schedules

    schedules = _app_schedules()
    assert schedules["sample-services"]["schedule"] == timedelta(seconds=60)
    assert "evaluate-alerts" in schedules


def test_svg_has_no_inline_style_and_escapes_labels() -> None:
    now = timezone.now()
    svg = sparkline(
        [(now - timedelta(hours=1), 1, 2), (now, 2, 2)],
        start=now - timedelta(hours=24),
        end=now,
        label='<evil "name">',
    )
    assert "style=" not in svg and "<evil" not in svg and 'class="line"' in svg
    bars = bar_chart([(now, 5, 2)], end=now)
    assert 'class="bar"' in bars and 'class="bar-error"' in bars and "style=" not in bars
