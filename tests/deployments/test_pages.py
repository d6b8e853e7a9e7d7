"""Mirror pages against a synced demo fleet (the sandbox's demo seed)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from clusters.aws.session import clients_forget
from clusters.models import AwsAccount, Cluster, ContainerInstance, SyncRun
from deployments.models import Service, Task
from deployments.sync import account_sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(sandbox: Any) -> AwsAccount:
    sandbox.client.seed("demo")
    clients_forget()
    account = AwsAccount.objects.create(
        name="demo", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )
    run = account_sync(account_id=account.pk)
    assert run is not None and run.status == "succeeded", run.errors if run else None
    return account


# A service page in trouble reads one more: its diagnosis (deployments.diagnosis); and
# two for its deployment history (the rows, the revisions they deployed).
def _get(client: Client, url: str, max_queries: int = 17) -> str:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert len(ctx.captured_queries) <= max_queries, (url, len(ctx.captured_queries))
    return response.content.decode()


def test_pages_show_the_mirror(demo: AwsAccount, viewer_client: Client) -> None:
    cluster = Cluster.objects.get(name="onprem-edge", region="us-east-1")
    html = _get(viewer_client, "/clusters/")
    assert "onprem-edge" in html and "prod-ec2" in html
    assert "disconnected" in html and "draining" in html  # demo: one of each
    assert "Sync now" not in html  # viewers cannot sync

    html = _get(viewer_client, f"/clusters/{cluster.pk}/")
    assert "camera-agent" in html
    assert f'hx-get="/timeline/?cluster={cluster.arn.replace(":", "%3A").replace("/", "/")}' in html
    html = _get(viewer_client, f"/clusters/{cluster.pk}/?tab=instances")
    assert "mi-" in html and "<meter" in html
    html = _get(viewer_client, f"/clusters/{cluster.pk}/?tab=tasks&status=all")
    assert "RUNNING" in html

    prod = Cluster.objects.get(name="prod-ec2", region="us-east-1")
    api = Service.objects.get(cluster=prod, name="api")
    html = _get(viewer_client, f"/services/{api.pk}/")
    assert "FAILED" in html and "<progress" in html
    # The incident header: the stored health and its reasons, set by the sync.
    assert api.health_state == "failing"
    assert f'data-subject="service:{api.pk}" data-health="failing"' in html
    assert 'id="incident"' in html and 'data-reason="rollout-failed"' in html
    assert "deployment circuit breaker" in html.lower()
    assert 'id="events"' in html and "deployment failed" in html

    task = Task.objects.filter(last_status="STOPPED", containers__exit_code=137).first()
    assert task is not None
    html = _get(viewer_client, f"/tasks/{task.pk}/")
    assert task.stop_code in html and task.stopped_reason in html
    assert '<span class="badge badge-error">137</span>' in html

    ci = ContainerInstance.objects.filter(cluster=cluster, agent_connected=False).first()
    assert ci is not None
    html = _get(viewer_client, f"/instances/{ci.pk}/")
    assert "agent disconnected" in html and "ecs.capability.external" in html
    assert 'data-reason="agent-disconnected"' in html
    assert f'data-subject="instance:{ci.pk}" data-health="{ci.health_state}"' in html

    for url in ("/instances/", "/services/", "/tasks/", "/tasks/?status=stopped&q=OutOfMemory"):
        _get(viewer_client, url)
    # One badge, one answer: every page that shows the service says the same.
    badge = f'data-subject="service:{api.pk}" data-health="failing"'
    for url in ("/services/", f"/clusters/{prod.pk}/", "/"):
        assert badge in _get(viewer_client, url, max_queries=25), url


def test_sync_now_needs_operator_and_shows_progress(
    demo: AwsAccount, viewer_client: Client, operator_client: Client, sandbox: Any
) -> None:
    cluster = Cluster.objects.get(name="prod-ec2", region="us-east-1")
    viewer_client.get("/clusters/")
    token = viewer_client.cookies["csrftoken"].value
    denied = viewer_client.post(f"/clusters/{cluster.pk}/sync", HTTP_X_CSRFTOKEN=token)
    assert denied.status_code == 403

    operator_client.get(f"/clusters/{cluster.pk}/")
    token = operator_client.cookies["csrftoken"].value
    before = SyncRun.objects.count()
    response = operator_client.post(
        f"/clusters/{cluster.pk}/sync", HTTP_X_CSRFTOKEN=token, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert SyncRun.objects.count() == before + 1
    run = SyncRun.objects.filter(cluster=cluster).first()
    assert run is not None
    assert 'hx-trigger="every 5s' in response.content.decode()
    # the poll fragment keeps polling while running, and answers 286 once finished
    poll = operator_client.get(f"/sync-runs/{run.pk}/", HTTP_HX_REQUEST="true")
    assert poll.status_code == 200
    run.status = "succeeded"
    run.save()
    poll = operator_client.get(f"/sync-runs/{run.pk}/", HTTP_HX_REQUEST="true")
    assert poll.status_code == 286 and "synced" in poll.content.decode()
    assert poll["HX-Refresh"] == "true"
