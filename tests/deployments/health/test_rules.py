"""Each health rule, on crafted mirror rows: it fires with its reason, and clears when
the fact goes away. The states and codes are the ones docs/dashboard.md lists."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from clusters.core.timeline import NewEvent, events_record
from clusters.models import (
    Cluster,
    ContainerInstance,
    DockerHost,
    Event,
    EventSource,
    SyncRun,
)
from deployments.health import health_refresh
from deployments.models import Deployment, Service, Task, TaskDefinition
from tests.console import fleet

pytestmark = pytest.mark.django_db


def health(obj: Any) -> tuple[str, list[str]]:
    """Refresh the whole fleet, then the subject's (state, reason codes)."""
    health_refresh()
    obj.refresh_from_db()
    return obj.health_state, [r["code"] for r in obj.health_reasons]


def reason(obj: Any, code: str) -> dict[str, Any]:
    return next(r for r in obj.health_reasons if r["code"] == code)


@pytest.fixture
def c() -> Cluster:
    return fleet.cluster(fleet.account(), name="prod")


def test_a_steady_service_is_healthy_and_a_never_synced_one_is_not(c: Cluster) -> None:
    svc = fleet.service(c, "web", desired=3)
    fleet.deployment(svc, "COMPLETED")
    assert health(svc) == ("healthy", [])
    never = fleet.cluster(name="new", last_sync_at=None, last_sync_ok=None)
    fresh = fleet.service(never, "api")
    state, codes = health(fresh)
    assert state == "unknown" and codes == ["never-synced"]
    never.refresh_from_db()
    assert never.health_state == "unknown"
    assert reason(never, "never-synced")["message"] == "waiting for the first sync"


def test_stale_data_is_unknown_with_the_last_success(c: Cluster) -> None:
    svc = fleet.service(c, "web")
    fleet.deployment(svc)
    old = timezone.now() - timedelta(minutes=20)
    Cluster.objects.filter(pk=c.pk).update(last_sync_at=old)
    SyncRun.objects.create(account=c.account, cluster=c, status="succeeded", finished_at=old)
    assert health(svc)[0] == "unknown"
    assert reason(svc, "stale-data")["evidence"]["via"] == f"cluster:{c.pk}"
    c.refresh_from_db()
    assert (
        c.health_state == "unknown" and "no successful sync since" in c.health_reasons[0]["message"]
    )
    Cluster.objects.filter(pk=c.pk).update(last_sync_at=timezone.now())
    assert health(svc) == ("healthy", [])


def test_failed_rollout_is_failing_with_the_revision_and_reason(c: Cluster) -> None:
    svc = fleet.service(c, "api", desired=2)
    td = TaskDefinition.objects.create(arn="arn:td/api:2", family="api", revision=2)
    fleet.deployment(svc, "COMPLETED", status="ACTIVE", created=timezone.now() - timedelta(hours=1))
    bad = fleet.deployment(
        svc,
        "FAILED",
        task_definition=td,
        failed_tasks=4,
        rollout_state_reason="ECS deployment circuit breaker: tasks failed to start.",
    )
    assert health(svc) == ("failing", ["rollout-failed"])
    r = reason(svc, "rollout-failed")
    assert r["message"] == (
        "rollout to api:2 failed: ECS deployment circuit breaker: tasks failed to start, "
        "4 tasks failed to start"
    )
    assert r["since"] == bad.updated_at_aws.isoformat()  # type: ignore[union-attr]
    # A new deployment replaces it and completes: healthy again.
    Deployment.objects.filter(pk=bad.pk).update(status="INACTIVE")
    fleet.deployment(svc, "COMPLETED")
    assert health(svc) == ("healthy", [])


def test_a_failed_rollout_that_was_rolled_back_is_never_a_success(c: Cluster) -> None:
    svc = fleet.service(c, "api", desired=2)
    old = TaskDefinition.objects.create(arn="arn:td/api:1", family="api", revision=1)
    new = TaskDefinition.objects.create(arn="arn:td/api:2", family="api", revision=2)
    fleet.deployment(
        svc,
        "FAILED",
        status="INACTIVE",
        task_definition=new,
        created=timezone.now() - timedelta(minutes=10),
        rollout_state_reason="ECS deployment circuit breaker: rolling back.",
    )
    # Its tasks crashed (what tripped the breaker) ...
    for _ in range(3):
        task = fleet.stopped_task(svc, 137, "OutOfMemoryError: killed")
        Task.objects.filter(pk=task.pk).update(task_definition=new)
    # ... then the circuit breaker's rollback: a newer deployment of the old revision.
    fleet.deployment(svc, "COMPLETED", task_definition=old)
    # The crashes were the revision it left: not a crash loop of the service now.
    assert health(svc) == ("degraded", ["rolled-back"])
    assert reason(svc, "rolled-back")["message"] == (
        "rollout to api:2 failed and was replaced; now running api:1: "
        "ECS deployment circuit breaker: rolling back"
    )


