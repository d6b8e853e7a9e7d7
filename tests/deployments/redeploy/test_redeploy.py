"""Forced redeploys against the sandbox: request, execute, follow to COMPLETED or
FAILED, and the timeline they leave; idempotency, mid-rollout, AWS errors, batches."""

from __future__ import annotations

from typing import Any

import pytest

from clusters.models import AuditEntry, Event
from deployments.models import Redeploy, RedeployStatus
from deployments.redeploy import (
    RedeployRefused,
    redeploy_batch_advance,
    redeploy_batch_start,
    redeploy_execute,
    redeploy_plan,
    redeploy_refresh,
    redeploy_retry,
    service_force_redeploy,
)
from tests.deployments.redeploy_fleet import fleet_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sync_every_refresh(settings) -> None:
    """The tests tick the sandbox and refresh at once: no shared-sync gap."""
    settings.FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS = 0


def _follow(sandbox: Any, redeploy: Redeploy, ticks: int = 15) -> Redeploy:
    for _ in range(ticks):
        sandbox.client.tick(1)
        redeploy = redeploy_refresh(redeploy_id=redeploy.pk)  # type: ignore[assignment]
        if redeploy.is_terminal:
            return redeploy
    raise AssertionError(f"redeploy still {redeploy.status} after {ticks} ticks")


def _timeline_since(audit_event: Event) -> list[Event]:
    return list(
        Event.objects.filter(occurred_at__gte=audit_event.occurred_at).order_by("occurred_at", "id")
    )


def _position(events: list[Event], predicate: Any, what: str) -> int:
    for i, e in enumerate(events):
        if predicate(e):
            return i
    raise AssertionError(f"no {what} on the timeline: {[e.message for e in events]}")


def _assert_no_duplicates(events: list[Event]) -> None:
    # A fact is its source, text and subject (and AWS's event id: ECS repeats texts
    # such as "has reached a steady state." as new events).
    facts = [
        (e.source, e.message, e.task_arn, e.service_arn, e.details.get("eventId")) for e in events
    ]
    assert len(facts) == len(set(facts)), [f for f in facts if facts.count(f) > 1]


