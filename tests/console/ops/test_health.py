from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from console.ops.tasks import HEARTBEAT_KEY, heartbeat


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(anon_client) -> None:
    response = anon_client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True
    assert body["status"] == "ok"


@pytest.mark.django_db
def test_stale_heartbeat_shows_the_paused_banner(viewer_client) -> None:
    cache.set(HEARTBEAT_KEY, (timezone.now() - timedelta(minutes=10)).isoformat())
    page = viewer_client.get("/").content.decode()
    assert "Background work paused" in page
    heartbeat()
    page = viewer_client.get("/").content.decode()
    assert "Background work paused" not in page


@pytest.mark.django_db
def test_pages_carry_security_headers(viewer_client) -> None:
    response = viewer_client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert 'hx-headers=\'{"X-CSRFToken"' in response.content.decode()
