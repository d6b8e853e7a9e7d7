"""A fleet in trouble, made in the sandbox AWS peer and synced through the real
adapter: the demo seed (api's rollout FAILED, plc-bridge's new revision cannot be
placed, an edge agent disconnected) plus a crash loop (worker OOM-killed again and
again while it stays 2 of 2) and a service with nothing running (metrics, 0 of 2)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from clusters.aws.session import clients_forget
from clusters.models import AwsAccount, ContainerInstance, DockerHost
from deployments.models import Service, Task
from deployments.sync import account_sync

OOM = "OutOfMemoryError: Container killed due to memory usage"


def _running(service: str) -> list[Task]:
    return list(Task.objects.filter(service__name=service, last_status="RUNNING"))


def trouble_fleet(sandbox: Any) -> AwsAccount:
    client = sandbox.client
    client.seed("demo")
    clients_forget()
    account = AwsAccount.objects.create(
        name="demo", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )
    _sync(account)
    # metrics (edge): every new task of its revision dies at start; its tasks are killed.
    metrics = Service.objects.select_related("task_definition").get(name="metrics")
    assert metrics.task_definition is not None
    client.crash_task_definition(metrics.task_definition.arn, exit_code=1, reason="")
    for task in _running("metrics"):
        client.stop_task(task.arn, exit_code=1)
    # worker: three OOM kills; the scheduler replaces each, so it stays 2 of 2.
    for _ in range(3):
        _sync(account)
        task = _running("worker")[0]
        client.stop_task(task.arn, exit_code=137, reason=OOM)
        client.tick(2)
    client.tick(3)
    _sync(account)
    _unreachable_host()
    return account


def _sync(account: AwsAccount) -> None:
    run = account_sync(account_id=account.pk)
    assert run is not None and run.status == "succeeded", run.errors if run else None


def _unreachable_host() -> None:
    """A Docker host the console cannot reach (its reachability is crafted: the real
    engine is tested in tests/clusters/docker_hosts)."""
    instance = ContainerInstance.objects.filter(is_external=True).first()
    DockerHost.objects.create(
        name="edge-box",
        endpoint="tcp://192.0.2.10:2376",
        container_instance=instance,
        reachable=False,
        last_error="connection refused",
        unreachable_since=timezone.now(),
    )