def test_forced_redeploy_of_external_service_completes_with_an_ordered_timeline(
    sandbox, operator, django_capture_on_commit_callbacks
) -> None:
    fleet = fleet_create(sandbox, desired=4)
    web = fleet.services["web"]
    old_tasks = set(fleet.ecs.list_tasks(cluster="edge", serviceName="web")["taskArns"])
    assert len(old_tasks) == 4
    plan = redeploy_plan(service=web)
    assert not plan.mid_rollout
    assert (plan.minimum_healthy_percent, plan.maximum_percent) == (100, 200)
    assert len(plan.running_tasks) == 4 and len(plan.instances) == 2
    assert plan.extra_tasks == 4 and plan.min_healthy_tasks == 4

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = service_force_redeploy(
            service_id=web.pk, actor=operator, reason="pick up the new config"
        )
    assert result.created and result.redeploy.status == RedeployStatus.QUEUED
    assert len(callbacks) == 1  # the Celery task is enqueued only after commit

    redeploy = redeploy_execute(redeploy_id=result.redeploy.pk)
    assert redeploy is not None and redeploy.status == RedeployStatus.IN_PROGRESS
    assert redeploy.aws_deployment_id.startswith("ecs-svc/")
    assert redeploy_execute(redeploy_id=redeploy.pk).status == RedeployStatus.IN_PROGRESS  # type: ignore[union-attr]
    assert sandbox.client.request_counts().get("ecs:UpdateService") == 1  # executed once

    redeploy = _follow(sandbox, redeploy)
    assert redeploy.status == RedeployStatus.COMPLETED, redeploy.aws_error
    assert redeploy.deployment is not None
    assert redeploy.deployment.deployment_id == redeploy.aws_deployment_id
    assert redeploy.deployment.rollout_state == "COMPLETED"
    assert redeploy.finished_at is not None
    web.refresh_from_db()
    assert web.pending_count == 0 and web.running_count == 4 == web.desired_count
    new_tasks = set(fleet.ecs.list_tasks(cluster="edge", serviceName="web")["taskArns"])
    assert new_tasks.isdisjoint(old_tasks) and len(new_tasks) == 4

    audit = AuditEntry.objects.get(action="service.force_redeploy")
    assert audit.actor == operator and audit.details["reason"] == "pick up the new config"
    audit_event = Event.objects.get(source="audit", details__audit_id=audit.pk)
    events = _timeline_since(audit_event)
    _assert_no_duplicates(events)
    dep = redeploy.aws_deployment_id
    i_audit = _position(events, lambda e: e.pk == audit_event.pk, "audit entry")
    i_start = _position(
        events,
        lambda e: (
            e.source == "deployment" and e.message.startswith(f"Deployment {dep} of web started")
        ),
        "deployment start",
    )
    i_starts = [
        _position(
            events,
            lambda e, t=t: e.source == "task" and e.task_arn == t and "RUNNING" in e.message,
            f"start of {t}",
        )
        for t in new_tasks
    ]
    i_stops = [
        _position(
            events,
            lambda e, t=t: e.source == "task" and e.task_arn == t and "stopped" in e.message,
            f"stop of {t}",
        )
        for t in old_tasks
    ]
    i_steady = max(
        i for i, e in enumerate(events) if e.message == "(service web) has reached a steady state."
    )
    i_done = _position(
        events,
        lambda e: e.message.startswith("Forced redeploy of web") and "completed" in e.message,
        "completion",
    )
    assert i_audit < i_start < min(i_starts)
    assert max(i_starts) < min(i_stops)  # maximumPercent 200: new tasks first, then old stop
    assert max(i_stops) <= i_steady < i_done
    assert events[i_audit].actor == operator
    assert events[i_start].actor == operator and events[i_start].service_arn == web.arn

    # A second run of the refresh changes nothing (idempotent).
    count = Event.objects.count()
    redeploy_refresh(redeploy_id=redeploy.pk)
    assert Event.objects.count() == count


def test_a_failing_redeploy_is_recorded_as_failed_with_the_reason(
    sandbox, operator, django_capture_on_commit_callbacks
) -> None:
    fleet = fleet_create(sandbox, desired=4)
    web = fleet.services["web"]
    old_tasks = set(fleet.ecs.list_tasks(cluster="edge", serviceName="web")["taskArns"])
    # The same task definition now crashes (exit 137) before reaching RUNNING.
    sandbox.client.crash_task_definition(fleet.task_definition_arn, exit_code=137)
    with django_capture_on_commit_callbacks(execute=False):
        result = service_force_redeploy(service_id=web.pk, actor=operator, reason="restart")
    redeploy = redeploy_execute(redeploy_id=result.redeploy.pk)
    assert redeploy is not None
    redeploy = _follow(sandbox, redeploy, ticks=20)
    assert redeploy.status == RedeployStatus.FAILED
    assert "deployment failed: tasks failed to start" in redeploy.aws_error
    web.refresh_from_db()

    audit_event = Event.objects.get(source="audit", details__action="service.force_redeploy")
    events = _timeline_since(audit_event)
    _assert_no_duplicates(events)
    dep = redeploy.aws_deployment_id
    i_start = _position(
        events, lambda e: e.message.startswith(f"Deployment {dep} of web started"), "start"
    )
    crashed = [
        i
        for i, e in enumerate(events)
        if e.source == "task" and e.task_arn not in old_tasks and "stopped" in e.message
    ]
    assert len(crashed) >= 3  # the circuit breaker's threshold
    assert all(events[i].severity == "warning" for i in crashed)
    i_failed_event = _position(
        events, lambda e: f"(deployment {dep}) deployment failed" in e.message, "ECS failure event"
    )
    i_failed = _position(
        events,
        lambda e: e.message.startswith("Forced redeploy of web") and "failed" in e.message,
        "failure",
    )
    assert events[i_failed].severity == "error"
    # The breaker (rollback on) replaced the deployment: reported as rolled back.
    assert "failed and was rolled back" in events[i_failed].message
    assert "The circuit breaker rolled web back to app:1" in redeploy.aws_error
    assert 0 < i_start < min(crashed) <= max(crashed) < i_failed
    assert i_failed_event < i_failed


