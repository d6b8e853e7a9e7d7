"""The Cloud Map schedules: the catalogue on the slow schedule for every (account,
region) with clusters, instances on the sync cadence only where a live service uses
Service Connect or a service registry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings

from clusters.models import QueuedJob
from deployments.models import Service
from deployments.service_map.tasks import cloudmap_catalog_all, cloudmap_instances_all
from tests.deployments.service_map.fleet import networking_fleet

pytestmark = pytest.mark.django_db


@override_settings(FLEETDECK_CLOUDMAP_CATALOG_INTERVAL_SECONDS=1200)
def test_schedules_are_declared() -> None:
    from console.celery import _app_schedules, app

    app.loader.import_default_modules()
    schedules = _app_schedules()
    catalog = schedules["cloudmap-catalog"]
    assert catalog["task"] == "deployments.service_map.tasks.cloudmap_catalog_all"
    assert catalog["schedule"] == timedelta(seconds=1200)
    assert schedules["cloudmap-instances"]["schedule"] == timedelta(seconds=30)
    for name in ("cloudmap_catalog", "cloudmap_instances"):
        assert f"deployments.service_map.tasks.{name}" in app.tasks


def test_fan_outs_queue_per_account_region(sandbox: Any) -> None:
    fleet = networking_fleet(sandbox)
    QueuedJob.objects.all().delete()
    assert cloudmap_catalog_all() == 1
    assert cloudmap_instances_all() == 1
    jobs = sorted(QueuedJob.objects.values_list("task_name", "args"))
    assert jobs == [
        ("deployments.service_map.tasks.cloudmap_catalog", [fleet.account.pk, "us-east-1"]),
        ("deployments.service_map.tasks.cloudmap_instances", [fleet.account.pk, "us-east-1"]),
    ]
    # No live service uses Service Connect or a registry: no instance listing is queued.
    Service.objects.update(service_connect_configuration={}, service_registries=[])
    assert cloudmap_instances_all() == 0
