"""Rollback pages: the offer on the service page, the confirm step (current and
target revisions, the diff slot), start (reason required, CSRF, idempotent, htmx),
progress on the redeploy page ending with "rolled back", refusals inline."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from deployments.models import Redeploy, RedeployKind, RedeployStatus
from deployments.redeploy import redeploy_execute, redeploy_refresh
from tests.deployments.redeploy_fleet import fleet_create
from tests.deployments.rollback.fleet import broken_release

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sync_every_refresh(settings) -> None:
    settings.FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS = 0


def _form(client: Client, url: str) -> tuple[str, str]:
    html = client.get(url).content.decode()
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', html)
    return client.cookies["csrftoken"].value, key.group(1) if key else ""


def test_service_page_offers_the_rollback_and_the_confirm_step_shows_both_revisions(
    sandbox, operator_client, viewer_client
) -> None:
    fleet, _ = broken_release(sandbox)
    web = fleet.services["web"]
    page = operator_client.get(f"/services/{web.pk}/").content.decode()
    assert "Roll back to app:1 (last revision that completed)…" in page
    assert f'hx-get="/services/{web.pk}/rollback/"' in page
    assert "Roll back to app:1" not in viewer_client.get(f"/services/{web.pk}/").content.decode()

    html = operator_client.get(f"/services/{web.pk}/rollback/").content.decode()
    current = html[html.index('class="rollback-current"') :]
    assert (
        current.index("app:2") < current.index("FAILED") < current.index('class="rollback-target"')
    )
    assert (
        'class="rollback-target"><span class="mono">app:1</span>, the last revision that completed'
        in html
    )
    assert (
        '<section id="rollback-diff"' in html and f'data-to="{fleet.task_definition_arn}"' in html
    )
    # What rolling back changes, before the button: the image tag goes from 2 back to 1.
    diff = html[
        html.index('<section id="rollback-diff"') : html.index("Roll back to app:1</button>")
    ]
    row = re.search(r'data-field="container app: image tag".*?</tr>', diff, re.S)
    assert row and "diff-before" in row[0]
    assert re.search(r'diff-before">2<', row[0]) and re.search(r'diff-after">1<', row[0])
    assert "Roll back to app:1</button>" in html and "csrfmiddlewaretoken" in html
    # As an htmx swap of the service page's actions panel: the panel alone.
    panel = operator_client.get(f"/services/{web.pk}/rollback/", HTTP_HX_REQUEST="true")
    assert (
        "<html" not in panel.content.decode() and 'id="service-actions"' in panel.content.decode()
    )


def test_start_needs_a_reason_and_csrf_and_is_idempotent(sandbox, operator_client) -> None:
    fleet, _ = broken_release(sandbox)
    web = fleet.services["web"]
    start = f"/services/{web.pk}/rollback/start"
    assert operator_client.post(start, {"reason": "x"}).status_code == 403  # no CSRF token
    token, key = _form(operator_client, f"/services/{web.pk}/rollback/")
    empty = operator_client.post(
        start, {"reason": " ", "idempotency_key": key}, HTTP_X_CSRFTOKEN=token
    )
    assert empty.status_code == 400
    assert "Say why you are rolling back" in empty.content.decode()
    form = {"reason": "app:2 crashes", "idempotency_key": key}
    first = operator_client.post(start, form, HTTP_X_CSRFTOKEN=token)
    second = operator_client.post(start, form, HTTP_X_CSRFTOKEN=token)  # double click
    _, other_key = _form(operator_client, f"/services/{web.pk}/rollback/")  # a second tab
    third = operator_client.post(
        start, {"reason": "again", "idempotency_key": other_key}, HTTP_X_CSRFTOKEN=token
    )
    rollback = Redeploy.objects.get()
    assert rollback.kind == RedeployKind.ROLLBACK and rollback.status == RedeployStatus.QUEUED
    assert (
        first["Location"] == second["Location"] == third["Location"] == f"/redeploys/{rollback.pk}/"
    )
    page = operator_client.get(f"/redeploys/{rollback.pk}/").content.decode()
    assert "<h1>Rollback of web</h1>" in page and "already under way" in page
    assert 'class="mono rollback-target">app:1</span>' in page


def test_htmx_progress_ends_with_rolled_back(sandbox, operator_client) -> None:
    fleet, _ = broken_release(sandbox)
    web = fleet.services["web"]
    token, key = _form(operator_client, f"/services/{web.pk}/rollback/")
    response = operator_client.post(
        f"/services/{web.pk}/rollback/start",
        {"reason": "htmx", "idempotency_key": key},
        HTTP_X_CSRFTOKEN=token,
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and 'hx-trigger="every 5s"' in response.content.decode()
    triggers = json.loads(response["HX-Trigger"])
    assert triggers["flash"]["level"] == "success" and "redeploy-changed" in triggers
    rollback = redeploy_execute(redeploy_id=Redeploy.objects.get().pk)
    assert rollback is not None
    for _ in range(20):
        sandbox.client.tick(1)
        rollback = redeploy_refresh(redeploy_id=rollback.pk)
        assert rollback is not None
        if rollback.is_terminal:
            break
    poll = operator_client.get(f"/redeploys/{rollback.pk}/", HTTP_HX_REQUEST="true")
    assert poll.status_code == 286  # stop polling
    assert json.loads(poll["HX-Trigger"])["flash"]["message"] == "web rolled back to app:1."
    timeline = operator_client.get("/timeline/?source=deployment").content.decode()
    assert "web rolled back to app:1 (deployment" in timeline


def test_refused_without_an_earlier_completed_revision(sandbox, operator_client) -> None:
    fleet = fleet_create(sandbox, desired=1, instances=1)
    web = fleet.services["web"]
    assert "Roll back to" not in operator_client.get(f"/services/{web.pk}/").content.decode()
    html = operator_client.get(f"/services/{web.pk}/rollback/").content.decode()
    assert "There is nothing to roll back to" in html
    assert f"/services/{web.pk}/rollback/start" not in html
    token, _ = _form(operator_client, f"/services/{web.pk}/")
    refused = operator_client.post(
        f"/services/{web.pk}/rollback/start", {"reason": "undo"}, HTTP_X_CSRFTOKEN=token
    )
    assert refused.status_code == 400 and "nothing to roll back to" in refused.content.decode()
    assert not Redeploy.objects.exists()


def test_bad_ids_are_404(operator_client: Any) -> None:
    assert operator_client.get("/services/999999/rollback/").status_code == 404