def test_idempotency_window_and_the_database_guard(sandbox, operator, admin_user) -> None:
    fleet = fleet_create(sandbox, desired=1, instances=1)
    web = fleet.services["web"]
    first = service_force_redeploy(
        service_id=web.pk, actor=operator, reason="one", idempotency_key="form-1"
    )
    assert first.created
    # Same form submitted twice, or a second operator: the same redeploy answers.
    again = service_force_redeploy(
        service_id=web.pk, actor=operator, reason="one", idempotency_key="form-1"
    )
    other = service_force_redeploy(service_id=web.pk, actor=admin_user, reason="two")
    assert (again.created, other.created) == (False, False)
    assert again.redeploy.pk == other.redeploy.pk == first.redeploy.pk
    assert AuditEntry.objects.filter(action="service.force_redeploy").count() == 1
    # Even code that skips the service cannot store a second live redeploy.
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Redeploy.objects.create(service=web, reason="sneaky", idempotency_key="x")


def test_mid_rollout_needs_confirmation(sandbox, operator) -> None:
    fleet = fleet_create(sandbox, desired=2, instances=1)
    web = fleet.services["web"]
    fleet.ecs.update_service(cluster="edge", service="web", forceNewDeployment=True)
    from deployments.sync import cluster_sync

    cluster_sync(cluster_id=web.cluster_id)
    assert redeploy_plan(service=web).mid_rollout
    with pytest.raises(RedeployRefused) as refused:
        service_force_redeploy(service_id=web.pk, actor=operator, reason="again")
    assert refused.value.code == "mid_rollout"
    assert not Redeploy.objects.exists()
    result = service_force_redeploy(
        service_id=web.pk, actor=operator, reason="again", confirm_mid_rollout=True
    )
    assert result.created
    assert AuditEntry.objects.get().details["mid_rollout"] is True


def test_a_reason_is_required(sandbox, operator) -> None:
    fleet = fleet_create(sandbox, desired=1, instances=1)
    with pytest.raises(RedeployRefused) as refused:
        service_force_redeploy(service_id=fleet.services["web"].pk, actor=operator, reason="  ")
    assert refused.value.code == "reason"


def test_an_aws_error_fails_the_redeploy_visibly_and_it_can_be_retried(sandbox, operator) -> None:
    fleet = fleet_create(sandbox, desired=1, instances=1)
    web = fleet.services["web"]
    # Fault injection: the one thing the sandbox cannot be asked to do by itself.
    sandbox.client.set_faults(
        [{"service": "ecs", "operation": "UpdateService", "fault": "error500", "count": 1}]
    )
    result = service_force_redeploy(service_id=web.pk, actor=operator, reason="flaky")
    redeploy = redeploy_execute(redeploy_id=result.redeploy.pk)
    assert redeploy is not None and redeploy.status == RedeployStatus.FAILED
    redeploy.refresh_from_db()
    assert "ServerException" in redeploy.aws_error and "UpdateService" in redeploy.aws_error
    failed_event = Event.objects.get(source="deployment", severity="error")
    assert "ServerException" in failed_event.message

    retry = redeploy_retry(redeploy_id=redeploy.pk, actor=operator)
    assert retry.created and retry.redeploy.retry_of_id == redeploy.pk
    retried = redeploy_execute(redeploy_id=retry.redeploy.pk)
    assert retried is not None and retried.status == RedeployStatus.IN_PROGRESS
    with pytest.raises(RedeployRefused):
        redeploy_retry(redeploy_id=retried.pk, actor=operator)  # not failed


