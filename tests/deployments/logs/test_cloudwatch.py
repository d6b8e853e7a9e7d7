"""Done-when (issue 15): a task whose container wrote lines to its awslogs stream in
the sandbox and was then OOM-killed shows those lines on its page and in
/api/v1/tasks/<id>/logs, and its last words are kept after the sync, still shown once
the stream is deleted. Also: older pages, search, the per-sync cap, no AWS call in
a request, and the logs role."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from clusters.aws.session import clients_forget
from clusters.models import AwsAccount, Cluster, QueuedJob
from deployments.logs import last_words_queue
from deployments.models import ContainerLastWords, Task, TaskContainer
from deployments.sync import account_sync
from tests.deployments.logs.helpers import run_log_jobs
from tests.ecs_seed import boto

pytestmark = pytest.mark.django_db

OOM = "OutOfMemoryError: Container killed due to memory usage"
GROUP = "/ecs/edge-web"


def _fleet(sandbox: Any, tasks: int = 1) -> tuple[AwsAccount, list[str]]:
    ecs, ssm = boto("ecs", sandbox.url), boto("ssm", sandbox.url)
    ecs.create_cluster(clusterName="edge")
    act = ssm.create_activation(IamRole="ecsAnywhereRole", RegistrationLimit=1)
    sandbox.client.register_instance(
        activation_id=act["ActivationId"], activation_code=act["ActivationCode"], cluster="edge"
    )
    awslogs = {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": GROUP,
            "awslogs-region": "us-east-1",
            "awslogs-stream-prefix": "ecs",
        },
    }
    ecs.register_task_definition(
        family="web",
        requiresCompatibilities=["EXTERNAL"],
        networkMode="bridge",
        containerDefinitions=[
            {"name": "app", "image": "acme/web:1", "memory": 128, "logConfiguration": awslogs}
        ],
    )
    ecs.create_service(
        cluster="edge",
        serviceName="web",
        taskDefinition="web",
        desiredCount=tasks,
        launchType="EXTERNAL",
    )
    sandbox.client.tick(4)  # placed, running, a few heartbeat lines
    clients_forget()
    account = AwsAccount.objects.create(
        name="sbx", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )
    arns = ecs.list_tasks(cluster="edge", serviceName="web")["taskArns"]
    return account, arns


def _sync(account: AwsAccount) -> None:
    run = account_sync(account_id=account.pk)
    assert run is not None and run.status == "succeeded", run.errors if run else None


def _fragment(client: Client, task: Task, **params: str) -> Any:
    url = reverse("deployments:task-logs", args=[task.pk])
    return client.get(url, {"container": "app", **params}, HTTP_HX_REQUEST="true")


def test_oom_killed_task_lines_on_page_and_api_and_last_words_outlive_the_stream(
    sandbox: Any, viewer_client: Client
) -> None:
    account, [arn] = _fleet(sandbox)
    _sync(account)
    sandbox.client.stop_task(arn, exit_code=137, reason=OOM)
    calls = sandbox.client.request_counts()
    _sync(account)
    task = Task.objects.get(arn=arn)
    assert task.is_final
    container = TaskContainer.objects.get(task=task, name="app")
    assert container.exit_code == 137 and "OutOfMemoryError" in container.reason

    # The sync queued the read of the failed container's last words (by task name); the
    # worker creates the container's row and reads its last lines with one call.
    assert not ContainerLastWords.objects.exists()
    assert (
        QueuedJob.objects.filter(task_name="deployments.logs.tasks.queue_last_words").count() == 1
    )
    before = sandbox.client.request_counts()
    assert run_log_jobs() == 2  # queue_last_words, then keep_last_words
    after = sandbox.client.request_counts()
    assert sum(after.values()) - sum(before.values()) == 1  # one GetLogEvents
    words = ContainerLastWords.objects.get(container=container)
    words.refresh_from_db()
    assert words.state == "kept" and words.source == "cloudwatch"
    messages = [line["message"] for line in words.lines]
    assert messages[0] == "app starting (acme/web:1)"
    assert messages[-1] == "WARNING: memory use at 97% of the container limit"
    assert 0 < words.bytes <= 16384
    assert sum(calls.values()) <= sum(before.values())  # page loads below made no call

    # Never twice: another sync queues nothing, a redelivered job does nothing.
    _sync(account)
    assert last_words_queue(cluster_id=task.cluster_id) == 0
    assert run_log_jobs() == 0

    # The page: the panel with its kept last words, and the live fragment from CloudWatch.
    page = viewer_client.get(reverse("deployments:task", args=[task.pk])).content.decode()
    assert 'id="logs"' in page and "Last words of <strong>" in page
    assert "WARNING: memory use at 97% of the container limit" in page
    first = _fragment(viewer_client, task)
    # Kept lines at once, while a worker reads the stream (the fragment polls for it).
    assert first.status_code == 200 and "Kept last words" in first.content.decode()
    assert "every 1s" in first.content.decode()
    assert run_log_jobs() == 1
    second = _fragment(viewer_client, task)
    html = second.content.decode()
    assert second.status_code == 286  # stopped: the poll stops
    assert "From cloudwatch" in html and "WARNING: memory use at 97%" in html

    api = viewer_client.get(f"/api/v1/tasks/{task.pk}/logs", {"container": "app", "limit": "3"})
    # Not cached at this limit yet: the kept lines now, a fetch queued, ask again soon.
    assert api.status_code == 200 and api["Retry-After"] == "2"
    assert api.json()["source"] == "kept" and api.json()["pending"] is True
    run_log_jobs()
    api = viewer_client.get(f"/api/v1/tasks/{task.pk}/logs", {"container": "app", "limit": "3"})
    body = api.json()
    assert api.status_code == 200 and body["source"] == "cloudwatch" and len(body["lines"]) == 3
    assert body["lines"][-1]["message"].startswith("WARNING: memory use")
    assert body["lines"][-1]["at"] and body["task"] == arn and body["live"] is False

    # The stream is deleted (retention): the kept lines are still there.
    task_id = arn.rsplit("/", 1)[-1]
    boto("logs", sandbox.url).delete_log_stream(
        logGroupName=GROUP, logStreamName=f"ecs/app/{task_id}"
    )
    cache.clear()
    api = viewer_client.get(f"/api/v1/tasks/{task.pk}/logs", {"container": "app"})
    assert api.status_code == 200 and api.json()["source"] == "kept"
    run_log_jobs()
    api = viewer_client.get(f"/api/v1/tasks/{task.pk}/logs", {"container": "app"})
    body = api.json()
    assert body["source"] == "kept" and "No log stream" in body["error"]
    assert body["lines"][-1]["message"] == "WARNING: memory use at 97% of the container limit"


def test_running_task_tail_older_pages_and_search(
    sandbox: Any, viewer_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    account, [arn] = _fleet(sandbox)
    _sync(account)
    task = Task.objects.get(arn=arn)
    api = viewer_client.get(f"/api/v1/tasks/{task.pk}/logs", {"container": "app"})
    assert api.status_code == 202 and api.json()["lines"] == []  # nothing kept, nothing cached
    monkeypatch.setattr("deployments.logs.views.DEFAULT_LIMIT", 2)
    loading = _fragment(viewer_client, task)
    assert loading.status_code == 200 and "Loading" in loading.content.decode()
    assert 'hx-trigger="every 1s' in loading.content.decode()
    run_log_jobs()
    tail = _fragment(viewer_client, task).content.decode()
    assert "every 3s [document.visibilityState==&#x27;visible&#x27;" in tail or "every 3s" in tail
    assert tail.count('class="log-line') == 2 and "Older lines" in tail
    older_url = html.unescape(
        tail.split('class="logs-older-button" hx-get="', 1)[1].split('"', 1)[0]
    )
    cursor = parse_qs(urlsplit(older_url).query)["cursor"][0]
    assert 'hx-target="previous .logs-older"' in tail and tail.startswith(
        '<div class="logs-older">'
    )
    older = viewer_client.get(
        reverse("deployments:task-logs", args=[task.pk])
        + "?"
        + urlencode({"container": "app", "cursor": cursor}),
        HTTP_HX_REQUEST="true",
    )
    assert "Loading" in older.content.decode()
    run_log_jobs()
    older_html = viewer_client.get(
        reverse("deployments:task-logs", args=[task.pk])
        + "?"
        + urlencode({"container": "app", "cursor": cursor}),
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert older_html.count('class="log-line') == 2 and older_html not in tail
    _fragment(viewer_client, task, q="starting")
    run_log_jobs()
    found = _fragment(viewer_client, task, q="starting").content.decode()
    assert "app starting (acme/web:1)" in found and "heartbeat" not in found


def test_last_words_are_capped_per_sync(sandbox: Any, settings: Any) -> None:
    account, arns = _fleet(sandbox, tasks=3)
    _sync(account)
    for arn in arns:
        sandbox.client.stop_task(arn, exit_code=1, reason="boom")
    settings.FLEETDECK_LAST_WORDS_PER_SYNC = 2
    _sync(account)
    assert (
        QueuedJob.objects.filter(task_name="deployments.logs.tasks.queue_last_words").count() == 1
    )
    cluster = Cluster.objects.get(name="edge")
    assert last_words_queue(cluster_id=cluster.pk) == 2  # the cap
    assert last_words_queue(cluster_id=cluster.pk) == 1  # the rest, next time
    assert last_words_queue(cluster_id=cluster.pk) == 0  # never twice
    assert ContainerLastWords.objects.count() == 3
    assert run_log_jobs() == 4  # the sync's queue job (nothing left) and three reads
    assert set(ContainerLastWords.objects.values_list("state", flat=True)) == {"kept"}
    assert all(
        w.lines[-1]["message"] == "exiting with status 1" for w in ContainerLastWords.objects.all()
    )


def test_logs_role_setting_and_bad_parameters(
    sandbox: Any, viewer_client: Client, operator_client: Client, settings: Any
) -> None:
    account, [arn] = _fleet(sandbox)
    _sync(account)
    task = Task.objects.get(arn=arn)
    url = f"/api/v1/tasks/{task.pk}/logs"
    assert viewer_client.get(url).status_code == 400
    assert viewer_client.get(url, {"container": "app", "limit": "0"}).status_code == 400
    assert viewer_client.get(url, {"container": "app", "limit": "x"}).json()["message"]
    assert viewer_client.get(url, {"container": "nope"}).status_code == 404
    assert viewer_client.get("/api/v1/tasks/999999/logs", {"container": "app"}).status_code == 404
    assert _fragment(viewer_client, task, container="nope").status_code == 404

    settings.FLEETDECK_LOGS_MIN_ROLE = "operator"
    assert _fragment(viewer_client, task).status_code == 403
    refused = viewer_client.get(url, {"container": "app"})
    assert refused.status_code == 403 and "role" in refused.json()["message"]
    page = viewer_client.get(reverse("deployments:task", args=[task.pk])).content.decode()
    assert "needs the operator role" in page and "logs-body" not in page
    assert _fragment(operator_client, task).status_code == 200
    assert operator_client.get(url, {"container": "app"}).status_code == 202
