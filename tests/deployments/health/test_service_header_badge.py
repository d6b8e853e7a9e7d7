"""The service page's title badge follows its incident header: the header polls
while a rollout is in flight, and its answer carries the badge out of band, so the
title never says "degraded" above a header that says "Healthy"."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from deployments.health import health_refresh
from deployments.models import Deployment
from tests.console import fleet

pytestmark = pytest.mark.django_db

BADGE = re.compile(r'data-subject="service:(\d+)" data-health="([a-z]+)"')


def test_the_title_badge_is_swapped_with_the_polled_header(viewer_client: Client) -> None:
    svc = fleet.service(fleet.cluster(fleet.account()), "web", desired=2)
    dep = fleet.deployment(svc, "IN_PROGRESS")
    health_refresh()
    page = viewer_client.get(f"/services/{svc.pk}/").content.decode()
    assert BADGE.findall(page) == [(str(svc.pk), "degraded")]
    assert 'hx-swap-oob="true"' not in page  # the full page has one badge, in the title
    Deployment.objects.filter(pk=dep.pk).update(rollout_state="COMPLETED")
    health_refresh()
    part = viewer_client.get(
        f"/services/{svc.pk}/?part=incident", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert '<span id="service-health" hx-swap-oob="true">' in part
    assert BADGE.findall(part) == [(str(svc.pk), "healthy")]
    # Without htmx the page is whole, with its one badge.
    plain = viewer_client.get(f"/services/{svc.pk}/?part=incident").content.decode()
    assert BADGE.findall(plain) == [(str(svc.pk), "healthy")]
