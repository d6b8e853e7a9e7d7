"""Sync behaviour against the sandbox: history, faults, events, locks, retention."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from clusters.aws.ecs import EcsReader
from clusters.aws.errors import AwsTransientError
from clusters.aws.session import aws_client, clients_forget
from clusters.mirror.sync import SyncLockBusy, cluster_lock
from clusters.models import AwsAccount, Cluster, ContainerInstance, Event
from deployments.history import history_prune
from deployments.models import Deployment, Service, Task, TaskContainer
from deployments.sync import account_sync, cluster_sync
from tests.ecs_seed import boto, seed_external_fleet

pytestmark = pytest.mark.django_db


@pytest.fixture
def small(sandbox: Any) -> AwsAccount:
    seed_external_fleet(sandbox, cluster="edge", instances=3, services=2, tasks_per_service=3)
    clients_forget()
    account = AwsAccount.objects.create(
        name="sbx", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )
    run = account_sync(account_id=account.pk)
    assert run is not None and run.status == "succeeded", run.errors if run else None
    return account


def _sync(account: AwsAccount) -> Any:
    run = account_sync(account_id=account.pk)
    assert run is not None
    return run


def test_stopped_task_is_kept_with_its_reason_after_aws_forgets_it(
    small: AwsAccount, sandbox: Any
) -> None:
    task = Task.objects.filter(last_status="RUNNING").first()
    assert task is not None
    sandbox.client.stop_task(task.arn, exit_code=137, reason="OutOfMemoryError: killed")
    sandbox.client.tick(1)
    sandbox.client.reset_request_counts()
    assert _sync(small).status == "succeeded"
    task.refresh_from_db()
    assert task.last_status == "STOPPED"
    assert task.stop_code == "EssentialContainerExited"
    assert task.stopped_reason == "Essential container in task exited"
    assert task.stopped_at is not None and task.gone_at is None
    died = TaskContainer.objects.filter(task=task, exit_code=137)
    assert died.exists() and all("OutOfMemoryError" in c.reason for c in died)
    # one task-state event, and a replacement task was created by the service
    stop_events = Event.objects.filter(source="task", task_arn=task.arn)
    assert [e.details["lastStatus"] for e in stop_events] == ["STOPPED"]
    assert stop_events[0].severity == "warning"

    # A STOPPED task is final: the next sync does not describe it again.
    sandbox.client.tick(2)
    sandbox.client.reset_request_counts()
    _sync(small)
    ecs = boto("ecs", sandbox.url)
    live = ecs.list_tasks(cluster="edge")["taskArns"]
    assert sandbox.client.request_counts()["ecs:DescribeTasks"] == 1
    assert task.arn not in live

    # The sandbox forgets the stopped task; the mirror keeps it, marked as history.
    sandbox.client.forget_after(1)
    sandbox.client.tick(2)
    assert task.arn not in ecs.list_tasks(cluster="edge", desiredStatus="STOPPED")["taskArns"]
    _sync(small)
    task.refresh_from_db()
    assert task.last_status == "STOPPED" and task.stop_code == "EssentialContainerExited"
    assert "OutOfMemoryError" in TaskContainer.objects.filter(task=task, exit_code=137)[0].reason
    assert task.gone_at is not None
    # ... and a second sync does not touch it again
    assert _sync(small).gone_count == 0
    assert Event.objects.filter(source="task", task_arn=task.arn).count() == 1


def test_throttled_calls_are_retried_and_the_mirror_is_still_exact(
    small: AwsAccount, sandbox: Any
) -> None:
    Task.objects.all().delete()
    sandbox.client.set_faults(
        [
            {"service": "ecs", "operation": "DescribeTasks", "fault": "throttle", "count": 2},
            {"service": "ecs", "operation": "ListTasks", "fault": "error500", "count": 1},
        ]
    )
    sandbox.client.reset_request_counts()
    run = _sync(small)
    assert run.status == "succeeded", run.errors
    counts = sandbox.client.request_counts()
    # HTTP requests include the retries; our own counter counts logical calls.
    assert counts["ecs:DescribeTasks"] == 1 + 2
    assert counts["ecs:ListTasks"] == 2 + 1
    assert run.calls["DescribeTasks"] == 1
    assert Task.objects.filter(last_status="RUNNING").count() == 6
    assert TaskContainer.objects.count() == 12


def test_a_listing_that_fails_half_way_leaves_the_mirror_intact(
    sandbox: Any, small: AwsAccount
) -> None:
    cluster = Cluster.objects.get(name="edge")
    before = {t.arn: (t.last_status, t.gone_at) for t in Task.objects.all()}
    ecs = boto("ecs", sandbox.url)
    # Stop every task in AWS, so a sync that trusted a partial listing would be wrong.
    for arn in ecs.list_tasks(cluster="edge")["taskArns"]:
        ecs.stop_task(cluster="edge", task=arn)
    ecs.update_service(cluster="edge", service="svc00", desiredCount=0)
    ecs.update_service(cluster="edge", service="svc01", desiredCount=0)
    sandbox.client.tick(2)
    # The first ListTasks page answers, the second (STOPPED listing) keeps failing
    # past every retry: the listing is incomplete.
    sandbox.client.set_faults(
        [
            {
                "service": "ecs",
                "operation": "ListTasks",
                "fault": "error500",
                "schedule": [False] + [True] * 20,
            }
        ]
    )
    with pytest.raises(AwsTransientError):
        cluster_sync(cluster_id=cluster.pk)
    run = cluster.sync_runs.first()
    assert run is not None and run.status == "failed" and run.errors
    after = {t.arn: (t.last_status, t.gone_at) for t in Task.objects.all()}
    assert after == before
    cluster.refresh_from_db()
    assert cluster.last_sync_ok is False and "ServerException" in cluster.last_sync_error
    # once AWS answers again, the sync catches up
    sandbox.client.clear_faults()
    assert cluster_sync(cluster_id=cluster.pk).status == "succeeded"  # type: ignore[union-attr]
    assert not Task.objects.filter(last_status="RUNNING").exists()


def test_instance_changes_and_service_events_become_deduplicated_timeline_events(
    small: AwsAccount, sandbox: Any
) -> None:
    ci = ContainerInstance.objects.first()
    assert ci is not None
    ecs = boto("ecs", sandbox.url)
    sandbox.client.set_agent_connected(False, container_instance_arn=ci.arn)
    _sync(small)
    ci.refresh_from_db()
    assert ci.agent_connected is False
    down = Event.objects.filter(source="container-instance", instance_arn=ci.arn)
    assert [e.severity for e in down] == ["warning"] and "disconnected" in down[0].message

    sandbox.client.set_agent_connected(True, container_instance_arn=ci.arn)
    ecs.update_container_instances_state(
        cluster="edge", containerInstances=[ci.arn], status="DRAINING"
    )
    _sync(small)
    ci.refresh_from_db()
    assert ci.status == "DRAINING" and ci.agent_connected
    messages = sorted(
        e.message for e in Event.objects.filter(source="container-instance", instance_arn=ci.arn)
    )
    assert any("reconnected" in m for m in messages) and any("DRAINING" in m for m in messages)

    service_events = Event.objects.filter(source="ecs-service-event").count()
    assert service_events > 0
    total = Event.objects.count()
    run = _sync(small)
    assert Event.objects.count() == total
    assert Event.objects.filter(source="ecs-service-event").count() == service_events
    assert run.status == "succeeded"


def test_two_syncs_of_one_cluster_never_overlap(small: AwsAccount) -> None:
    cluster = Cluster.objects.get(name="edge")
    with cluster_lock(cluster_id=cluster.pk), pytest.raises(SyncLockBusy):
        cluster_sync(cluster_id=cluster.pk)
    assert cluster_sync(cluster_id=cluster.pk).status == "succeeded"  # type: ignore[union-attr]


def test_retention_prunes_only_old_history(small: AwsAccount) -> None:
    old = timezone.now() - timedelta(days=40)
    running = Task.objects.filter(last_status="RUNNING")
    victim = running.first()
    assert victim is not None
    Task.objects.filter(pk=victim.pk).update(last_status="STOPPED", stopped_at=old)
    Event.objects.filter(source="ecs-service-event").update(occurred_at=old)
    counts = history_prune()
    assert counts["tasks"] >= 1 and counts["events"] >= 1
    assert not Task.objects.filter(pk=victim.pk).exists()
    assert Task.objects.filter(last_status="RUNNING").count() == 5
    assert not Event.objects.filter(source="ecs-service-event").exists()
    assert Service.objects.count() == 2 and Deployment.objects.count() == 2


def test_reader_pages_every_listing(sandbox: Any, aws_env: str) -> None:
    seed_external_fleet(sandbox, cluster="paged", instances=2, services=12, tasks_per_service=1)
    account = AwsAccount(pk=999, name="x", auth_mode="endpoint", endpoint_url=sandbox.url)
    reader = EcsReader(aws_client(account=account, region="us-east-1", service="ecs"))
    assert len(reader.service_arns("paged")) == 12
    assert len(reader.services("paged", reader.service_arns("paged"))) == 12
    assert reader.calls["DescribeServices"] == 2


def test_a_deleted_service_is_marked_gone_and_keeps_its_events(
    small: AwsAccount, sandbox: Any
) -> None:
    svc = Service.objects.get(name="svc01")
    events_before = Event.objects.filter(service_arn=svc.arn, source="ecs-service-event").count()
    assert events_before > 0
    ecs = boto("ecs", sandbox.url)
    ecs.update_service(cluster="edge", service="svc01", desiredCount=0)
    ecs.delete_service(cluster="edge", service="svc01")
    sandbox.client.tick(3)
    for _ in range(2):
        run = _sync(small)
        assert run.status == "succeeded"
    svc.refresh_from_db()
    assert svc.gone_at is not None  # INACTIVE services are not listed by AWS
    assert (
        Event.objects.filter(service_arn=svc.arn, source="ecs-service-event").count()
        >= events_before
    )
    assert Service.objects.get(name="svc00").gone_at is None