def test_nothing_running_is_down_and_worse_than_failing(c: Cluster) -> None:
    svc = fleet.service(c, "api", desired=2, running=0)
    fleet.deployment(svc, "FAILED", rollout_state_reason="circuit breaker")
    state, codes = health(svc)
    assert state == "down" and set(codes) == {"rollout-failed", "no-tasks-running"}
    assert reason(svc, "no-tasks-running")["message"] == "0 of 2 tasks running"
    Service.objects.filter(pk=svc.pk).update(running_count=1)
    state, codes = health(svc)
    assert state == "failing" and "below-desired" in codes


def test_rollout_in_progress_is_degraded_then_stuck(c: Cluster, settings: Any) -> None:
    settings.FLEETDECK_STUCK_ROLLOUT_MINUTES = 30
    svc = fleet.service(c, "web", desired=2)
    dep = fleet.deployment(svc, "IN_PROGRESS", created=timezone.now() - timedelta(minutes=5))
    assert health(svc) == ("degraded", ["rollout-in-progress"])
    Deployment.objects.filter(pk=dep.pk).update(
        created_at_aws=timezone.now() - timedelta(minutes=45)
    )
    assert health(svc) == ("degraded", ["rollout-stuck"])
    Deployment.objects.filter(pk=dep.pk).update(rollout_state="COMPLETED")
    assert health(svc) == ("healthy", [])


def test_crash_loop_of_a_service_that_stays_2_of_2_is_failing(c: Cluster, settings: Any) -> None:
    settings.FLEETDECK_CRASH_LOOP_STOPS, settings.FLEETDECK_CRASH_LOOP_MINUTES = 3, 10
    svc = fleet.service(c, "web", desired=2)
    fleet.deployment(svc)
    oom = "OutOfMemoryError: Container killed due to memory usage"
    now = timezone.now()
    first = fleet.stopped_task(svc, 137, oom, stopped=now - timedelta(minutes=8))
    assert health(svc) == ("degraded", ["task-failures"])
    for minutes in (5, 1):
        fleet.stopped_task(svc, 137, oom, stopped=now - timedelta(minutes=minutes))
    assert health(svc) == ("failing", ["crash-loop"])
    r = reason(svc, "crash-loop")
    assert r["message"] == "crash loop: 3 OOM kills in 10 min"
    assert r["since"] == first.stopped_at.isoformat()  # type: ignore[union-attr]
    assert r["evidence"]["exit_codes"] == {"137": 3} and r["evidence"]["oom"] == 3


def test_requested_stops_and_clean_exits_are_not_crashes(c: Cluster) -> None:
    svc = fleet.service(c, "web", desired=2)
    fleet.deployment(svc)
    for _ in range(4):
        task = fleet.stopped_task(svc, 143)
        task.stop_code = "ServiceSchedulerInitiated"
        task.save()
        fleet.stopped_task(svc, 0)
    assert health(svc) == ("healthy", [])


def _placement_event(svc: Service, message: str, minutes_ago: int) -> None:
    events_record(
        [
            NewEvent(
                source=EventSource.ECS_SERVICE_EVENT,
                message=message,
                dedupe_key=f"ecs-service-event|{svc.pk}|{minutes_ago}|{message[:20]}",
                occurred_at=timezone.now() - timedelta(minutes=minutes_ago),
                service_arn=svc.arn,
            )
        ]
    )


def test_unplaceable_revision_is_failing_at_once_with_what_it_asks_for(c: Cluster) -> None:
    box = fleet.instance(c, remaining_memory=3968, remaining_cpu=1024)
    fleet.instance(c, remaining_memory=512)
    td = TaskDefinition.objects.create(
        arn="arn:td/plc:2", family="plc", revision=2, containers=[{"name": "app", "memory": 100000}]
    )
    svc = fleet.service(c, "plc", desired=2)
    fleet.deployment(svc, "IN_PROGRESS", task_definition=td)
    box_id = box.arn.rsplit("/", 1)[-1]
    _placement_event(
        svc,
        f"(service plc) was unable to place a task because no container instance met all of "
        f"its requirements. The closest matching (container-instance {box_id}) has "
        "insufficient memory available.",
        minutes_ago=1,
    )
    state, codes = health(svc)
    assert state == "failing" and "cannot-place" in codes
    r = reason(svc, "cannot-place")
    assert r["message"] == (
        "cannot place plc:2: no instance has 100000 MiB of memory free (largest free: 3968 MiB)"
    )
    assert r["evidence"]["closest_instance_pk"] == box.pk
    # The service reaches a steady state afterwards: the failure is history.
    _placement_event(svc, "(service plc) has reached a steady state.", minutes_ago=0)
    Deployment.objects.filter(service=svc).update(rollout_state="COMPLETED")
    assert health(svc) == ("healthy", [])


