"""Docker pages and actions: roles, filters, htmx fragment, audited actions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clusters.docker_hosts import docker_host_create, docker_host_sync
from clusters.docker_hosts.tasks import container_action, sync_docker_host
from clusters.models import AuditEntry, Container, ContainerAction, DockerHost, Event, QueuedJob
from tests.clusters.docker_helpers import DOCKER_URL, ecs_labels

pytestmark = pytest.mark.django_db


def _csrf(client, url: str) -> str:
    client.get(url)
    return client.cookies["csrftoken"].value


@pytest.fixture
def synced(engine):
    host = docker_host_create(name="local", endpoint=DOCKER_URL)
    arn = "arn:aws:ecs:us-east-1:123456789012:task/edge/feedfacefeedface"
    web = engine.run("web", labels=ecs_labels(arn))
    plain = engine.run("plain")
    done = engine.run("done", "exit 2")
    done.wait(timeout=120)
    docker_host_sync(host_id=host.pk)
    return host, web, plain, done


def test_pages_render_for_viewers_with_filters(viewer_client, synced):
    host, web, plain, done = synced
    body = viewer_client.get(reverse("clusters:docker-hosts")).content.decode()
    assert "local" in body and "reachable" in body and host.engine_version in body
    assert "Add a Docker host" not in body  # admins only
    timeline = viewer_client.get(reverse("timeline"), {"host": "local"})
    assert timeline.status_code == 200

    url = reverse("clusters:docker-host", args=["local"])
    body = viewer_client.get(url).content.decode()
    assert web.name in body and plain.name in body and done.name in body
    body = viewer_client.get(url, {"state": "exited"}).content.decode()
    assert done.name in body and web.name not in body
    body = viewer_client.get(url, {"ecs": "yes"}).content.decode()
    assert web.name in body and plain.name not in body
    body = viewer_client.get(url, {"q": "plain"}).content.decode()
    assert plain.name in body and web.name not in body

    fragment = viewer_client.get(url, {"state": "exited"}, HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert html.lstrip().startswith('<div id="containers"') and "<html" not in html
    assert "state=exited" in html  # the poll keeps the filters

    cd = viewer_client.get(reverse("clusters:docker-container", args=["local", web.id]))
    html = cd.content.decode()
    assert "com.amazonaws.ecs.task-arn" in html and 'id="ecs-task-link"' in html
    assert 'id="container-actions"' not in html  # viewers cannot act
    live = viewer_client.get(
        reverse("clusters:docker-container", args=["local", done.id]), HTTP_HX_REQUEST="true"
    )
    assert live.status_code == 200 and 'id="container-live"' in live.content.decode()
    assert "<html" not in live.content.decode() and "Exited (2)" in live.content.decode()


def _run_queued_actions() -> None:
    """What the worker does with each queued restart/stop (task called directly)."""
    for pk in ContainerAction.objects.filter(status="queued").values_list("pk", flat=True):
        container_action(pk)


def test_viewer_cannot_act_operator_can_with_reason_and_audit(
    viewer_client, operator_client, synced
):
    _host, web, plain, _done = synced
    url = reverse("clusters:docker-container-action", args=["local", plain.id])
    page = reverse("clusters:docker-container", args=["local", plain.id])
    token = _csrf(viewer_client, page)
    r = viewer_client.post(
        url, {"action": "stop", "reason": "x", "confirm": "on"}, HTTP_X_CSRFTOKEN=token
    )
    assert r.status_code == 403
    assert plain.client.api.inspect_container(plain.id)["State"]["Running"]

    token = _csrf(operator_client, page)
    r = operator_client.post(url, {"action": "stop", "reason": ""}, HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 400 and b"Tick the confirmation box" in r.content
    assert plain.client.api.inspect_container(plain.id)["State"]["Running"]

    r = operator_client.post(
        url,
        {"action": "stop", "reason": "noisy neighbour", "confirm": "on"},
        HTTP_X_CSRFTOKEN=token,
        follow=True,
    )
    assert r.status_code == 200
    assert f"Stop of {plain.name} queued" in r.content.decode()
    assert plain.client.api.inspect_container(plain.id)["State"]["Running"]  # not yet
    _run_queued_actions()  # the worker task, called directly
    r = operator_client.get(page)
    assert f"Stopped {plain.name} on local." in r.content.decode()  # the result, in the page
    assert not plain.client.api.inspect_container(plain.id)["State"]["Running"]
    assert Container.objects.get(container_id=plain.id).state == "exited"
    entry = AuditEntry.objects.get(action="container.stop")
    assert entry.details["reason"] == "noisy neighbour" and entry.actor_name == "otto-operator"
    assert Event.objects.filter(source="audit", container_id=plain.id).exists()

    r = operator_client.post(
        reverse("clusters:docker-container-action", args=["local", web.id]),
        {"action": "restart", "reason": "stuck", "confirm": "on"},
        HTTP_X_CSRFTOKEN=token,
        follow=True,
    )
    _run_queued_actions()
    r = operator_client.get(reverse("clusters:docker-container", args=["local", web.id]))
    assert f"Restarted {web.name} on local." in r.content.decode()
    assert Container.objects.get(container_id=web.id).restart_count >= 0
    assert AuditEntry.objects.filter(action="container.restart").count() == 1


def test_add_host_form_runs_a_connection_test(admin_client_, operator_client, tcp_proxy):
    url = reverse("clusters:docker-host-add")
    assert operator_client.get(url).status_code == 403
    token = _csrf(admin_client_, url)
    r = admin_client_.post(
        url, {"name": "edge-1", "endpoint": "tcp://127.0.0.1:9"}, HTTP_X_CSRFTOKEN=token
    )
    assert r.status_code == 200 and b"Connection test failed" in r.content
    r = admin_client_.post(
        url, {"name": "edge-1", "endpoint": "gopher://x"}, HTTP_X_CSRFTOKEN=token
    )
    assert b"Use unix:///var/run/docker.sock" in r.content
    assert not DockerHost.objects.exists()
    r = admin_client_.post(
        url, {"name": "edge-1", "endpoint": tcp_proxy.url}, HTTP_X_CSRFTOKEN=token
    )
    assert r.status_code == 302 and r["Location"] == reverse(
        "clusters:docker-host", args=["edge-1"]
    )
    assert DockerHost.objects.get(name="edge-1").reachable
    assert AuditEntry.objects.filter(action="docker_host.add").exists()


def test_host_page_query_count_does_not_grow_with_containers(viewer_client, engine):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    host = docker_host_create(name="local", endpoint=DOCKER_URL)
    url = reverse("clusters:docker-host", args=["local"])
    counts = []
    for n in (1, 6):
        for i in range(n - len(engine.ours())):
            engine.create(f"q{i}-{n}")
        docker_host_sync(host_id=host.pk)
        viewer_client.get(url)  # warm the session
        with CaptureQueriesContext(connection) as page:
            viewer_client.get(url)
        with CaptureQueriesContext(connection) as fragment:
            viewer_client.get(url, HTTP_HX_REQUEST="true")
        counts.append((len(page), len(fragment)))
    assert counts[0] == counts[1], counts
    assert counts[0][1] <= 8, counts


def test_sync_now_is_for_operators_and_audited(viewer_client, operator_client, engine):
    docker_host_create(name="local", endpoint=DOCKER_URL)
    c = engine.run("now")
    url = reverse("clusters:docker-host-sync", args=["local"])
    token = _csrf(viewer_client, reverse("clusters:docker-host", args=["local"]))
    assert viewer_client.post(url, HTTP_X_CSRFTOKEN=token).status_code == 403
    token = _csrf(operator_client, reverse("clusters:docker-host", args=["local"]))
    r = operator_client.post(url, HTTP_X_CSRFTOKEN=token, follow=True)
    # The request only queues the sync (no Docker call in a web request) ...
    assert "Sync of local started" in r.content.decode() and c.name not in r.content.decode()
    job = QueuedJob.objects.get(task_name="clusters.docker_hosts.tasks.sync_docker_host")
    assert job.args == [DockerHost.objects.get(name="local").pk]
    assert AuditEntry.objects.filter(action="docker_host.sync").count() == 1
    # ... and the worker's run of that job is what the page then shows.
    sync_docker_host(*job.args)
    page = operator_client.get(reverse("clusters:docker-host", args=["local"]))
    assert c.name in page.content.decode()


def test_container_action_is_queued_claimed_once_and_followed_by_polling(
    operator_client, viewer_client, synced
):
    _host, _web, plain, _done = synced
    page = reverse("clusters:docker-container", args=["local", plain.id])
    token = _csrf(operator_client, page)
    r = operator_client.post(
        reverse("clusters:docker-container-action", args=["local", plain.id]),
        {"action": "stop", "reason": "maintenance", "confirm": "on"},
        HTTP_X_CSRFTOKEN=token,
    )
    assert r.status_code == 302
    action = ContainerAction.objects.get()
    assert action.status == "queued" and action.requested_by is not None
    assert plain.client.api.inspect_container(plain.id)["State"]["Running"]  # not in the request
    html = viewer_client.get(page).content.decode()
    assert f"action-progress-{action.pk}" in html
    assert "every 2s [document.visibilityState=='visible']" in html
    progress = f"{page}?part=action&pk={action.pk}"
    assert viewer_client.get(progress, HTTP_HX_REQUEST="true").status_code == 200

    container_action(action.pk)  # the worker task, called directly
    container_action(action.pk)  # delivered twice: claimed once, the second does nothing
    action.refresh_from_db()
    assert action.status == "done" and action.message == f"Stopped {plain.name} on local."
    done = viewer_client.get(progress, HTTP_HX_REQUEST="true")
    assert done.status_code == 286 and "Stopped" in done["HX-Trigger"]  # the flash
    assert not plain.client.api.inspect_container(plain.id)["State"]["Running"]
    outcome = Event.objects.filter(source="docker", details__action="container.stop")
    assert outcome.count() == 1 and outcome.get().actor is not None
    container_action(987654)  # a missing row returns quietly