def test_batch_runs_at_most_concurrency_at_a_time(
    sandbox, operator, django_capture_on_commit_callbacks
) -> None:
    fleet = fleet_create(sandbox, services=("api", "web", "worker"), desired=1, instances=1)
    ids = [s.pk for s in fleet.services.values()]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        batch = redeploy_batch_start(
            service_ids=ids, actor=operator, reason="rotate certs", concurrency=2
        )
    assert len(batch.started) == 3 and not batch.skipped
    assert len(callbacks) == 2
    members = list(batch.batch.redeploys.order_by("id"))
    assert [r.dispatched_at is not None for r in members] == [True, True, False]
    assert redeploy_batch_advance(batch_id=batch.batch.pk) == 0  # no free slot

    first = redeploy_execute(redeploy_id=members[0].pk)
    assert first is not None
    _follow(sandbox, first)
    members[2].refresh_from_db()
    assert members[2].dispatched_at is not None  # the finished one freed a slot
    assert AuditEntry.objects.filter(action="service.force_redeploy").count() == 3
    assert AuditEntry.objects.filter(action="redeploy.batch").count() == 1


def test_sweep_recovers_lost_messages_and_dead_workers(
    sandbox, operator, django_capture_on_commit_callbacks
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from deployments.redeploy import redeploys_sweep

    fleet = fleet_create(sandbox, services=("api", "web", "worker"), desired=1, instances=1)
    api, web, worker = (fleet.services[n] for n in ("api", "web", "worker"))
    with django_capture_on_commit_callbacks(execute=False):
        lost_message = service_force_redeploy(service_id=api.pk, actor=operator, reason="a")
        dead_worker = service_force_redeploy(service_id=web.pk, actor=operator, reason="b")
        untracked = service_force_redeploy(service_id=worker.pk, actor=operator, reason="c")
    redeploy_execute(redeploy_id=untracked.redeploy.pk)
    long_ago = timezone.now() - timedelta(minutes=10)
    Redeploy.objects.filter(pk=lost_message.redeploy.pk).update(dispatched_at=long_ago)
    Redeploy.objects.filter(pk=dead_worker.redeploy.pk).update(
        status=RedeployStatus.REQUESTED, checked_at=long_ago
    )
    Redeploy.objects.filter(pk=untracked.redeploy.pk).update(checked_at=long_ago)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = redeploys_sweep()
    assert result.redispatched == [lost_message.redeploy.pk] and len(callbacks) == 1
    assert result.lost == [dead_worker.redeploy.pk]
    assert result.to_track == [untracked.redeploy.pk]
    failed = Redeploy.objects.get(pk=dead_worker.redeploy.pk)
    assert failed.status == RedeployStatus.FAILED and "Check the service" in failed.aws_error
    # Nothing is stale any more: a second sweep does nothing.
    again = redeploys_sweep()
    assert (again.redispatched, again.lost) == ([], [])


def test_redeploy_tasks_are_registered_and_the_sweep_is_scheduled() -> None:
    from console.celery import _app_schedules, app

    app.loader.import_default_modules()
    for name in ("execute", "track", "sweep"):
        assert f"deployments.redeploy.tasks.{name}" in app.tasks
    assert _app_schedules()["redeploys-sweep"]["task"] == "deployments.redeploy.tasks.sweep"


def test_redeploys_in_one_cluster_share_a_recent_sync(sandbox, operator, settings) -> None:
    fleet = fleet_create(sandbox, services=("api", "web"), desired=1, instances=1)
    ids = []
    for name in ("api", "web"):
        result = service_force_redeploy(
            service_id=fleet.services[name].pk, actor=operator, reason="shared"
        )
        redeploy_execute(redeploy_id=result.redeploy.pk)
        ids.append(result.redeploy.pk)
    settings.FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS = 60
    sandbox.client.reset_request_counts()
    for pk in ids:
        redeploy_refresh(redeploy_id=pk)
    assert sandbox.client.request_counts().get("ecs:DescribeServices", 0) == 0
    settings.FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS = 0
    redeploy_refresh(redeploy_id=ids[0])
    assert sandbox.client.request_counts()["ecs:DescribeServices"] == 1


def _aws_rollout_state(fleet: Any, deployment_id: str) -> str:
    svc = fleet.ecs.describe_services(cluster="edge", services=["web"])["services"][0]
    return next(d["rolloutState"] for d in svc["deployments"] if d["id"] == deployment_id)


def test_completed_is_reported_only_once_the_mirror_shows_it(sandbox, operator, settings) -> None:
    """A periodic sync has written the services (the rollout COMPLETED, the old
    deployment gone) but not yet the tasks when the redeploy's worker looks: it must
    not report Completed over stopped tasks still mirrored RUNNING. Once the lock is
    free it reads the service alone (no cluster sync due) and then finishes."""
    from clusters.mirror.sync import account_reader, cluster_lock
    from clusters.mirror.writes import SyncStats
    from deployments.models import Deployment, Task
    from deployments.workload_sync import cluster_services_sync

    fleet = fleet_create(sandbox, desired=3)
    web = fleet.services["web"]
    cluster = web.cluster
    old_arns = set(
        Task.objects.filter(service=web, last_status="RUNNING").values_list("arn", flat=True)
    )
    old_deployment = Deployment.objects.get(service=web, status="PRIMARY")
    result = service_force_redeploy(service_id=web.pk, actor=operator, reason="fresh at the end")
    redeploy: Any = redeploy_execute(redeploy_id=result.redeploy.pk)
    assert redeploy is not None
    dep = redeploy.aws_deployment_id
    sandbox.client.tick(2)  # new tasks RUNNING, the old ones asked to stop
    redeploy = redeploy_refresh(redeploy_id=redeploy.pk)
    assert Task.objects.filter(arn__in=old_arns, last_status="RUNNING").count() == 3
    for _ in range(5):
        sandbox.client.tick(1)
        if _aws_rollout_state(fleet, dep) == "COMPLETED":
            break
    assert _aws_rollout_state(fleet, dep) == "COMPLETED"

    with cluster_lock(cluster_id=cluster.pk):  # the periodic sync, between its phases
        reader = account_reader(account=cluster.account, region=cluster.region)
        cluster_services_sync(cluster=cluster, reader=reader, stats=SyncStats())
        assert Deployment.objects.get(deployment_id=dep).rollout_state == "COMPLETED"
        redeploy = redeploy_refresh(redeploy_id=redeploy.pk)
        assert redeploy.status == RedeployStatus.IN_PROGRESS  # not over stale task rows
        assert Task.objects.filter(arn__in=old_arns, last_status="RUNNING").count() == 3

    settings.FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS = 3600  # no cluster sync due: targeted read
    sandbox.client.reset_request_counts()
    redeploy = redeploy_refresh(redeploy_id=redeploy.pk)
    assert redeploy.status == RedeployStatus.COMPLETED, redeploy.aws_error
    calls = sandbox.client.request_counts()
    assert calls.get("ecs:DescribeServices") == 1 and calls.get("ecs:ListTasks") == 2
    assert not calls.get("ecs:ListServices") and not calls.get("ecs:DescribeClusters")
    old_deployment.refresh_from_db()
    assert old_deployment.status == "INACTIVE"
    assert Deployment.objects.get(deployment_id=dep).status == "PRIMARY"
    assert not Task.objects.filter(arn__in=old_arns).exclude(last_status="STOPPED").exists()
    assert Task.objects.filter(service=web, started_by=dep, last_status="RUNNING").count() == 3
    assert not Task.objects.filter(service=web, desired_status="STOPPED", last_status="RUNNING")
