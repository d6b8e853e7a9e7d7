"""Redeploy pages: confirmation, start (idempotent, htmx), live progress with 286
and a flash, mid-rollout confirmation, retry, bulk, roles."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from deployments.models import Redeploy, RedeployBatch, RedeployStatus, Task
from deployments.redeploy import redeploy_execute, redeploy_refresh, service_force_redeploy
from tests.deployments.redeploy.panel import counts_from_rows, panel_counts
from tests.deployments.redeploy_fleet import fleet_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sync_every_refresh(settings) -> None:
    """The tests tick the sandbox and refresh at once: no shared-sync gap."""
    settings.FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS = 0


def _csrf(client: Client, url: str) -> tuple[str, str]:
    """GET a form page; return (csrf token, idempotency key)."""
    html = client.get(url).content.decode()
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', html)
    return client.cookies["csrftoken"].value, key.group(1) if key else ""


def _follow(sandbox: Any, redeploy: Redeploy) -> Redeploy:
    for _ in range(15):
        sandbox.client.tick(1)
        redeploy = redeploy_refresh(redeploy_id=redeploy.pk)  # type: ignore[assignment]
        if redeploy.is_terminal:
            return redeploy
    raise AssertionError("not terminal")


def test_confirmation_shows_what_will_happen(sandbox, operator_client, viewer_client) -> None:
    fleet = fleet_create(sandbox, desired=4)
    web = fleet.services["web"]
    url = f"/services/{web.pk}/redeploy/?reason=new+certs"
    html = operator_client.get(url).content.decode()
    assert "Minimum healthy <strong>100%</strong>" in html
    assert "at least 4 task(s) keep running" in html
    assert "Maximum <strong>200%</strong>: up to 4 new task(s)" in html
    assert "rolls back to the last completed deployment" in html
    assert "4 task(s) now on 2 instance(s)" in html and "(external)" in html
    assert ">new certs</textarea>" in html
    assert "mid-rollout" not in html and "redeploy-reruns-failed" not in html
    # The service page carries the panel that leads here.
    page = operator_client.get(f"/services/{web.pk}/").content.decode()
    assert f'hx-get="/services/{web.pk}/redeploy/"' in page and "Force new deployment…" in page
    viewer_page = viewer_client.get(f"/services/{web.pk}/").content.decode()
    assert "Force new deployment…" not in viewer_page
    assert viewer_client.get(url).status_code == 403
    token, _ = _csrf(viewer_client, f"/services/{web.pk}/")
    refused = viewer_client.post(
        f"/services/{web.pk}/redeploy/start", {"reason": "x"}, HTTP_X_CSRFTOKEN=token
    )
    assert refused.status_code == 403
    assert not Redeploy.objects.exists()


def test_start_is_idempotent_and_needs_csrf(sandbox, operator_client) -> None:
    fleet = fleet_create(sandbox, desired=1, instances=1)
    web = fleet.services["web"]
    start = f"/services/{web.pk}/redeploy/start"
    assert operator_client.post(start, {"reason": "x"}).status_code == 403  # no CSRF token
    token, key = _csrf(operator_client, f"/services/{web.pk}/redeploy/")
    form = {"reason": "rotate secrets", "idempotency_key": key}
    first = operator_client.post(start, form, HTTP_X_CSRFTOKEN=token)
    second = operator_client.post(start, form, HTTP_X_CSRFTOKEN=token)  # double click
    redeploy = Redeploy.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == f"/redeploys/{redeploy.pk}/"
    assert redeploy.reason == "rotate secrets" and redeploy.status == RedeployStatus.QUEUED
    page = operator_client.get(f"/redeploys/{redeploy.pk}/").content.decode()
    assert "already under way" in page  # the second click's message
    assert 'hx-trigger="every 5s"' in page  # polling (paused while hidden: fleetdeck.js)


def test_htmx_start_polls_to_completion_then_stops_with_286_and_a_flash(
    sandbox, operator_client
) -> None:
    fleet = fleet_create(sandbox, desired=2, instances=1)
    web = fleet.services["web"]
    token, key = _csrf(operator_client, f"/services/{web.pk}/redeploy/")
    response = operator_client.post(
        f"/services/{web.pk}/redeploy/start",
        {"reason": "htmx", "idempotency_key": key},
        HTTP_X_CSRFTOKEN=token,
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"])["flash"]["level"] == "success"
    html = response.content.decode()
    assert "<html" not in html and "<progress" in html
    redeploy = Redeploy.objects.get()
    assert f'hx-get="/redeploys/{redeploy.pk}/"' in html

    redeploy = redeploy_execute(redeploy_id=redeploy.pk)  # type: ignore[assignment]
    poll = operator_client.get(f"/redeploys/{redeploy.pk}/", HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and "HX-Trigger" not in poll
    assert 'data-status="in_progress"' in poll.content.decode()
    _follow(sandbox, redeploy)
    done = operator_client.get(f"/redeploys/{redeploy.pk}/", HTTP_HX_REQUEST="true")
    assert done.status_code == 286
    assert json.loads(done["HX-Trigger"])["flash"] == {
        "level": "success",
        "message": "Redeploy of web completed.",
    }
    body = done.content.decode()
    # Done: both new tasks run and both tasks they replaced stopped.
    assert 'max="4" value="4"' in body and "(100%)" in body
    assert 'data-new-running="2"' in body and 'data-old-stopped="2"' in body
    assert "redeploy-changed" in json.loads(done["HX-Trigger"])  # the page's sections reload
    assert "hx-trigger" not in body  # the swapped-in panel does not poll again
    assert "has reached a steady state" in body  # recent service events


def test_mid_rollout_asks_for_confirmation(sandbox, operator_client) -> None:
    fleet = fleet_create(sandbox, desired=2, instances=1)
    web = fleet.services["web"]
    fleet.ecs.update_service(cluster="edge", service="web", forceNewDeployment=True)
    from deployments.sync import cluster_sync

    cluster_sync(cluster_id=web.cluster_id)
    token, key = _csrf(operator_client, f"/services/{web.pk}/redeploy/")
    start = f"/services/{web.pk}/redeploy/start"
    refused = operator_client.post(
        start, {"reason": "again", "idempotency_key": key}, HTTP_X_CSRFTOKEN=token
    )
    assert refused.status_code == 400
    html = refused.content.decode()
    assert "is mid-rollout" in html and 'name="confirm_mid_rollout"' in html
    assert not Redeploy.objects.exists()
    # The health model says the same thing (the sync refreshed it).
    web.refresh_from_db()
    assert "rollout-in-progress" in {r["code"] for r in web.health_reasons}
    ok = operator_client.post(
        start,
        {"reason": "again", "idempotency_key": key, "confirm_mid_rollout": "on"},
        HTTP_X_CSRFTOKEN=token,
    )
    assert ok.status_code == 302 and Redeploy.objects.count() == 1


def test_aws_error_is_shown_and_retry_starts_a_new_redeploy(sandbox, operator_client) -> None:
    fleet = fleet_create(sandbox, desired=1, instances=1)
    web = fleet.services["web"]
    sandbox.client.set_faults(
        [{"service": "ecs", "operation": "UpdateService", "fault": "throttle", "count": 1}]
    )
    token, key = _csrf(operator_client, f"/services/{web.pk}/redeploy/")
    operator_client.post(
        f"/services/{web.pk}/redeploy/start",
        {"reason": "throttled", "idempotency_key": key},
        HTTP_X_CSRFTOKEN=token,
    )
    failed = redeploy_execute(redeploy_id=Redeploy.objects.get().pk)
    assert failed is not None and failed.status == RedeployStatus.FAILED
    html = operator_client.get(f"/redeploys/{failed.pk}/").content.decode()
    assert "ThrottlingException" in html and ">Retry</button>" in html
    response = operator_client.post(f"/redeploys/{failed.pk}/retry", HTTP_X_CSRFTOKEN=token)
    retry = Redeploy.objects.exclude(pk=failed.pk).get()
    assert response.status_code == 302 and response["Location"] == f"/redeploys/{retry.pk}/"
    assert retry.retry_of_id == failed.pk and retry.status == RedeployStatus.QUEUED
    history = operator_client.get(f"/redeploys/?service={web.pk}").content.decode()
    assert history.count("throttled") == 2


def test_bulk_redeploy_selects_and_starts_a_batch(sandbox, operator_client, viewer_client) -> None:
    fleet = fleet_create(sandbox, services=("api", "web", "worker"), desired=1, instances=1)
    cluster_id = fleet.services["web"].cluster_id
    url = f"/clusters/{cluster_id}/redeploy/"
    assert viewer_client.get(url).status_code == 403
    none = operator_client.get(url).content.decode()
    assert none.count(" checked") == 0
    every = operator_client.get(url + "?all=1").content.decode()
    assert every.count('name="services"') == 3 and every.count(" checked") == 3
    for svc in fleet.services.values():  # each row carries the one health badge
        assert f'data-subject="service:{svc.pk}" data-health="{svc.health_state}"' in every
    assert {s.health_state for s in fleet.services.values()} == {"healthy"}
    from clusters.models import ContainerInstance

    instance = ContainerInstance.objects.get()
    on_instance = operator_client.get(url + f"?instance={instance.pk}").content.decode()
    assert on_instance.count(" checked") == 3

    token = operator_client.cookies["csrftoken"].value
    ids = [fleet.services["api"].pk, fleet.services["worker"].pk]
    response = operator_client.post(
        f"/clusters/{cluster_id}/redeploy/start",
        {"services": ids, "reason": "kernel update", "concurrency": "1"},
        HTTP_X_CSRFTOKEN=token,
    )
    batch = RedeployBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/redeploys/batches/{batch.pk}/"
    assert batch.concurrency == 1
    assert sorted(batch.redeploys.values_list("service__name", flat=True)) == ["api", "worker"]
    assert batch.redeploys.filter(dispatched_at__isnull=False).count() == 1
    page = viewer_client.get(f"/redeploys/batches/{batch.pk}/").content.decode()
    assert page.count('class="redeploy-progress"') == 2 and "kernel update" in page
    assert viewer_client.get("/redeploys/").status_code == 200


def test_panel_counts_are_the_mirrored_rows_and_agree_with_the_events(
    sandbox, operator, operator_client
) -> None:
    """The issue's moment: 3 new tasks run while the 3 old ones are being stopped
    (the event says so). The panel must not read "3/3 (100%), 0 stopped"."""
    fleet = fleet_create(sandbox, desired=3)
    web = fleet.services["web"]
    old_arns = set(
        Task.objects.filter(service=web, last_status="RUNNING").values_list("arn", flat=True)
    )
    assert len(old_arns) == 3
    result = service_force_redeploy(service_id=web.pk, actor=operator, reason="counts")
    redeploy: Any = redeploy_execute(redeploy_id=result.redeploy.pk)
    assert redeploy is not None
    dep = redeploy.aws_deployment_id
    seen_stopping = False
    for _ in range(15):
        html = operator_client.get(f"/redeploys/{redeploy.pk}/", HTTP_HX_REQUEST="true")
        body = html.content.decode()
        shown = panel_counts(body)
        expected = counts_from_rows(web, dep, old_arns)
        assert {k: shown[k] for k in expected} == expected, body
        assert shown["desired"] == 3
        # Every stop the service events shown announce is counted (stopping or stopped).
        announced = sum(int(n) for n in re.findall(r"has stopped (\d+) running tasks", body))
        assert announced <= shown["old-stopping"] + shown["old-stopped"] + shown["new-failed"]
        started = sum(int(n) for n in re.findall(r"has started (\d+) tasks", body))
        assert started <= shown["new-running"] + shown["new-pending"] + shown["new-failed"]
        if shown["new-running"] == 3 and shown["old-stopping"] == 3:
            seen_stopping = True
            assert announced == 3  # "... has stopped 3 running tasks" is on the panel
            assert "(100%)" not in body and "3 stopping" in body and "0/3</strong> stopped" in body
        if redeploy.is_terminal:
            break
        sandbox.client.tick(1)
        redeploy = redeploy_refresh(redeploy_id=redeploy.pk)  # type: ignore[assignment]
    assert seen_stopping, "never saw the new tasks running while the old ones stopped"
    assert redeploy.status == RedeployStatus.COMPLETED
    assert shown == {**expected, "desired": 3} and expected["old-stopped"] == 3
    assert "(100%)" in body


def test_service_page_sections_poll_while_in_flight_and_listen_for_redeploys(
    sandbox, operator, operator_client
) -> None:
    fleet = fleet_create(sandbox, desired=2, instances=1)
    web = fleet.services["web"]
    page = operator_client.get(f"/services/{web.pk}/?status=all").content.decode()
    assert 'id="service-live" data-in-flight="false"' in page
    assert 'hx-trigger="redeploy-changed from:body"' in page  # listens, does not poll
    assert f'hx-get="/services/{web.pk}/?part=live&amp;status=all"' in page

    result = service_force_redeploy(service_id=web.pk, actor=operator, reason="live")
    live = operator_client.get(f"/services/{web.pk}/?part=live&status=all", HTTP_HX_REQUEST="true")
    html = live.content.decode()
    assert "<html" not in html and 'data-in-flight="true"' in html  # queued: in flight
    assert 'hx-trigger="every 5s, redeploy-changed from:body"' in html
    assert 'id="deployments"' in html and 'id="tasks"' in html and 'id="events"' in html
    redeploy = redeploy_execute(redeploy_id=result.redeploy.pk)
    assert redeploy is not None
    redeploy = _follow(sandbox, redeploy)
    assert redeploy.status == RedeployStatus.COMPLETED
    html = operator_client.get(
        f"/services/{web.pk}/?part=live&status=all", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'data-in-flight="false"' in html and "every 5s" not in html
    assert html.count(">PRIMARY</span>") == 1 and ">INACTIVE</span>" in html
    # Without htmx the parameter changes nothing: the whole page.
    assert "<html" in operator_client.get(f"/services/{web.pk}/?part=live").content.decode()
    actions = operator_client.get(f"/services/{web.pk}/?part=actions", HTTP_HX_REQUEST="true")
    body = actions.content.decode()
    assert "<html" not in body and 'id="service-actions"' in body
    assert 'data-status="completed"' in body and "Force new deployment…" in body


def test_confirm_says_a_failed_rollout_is_run_again(sandbox, operator_client) -> None:
    from deployments.sync import cluster_sync

    fleet = fleet_create(sandbox, desired=2, instances=1, rollback=False)
    web = fleet.services["web"]
    broken = fleet.ecs.register_task_definition(
        family="app",
        requiresCompatibilities=["EXTERNAL"],
        networkMode="bridge",
        containerDefinitions=[
            {"name": "app", "image": "example/app:2", "cpu": 128, "memory": 256, "essential": True}
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    sandbox.client.crash_task_definition(broken, exit_code=1)
    fleet.ecs.update_service(cluster="edge", service="web", taskDefinition=broken)
    for _ in range(10):
        sandbox.client.tick(1)
    cluster_sync(cluster_id=web.cluster_id)
    html = operator_client.get(f"/services/{web.pk}/redeploy/").content.decode()
    assert "redeploy-reruns-failed" in html
    assert "The newest rollout of web failed" in html
    assert 're-runs the same broken revision <span class="mono">app:2</span>' in html
    assert "ECS deployment circuit breaker: tasks failed to start." in html
    # The rollback is offered instead (deployments.rollback), to the revision that completed.
    assert f'href="/services/{web.pk}/rollback/"' in html
    assert "Roll back to app:1 (last revision that completed) instead" in html
