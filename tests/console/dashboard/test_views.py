"""The dashboard page, its live fragments, the wallboard, acknowledgements and roles."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from clusters.models import AuditEntry
from console.models import Acknowledgement
from deployments.models import Service
from deployments.samples.sampling import services_sample
from tests.console import fleet

pytestmark = pytest.mark.django_db


@pytest.fixture
def broken_fleet():  # type: ignore[no-untyped-def]
    c = fleet.cluster(fleet.account(), name="prod-ec2")
    api = fleet.service(c, "api", desired=2)
    fleet.deployment(api, "FAILED", rollout_state_reason="circuit breaker")
    fleet.service(c, "web", desired=3)
    fleet.instance(
        c,
        connected=False,
        ec2_instance_id="mi-0123456789abcdef0",
        agent_connected_changed_at=timezone.now() - timedelta(minutes=20),
    )
    fleet.health()  # as the end of the sync that mirrored these rows would
    return c


def _csrf(client: Client) -> str:
    client.get("/")
    return client.cookies["csrftoken"].value


def test_viewer_sees_summary_and_attention_without_inline_styles(
    viewer_client, broken_fleet
) -> None:  # type: ignore[no-untyped-def]
    response = viewer_client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    api = Service.objects.get(name="api")
    assert "Service api is failing" in html and "failed: circuit breaker" in html
    assert f'data-subject="service:{api.pk}" data-health="failing"' in html
    assert "Instance mi-0123456789abcdef0 is degraded" in html
    assert "agent disconnected: no task can be placed here" in html
    assert "prod-ec2" in html
    assert 'hx-trigger="every 5s"' in html
    assert " style=" not in html and "<script>" not in html and "onclick" not in html
    # Viewers cannot acknowledge: no forms for them.
    assert "dashboard/acknowledge" not in html


def _page_queries(client, django_assert_max_num_queries) -> list[int]:  # type: ignore[no-untyped-def]
    fleet.health()
    client.get("/")  # warm the session
    counts = []
    # fleet_snapshot's ten, two extension rules, the acknowledgements, the session's,
    # the services' diagnoses (two: deployments.diagnosis) and the event streams (each
    # account's sync mode).
    for url, limit in (("/", 21), ("/?part=live", 21), ("/?part=trends", 8)):
        with django_assert_max_num_queries(limit) as ctx:
            assert client.get(url).status_code in (200, 204), url
        counts.append(len(ctx.captured_queries))
    return counts


def test_page_query_count_is_fixed(admin_client_, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    small = fleet.cluster(fleet.account("small"), name="small")
    fleet.service(small, "web", desired=2, running=1)
    small_fleet = _page_queries(admin_client_, django_assert_max_num_queries)
    fleet.big_fleet()
    assert _page_queries(admin_client_, django_assert_max_num_queries) == small_fleet


def test_live_poll_sends_only_changed_fragments(viewer_client, broken_fleet) -> None:  # type: ignore[no-untyped-def]
    html = viewer_client.get("/").content.decode()
    versions = dict(re.findall(r'name="(v_[\w-]+)" value="([0-9a-f]+)"', html))
    assert set(versions) == {"v_summary", "v_attention"}
    assert viewer_client.get("/", {"part": "live", **versions}).status_code == 204
    # Something changes: only the fragment(s) that changed come back, out of band.
    Service.objects.filter(name="web").update(running_count=1)
    assert viewer_client.get("/", {"part": "live", **versions}).status_code == 204
    fleet.health()  # the page shows what the health refresh stored
    response = viewer_client.get("/", {"part": "live", **versions})
    assert response.status_code == 200
    body = response.content.decode()
    assert '<div id="attention" hx-swap-oob="innerHTML">' in body
    assert "Service web is degraded" in body and "1 of 3 tasks running" in body


def test_trends_fragment_draws_svg(viewer_client, broken_fleet) -> None:  # type: ignore[no-untyped-def]
    services_sample()
    api = Service.objects.get(name="api")
    fleet.stopped_task(api, exit_code=137, reason="OutOfMemoryError")
    html = viewer_client.get("/?part=trends").content.decode()
    assert '<svg class="chart bars"' in html and 'class="bar-error"' in html
    assert '<svg class="chart sparkline"' in html
    assert " style=" not in html


def test_wallboard_has_no_navigation(viewer_client, broken_fleet) -> None:  # type: ignore[no-untyped-def]
    html = viewer_client.get("/?tv=1").content.decode()
    assert 'class="tv"' in html and "mainnav" not in html
    api = Service.objects.get(name="api")
    assert "Service api is failing" in html
    assert f'data-subject="service:{api.pk}" data-health="failing"' in html
    assert "wallboard.css" in html and " style=" not in html
    assert viewer_client.get("/?tv=1&part=live&v_tv-summary=x").status_code == 200


def test_operator_acknowledges_with_a_note(operator_client, broken_fleet) -> None:  # type: ignore[no-untyped-def]
    html = operator_client.get("/").content.decode()
    assert "Acknowledge" in html
    form = re.search(
        r'name="fingerprint" value="(health:service:[^"]+)">\s*'
        r'<input type="hidden" name="state" value="([^"]+)">',
        html,
    )
    assert form and form.group(2) == "failing:rollout-failed"
    token = operator_client.cookies["csrftoken"].value
    response = operator_client.post(
        "/dashboard/acknowledge/",
        {"fingerprint": form.group(1), "state": form.group(2), "note": "rolling back"},
        HTTP_X_CSRFTOKEN=token,
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "Acknowledged by otto-operator" in response.content.decode()
    ack = Acknowledgement.objects.get()
    assert ack.user_name == "otto-operator" and ack.note == "rolling back"
    assert AuditEntry.objects.filter(action="dashboard.acknowledge").count() == 1
    from console.dashboard import needs_attention

    [acked] = [i for i in needs_attention() if i.fingerprint == form.group(1)]
    assert acked.acknowledged  # it holds for the state acknowledged
    # Without htmx: a plain form post redirects back.
    response = operator_client.post(
        "/dashboard/acknowledge/",
        {"fingerprint": "x", "state": "y"},
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 302


def test_viewer_cannot_acknowledge_and_csrf_is_enforced(viewer_client, operator_client) -> None:  # type: ignore[no-untyped-def]
    token = _csrf(viewer_client)
    response = viewer_client.post(
        "/dashboard/acknowledge/", {"fingerprint": "a", "state": "b"}, HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 403
    response = operator_client.post("/dashboard/acknowledge/", {"fingerprint": "a", "state": "b"})
    assert response.status_code == 403  # no CSRF token
    assert not Acknowledgement.objects.exists()


def test_shared_result_is_reused_and_cleared_by_an_acknowledgement(
    settings, operator_client, broken_fleet, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    from console.dashboard import views as dashboard_views

    settings.FLEETDECK_DASHBOARD_CACHE_SECONDS = 60
    dashboard_views._memo.clear()
    try:
        first = dashboard_views.dashboard_shared()
        with django_assert_num_queries(0):
            assert dashboard_views.dashboard_shared() is first
        token = _csrf(operator_client)
        operator_client.post(
            "/dashboard/acknowledge/",
            {"fingerprint": first.attention[0].fingerprint, "state": first.attention[0].state},
            HTTP_X_CSRFTOKEN=token,
        )
        assert dashboard_views.dashboard_shared().attention[-1].acknowledged
    finally:
        dashboard_views._memo.clear()


def test_expired_result_is_served_while_another_thread_recomputes(
    settings, broken_fleet, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    import time

    from console.dashboard import views as dashboard_views

    settings.FLEETDECK_DASHBOARD_CACHE_SECONDS = 2
    dashboard_views._memo.clear()
    try:
        first = dashboard_views.dashboard_shared()
        expired = time.monotonic() - 3
        dashboard_views._memo["dashboard"] = (expired, first)
        # Another thread holds the lock, as while it recomputes: this one does not
        # queue behind it, it answers at once with the previous result.
        with dashboard_views._memo_lock, django_assert_num_queries(0):
            assert dashboard_views.dashboard_shared() is first
        # Nobody recomputing: this thread does, and the next ones share it.
        fresh = dashboard_views.dashboard_shared()
        assert fresh is not first
        with django_assert_num_queries(0):
            assert dashboard_views.dashboard_shared() is fresh
    finally:
        dashboard_views._memo.clear()


def test_every_attention_link_opens(viewer_client, broken_fleet) -> None:  # type: ignore[no-untyped-def]
    from console.dashboard import needs_attention

    items = needs_attention()
    assert items
    for item in items:
        assert item.url and item.timeline_url
        assert viewer_client.get(item.url).status_code == 200, item.url
        response = viewer_client.get(item.timeline_url)
        assert response.status_code == 200, item.timeline_url