def test_disconnected_agent_with_tasks_is_failing_after_the_grace(c: Cluster) -> None:
    ci = fleet.instance(
        c,
        connected=False,
        agent_connected_changed_at=timezone.now() - timedelta(seconds=30),
        running_tasks_count=2,
    )
    assert health(ci) == ("degraded", ["agent-disconnected"])  # perhaps a blip
    since = timezone.now() - timedelta(minutes=6)
    ContainerInstance.objects.filter(pk=ci.pk).update(agent_connected_changed_at=since)
    assert health(ci) == ("failing", ["agent-disconnected"])
    assert reason(ci, "agent-disconnected")["since"] == since.isoformat()
    ContainerInstance.objects.filter(pk=ci.pk).update(running_tasks_count=0)
    assert health(ci) == ("degraded", ["agent-disconnected"])
    ContainerInstance.objects.filter(pk=ci.pk).update(agent_connected=True)
    assert health(ci) == ("healthy", [])
    ContainerInstance.objects.filter(pk=ci.pk).update(status="DRAINING")
    assert health(ci) == ("degraded", ["draining"])
    ContainerInstance.objects.filter(pk=ci.pk).update(status="INACTIVE")
    assert health(ci) == ("inactive", [])


def test_cluster_and_account_roll_up_their_worst_child(c: Cluster) -> None:
    ok = fleet.service(c, "ok")
    fleet.deployment(ok)
    down = fleet.service(c, "down", running=0)
    fleet.deployment(down)
    health_refresh()
    c.refresh_from_db()
    assert c.health_state == "down"
    [r] = c.health_reasons
    assert r["code"] == "services-unhealthy" and r["message"] == "1 service down: down"
    assert r["evidence"]["subjects"] == [f"service:{down.pk}"]
    c.account.refresh_from_db()
    assert c.account.health_state == "down"
    # The last sync failed, the one before it succeeded a minute ago: data is fresh.
    ok_at = timezone.now() - timedelta(minutes=1)
    SyncRun.objects.create(account=c.account, cluster=c, status="succeeded", finished_at=ok_at)
    Cluster.objects.filter(pk=c.pk).update(last_sync_ok=False, last_sync_error="AccessDenied")
    Service.objects.filter(pk=down.pk).update(running_count=2)
    assert health(c) == ("degraded", ["sync-failed"])


def test_docker_host_unreachable_is_failing_and_never_synced_is_unknown() -> None:
    host = DockerHost.objects.create(name="edge-1", endpoint="tcp://10.0.0.9:2376")
    assert health(host) == ("unknown", ["never-synced"])
    DockerHost.objects.filter(pk=host.pk).update(
        reachable=False, last_error="connection refused", unreachable_since=timezone.now()
    )
    assert health(host) == ("degraded", ["host-unreachable"])  # it may miss one sync
    since = timezone.now() - timedelta(minutes=5)
    DockerHost.objects.filter(pk=host.pk).update(unreachable_since=since)
    assert health(host) == ("failing", ["host-unreachable"])
    DockerHost.objects.filter(pk=host.pk).update(
        reachable=True, last_error="", last_ok_at=timezone.now(), last_sync_at=timezone.now()
    )
    assert health(host) == ("healthy", [])


def test_a_change_of_state_is_one_timeline_entry_with_the_same_severity(c: Cluster) -> None:
    svc = fleet.service(c, "api", desired=2)
    fleet.deployment(svc)
    health_refresh()
    Service.objects.filter(pk=svc.pk).update(running_count=0)
    health_refresh()
    health_refresh()  # nothing changed: no second entry
    [event] = Event.objects.filter(source=EventSource.HEALTH, service_arn=svc.arn)
    assert event.severity == "error" and event.message.startswith("Service api is down: ")
    Service.objects.filter(pk=svc.pk).update(running_count=2)
    health_refresh()
    back = Event.objects.filter(source=EventSource.HEALTH, service_arn=svc.arn).latest("id")
    assert back.severity == "info" and "healthy again" in back.message


def test_refresh_writes_only_what_changed(c: Cluster) -> None:
    for i in range(5):
        fleet.deployment(fleet.service(c, f"s{i}"))
    assert health_refresh() > 0
    assert health_refresh() == 0
