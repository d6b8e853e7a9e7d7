"""Done-when (issue 15): container logs from a linked Docker host on the real engine,
stdout and stderr marked, with a live tail whose next poll shows new lines; and a
container with neither awslogs nor a Docker host says why and how to enable logs."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from clusters.docker_hosts import docker_host_create, docker_host_sync
from clusters.models import AwsAccount, Cluster
from deployments.models import Task, TaskContainer, TaskDefinition
from tests.clusters.docker_helpers import DOCKER_URL, ecs_labels
from tests.deployments.logs.helpers import run_log_jobs

pytestmark = pytest.mark.django_db

ARN = "arn:aws:ecs:us-east-1:123456789012:task/edge/0123456789abcdef0123456789abcdef"
# One line on stdout and one on stderr every 0.2 s, numbered.
TALKER = "i=0; while true; do echo out $i; echo err $i >&2; i=$((i+1)); sleep 0.2; done"


def _task(log_configuration: dict[str, Any] | None = None) -> Task:
    account = AwsAccount.objects.create(name="a", regions=["us-east-1"])
    cluster = Cluster.objects.create(
        account=account, region="us-east-1", name="edge", arn="arn:aws:ecs:us-east-1:1:cluster/edge"
    )
    td = TaskDefinition.objects.create(
        arn="arn:aws:ecs:us-east-1:1:task-definition/web:1",
        family="web",
        revision=1,
        containers=[{"name": "web", "image": "busybox", "logConfiguration": log_configuration}],
    )
    task = Task.objects.create(
        arn=ARN, cluster=cluster, task_definition=td, last_status="RUNNING", launch_type="EXTERNAL"
    )
    TaskContainer.objects.create(task=task, name="web", last_status="RUNNING")
    return task


def _poll(client: Client, task: Task) -> Any:
    url = reverse("deployments:task-logs", args=[task.pk])
    return client.get(url, {"container": "web"}, HTTP_HX_REQUEST="true")


WORD = {"stdout": "out", "stderr": "err"}


def _numbers(html: str, stream: str) -> list[int]:
    return [
        int(part.split(" ", 1)[0].split("<", 1)[0])
        for part in html.split(f"[{stream}] {WORD[stream]} ")[1:]
    ]


def test_linked_host_logs_with_streams_marked_and_a_live_tail(
    engine: Any, viewer_client: Client
) -> None:
    task = _task()
    engine.run("web", TALKER, labels=ecs_labels(ARN, container="web"))
    host = docker_host_create(name="edge-box", endpoint=DOCKER_URL)
    docker_host_sync(host_id=host.pk)
    time.sleep(1)

    assert "Loading" in _poll(viewer_client, task).content.decode()
    assert run_log_jobs() == 1
    first = _poll(viewer_client, task)
    html = first.content.decode()
    assert first.status_code == 200 and "From docker" in html
    assert 'class="log-line log-stdout"' in html and 'class="log-line log-stderr"' in html
    assert "[stdout] out " in html and "[stderr] err " in html
    assert "every 3s [document.visibilityState==" in html  # live while the task runs
    newest = max(_numbers(html, "stdout"))

    time.sleep(2.5)  # the tail's page is stale after TAIL_FRESH (2 s): the poll refetches
    assert "From docker" in _poll(viewer_client, task).content.decode()  # served meanwhile
    assert run_log_jobs() == 1
    later = _poll(viewer_client, task).content.decode()
    assert max(_numbers(later, "stdout")) > newest  # new lines on the next poll

    # A forged "older" cursor is an error on the page, not a stuck worker.
    url = reverse("deployments:task-logs", args=[task.pk])
    viewer_client.get(url, {"container": "web", "cursor": "nonsense"}, HTTP_HX_REQUEST="true")
    run_log_jobs()
    bad = viewer_client.get(url, {"container": "web", "cursor": "nonsense"}, HTTP_HX_REQUEST="true")
    assert "not a cursor this page gave out" in bad.content.decode()

    # The task stops: the tail stops polling (HTTP 286).
    Task.objects.filter(pk=task.pk).update(last_status="STOPPED")
    run_log_jobs()
    stopped = _poll(viewer_client, task)
    assert stopped.status_code == 286 and "out " in stopped.content.decode()


def test_no_awslogs_and_no_docker_host_says_why_and_how(viewer_client: Client) -> None:
    task = _task({"logDriver": "json-file", "options": {}})
    page = viewer_client.get(reverse("deployments:task", args=[task.pk])).content.decode()
    assert "No logs for this container" in page
    assert "json-file" in page and "awslogs-group" in page and "Docker host" in page
    fragment = _poll(viewer_client, task)
    assert fragment.status_code == 286 and "Fleetdeck cannot read" in fragment.content.decode()
