"""The beat's fleet refresh records when it ran, and /metrics shows its age: if
the beat stops, the stored states stop changing, and this is how one knows."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from deployments.health.tasks import health_refresh_fleet
from tests.console import fleet

pytestmark = pytest.mark.django_db


def _metrics(settings: Any) -> str:
    settings.FLEETDECK_METRICS_TOKEN = "t0ken"
    return Client().get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken").content.decode()


def test_metrics_show_the_age_of_the_last_fleet_evaluation(settings: Any) -> None:
    fleet.deployment(fleet.service(fleet.cluster(fleet.account()), "web"))
    sample = re.compile(r"^fleetdeck_health_evaluation_age_seconds ([\d.]+)$", re.M)
    assert not sample.search(_metrics(settings))  # never ran: no sample
    assert health_refresh_fleet() > 0
    found = sample.search(_metrics(settings))
    assert found and float(found[1]) < 60
