"""Running a redeploy: the one UpdateService(forceNewDeployment) call, then
following the rollout through the mirror (the cluster's sync) until its
deployment is terminal or the tracking timeout passes, and finishing the
redeploy with one timeline event. State moves with conditional UPDATEs, so a
task that runs twice changes nothing the second time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from clusters.aws.ecs_actions import ecs_force_new_deployment
from clusters.aws.errors import AwsError, AwsTransientError
from clusters.core.timeline import dedupe_key, event_record
from clusters.mirror.sync import SyncLockBusy
from clusters.models import Event, EventSeverity, EventSource, SyncRunStatus
from deployments.models import ACTIVE_STATUSES, Deployment, Redeploy, RedeployStatus, Service
from deployments.redeploy.start import _subjects, redeploy_batch_advance
from deployments.sync import cluster_sync, service_sync


def _tracking_timeout() -> timedelta:
    return timedelta(seconds=settings.FLEETDECK_REDEPLOY_TIMEOUT_SECONDS)


def redeploy_execute(*, redeploy_id: int) -> Redeploy | None:
    """Call UpdateService(forceNewDeployment) for a queued redeploy, once.

    An AWS error fails the redeploy with the error shown to the operator (who may
    retry); success records the new deployment and a timeline event, then reads the
    rollout's first state into the mirror."""
    won = Redeploy.objects.filter(pk=redeploy_id, status=RedeployStatus.QUEUED).update(
        status=RedeployStatus.REQUESTED, checked_at=timezone.now()
    )
    redeploy = (
        Redeploy.objects.select_related("service__cluster__account", "requested_by")
        .filter(pk=redeploy_id)
        .first()
    )
    if redeploy is None or not won:
        return redeploy
    service = redeploy.service
    cluster = service.cluster
    try:
        forced = ecs_force_new_deployment(
            account=cluster.account,
            region=cluster.region,
            cluster_arn=cluster.arn,
            service_arn=service.arn,
        )
    except AwsError as exc:
        _finish(redeploy, RedeployStatus.FAILED, error=f"{exc.operation or 'UpdateService'}: {exc}")
        redeploy.refresh_from_db()
        return redeploy
    deployment = forced.deployment
    now = timezone.now()
    Redeploy.objects.filter(pk=redeploy.pk).update(
        status=RedeployStatus.IN_PROGRESS,
        aws_deployment_id=deployment.deployment_id,
        requested_at=now,
    )
    who = redeploy.requested_by.get_username() if redeploy.requested_by else "system"
    event_record(
        source=EventSource.DEPLOYMENT,
        message=f"Deployment {deployment.deployment_id} of {service.name} started "
        f"(forced new deployment by {who}: {redeploy.reason})",
        dedupe_key=dedupe_key("deployment", deployment.deployment_id, "started"),
        actor=redeploy.requested_by,
        # When UpdateService answered (Fleetdeck's clock, like the audit entry
        # before it); AWS's createdAt is in details.
        occurred_at=now,
        details={
            "deploymentId": deployment.deployment_id,
            "redeploy_id": redeploy.pk,
            "taskDefinition": deployment.task_definition_arn,
            "createdAt": deployment.created_at.isoformat() if deployment.created_at else None,
        },
        **_subjects(service),
    )
    return redeploy_refresh(redeploy_id=redeploy.pk)


def redeploy_refresh(*, redeploy_id: int, sync: bool = True) -> Redeploy | None:
    """Read the rollout into the mirror (the cluster's sync) and finish the
    redeploy when its deployment is terminal. Returns the redeploy.

    The outcome is reported only once the mirror shows it: when this round did not
    sync the whole cluster, the service, its deployments and its tasks are read
    again first, so the page that says "Completed" no longer shows the old
    deployment as PRIMARY or its stopped tasks as RUNNING."""
    redeploy = (
        Redeploy.objects.select_related("service__cluster__account", "requested_by")
        .filter(pk=redeploy_id)
        .first()
    )
    if redeploy is None or redeploy.status != RedeployStatus.IN_PROGRESS:
        return redeploy
    Redeploy.objects.filter(pk=redeploy.pk).update(checked_at=timezone.now())
    fresh = sync and _sync_due(redeploy.service.cluster.last_sync_at) and _cluster_synced(redeploy)
    deployment = _deployment_link(redeploy)
    if deployment is not None and deployment.is_terminal:
        behind = sync and not fresh and not _service_synced(redeploy)
        if behind and not _timed_out(redeploy):
            redeploy.refresh_from_db()
            return redeploy  # the mirror is behind AWS: the next round finishes it
        deployment.refresh_from_db()
        _finish_rollout(redeploy, deployment)
    elif _timed_out(redeploy):
        _finish(
            redeploy,
            RedeployStatus.FAILED,
            error=f"The rollout did not finish within {_tracking_timeout()}; stopped following it.",
        )
    redeploy.refresh_from_db()
    return redeploy


def _timed_out(redeploy: Redeploy) -> bool:
    started = redeploy.requested_at
    return started is not None and timezone.now() - started > _tracking_timeout()


def _cluster_synced(redeploy: Redeploy) -> bool:
    """Sync the redeploy's cluster; True when the mirror now reflects AWS."""
    try:
        run = cluster_sync(cluster_id=redeploy.service.cluster_id)
    except SyncLockBusy:
        return False  # another sync is writing the same rows right now; read what is there
    except AwsTransientError:
        return False  # throttled or unreachable: the next round reads it
    return run is not None and run.status == SyncRunStatus.SUCCEEDED


def _service_synced(redeploy: Redeploy) -> bool:
    """Refresh the service, its deployments and tasks alone (a targeted describe)."""
    try:
        service_sync(service_id=redeploy.service_id)
    except SyncLockBusy:
        return False  # a full sync holds the cluster: the next round reads its result
    except AwsError:
        return False  # the next round tries again (and the tracking timeout bounds it)
    return True


def _deployment_link(redeploy: Redeploy) -> Deployment | None:
    deployment = Deployment.objects.filter(deployment_id=redeploy.aws_deployment_id).first()
    if deployment is not None and redeploy.deployment_id != deployment.pk:
        Redeploy.objects.filter(pk=redeploy.pk).update(deployment=deployment)
        redeploy.deployment = deployment
    return deployment


def _finish_rollout(redeploy: Redeploy, deployment: Deployment) -> None:
    if deployment.rollout_state == "COMPLETED":
        _finish(redeploy, RedeployStatus.COMPLETED, at=deployment.updated_at_aws)
    else:
        _finish(
            redeploy,
            RedeployStatus.FAILED,
            error=_failure_reason(redeploy, deployment),
            at=deployment.updated_at_aws,
        )


def _sync_due(last_sync_at: Any) -> bool:
    """Several redeploys in one cluster (a batch) share a sync: skip it when the
    cluster was synced within the last FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS."""
    gap = timedelta(seconds=settings.FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS)
    return last_sync_at is None or timezone.now() - last_sync_at >= gap


def _failure_reason(redeploy: Redeploy, deployment: Deployment) -> str:
    if deployment.rollout_state == "FAILED" and deployment.rollout_state_reason:
        return deployment.rollout_state_reason
    # A deployment the circuit breaker failed and rolled back in one step vanishes
    # from DescribeServices (the mirror marks it INACTIVE with its last, "in
    # progress", reason); the service event still says what happened.
    said = (
        Event.objects.filter(
            service_arn=redeploy.service.arn,
            source=EventSource.ECS_SERVICE_EVENT,
            message__contains=f"(deployment {deployment.deployment_id})",
        )
        .order_by("-occurred_at", "-id")
        .values_list("message", flat=True)
        .first()
    )
    if said:
        return said
    return f"Deployment {deployment.deployment_id} was replaced before it completed."


def _finish(redeploy: Redeploy, status: str, *, error: str = "", at: Any = None) -> None:
    now = timezone.now()
    won = Redeploy.objects.filter(pk=redeploy.pk, status__in=ACTIVE_STATUSES).update(
        status=status, aws_error=error, finished_at=now
    )
    if not won:
        return
    service = redeploy.service
    who = redeploy.requested_by.get_username() if redeploy.requested_by else "system"
    deployment = f" (deployment {redeploy.aws_deployment_id})" if redeploy.aws_deployment_id else ""
    if status == RedeployStatus.COMPLETED:
        message = f"Forced redeploy of {service.name}{deployment} completed (requested by {who})"
        severity = EventSeverity.INFO
    else:
        message = f"Forced redeploy of {service.name}{deployment} failed: {error}"
        severity = EventSeverity.ERROR
    event_record(
        source=EventSource.DEPLOYMENT,
        severity=severity,
        message=message,
        dedupe_key=dedupe_key("redeploy", redeploy.pk, status),
        actor=redeploy.requested_by,
        occurred_at=_observed_at(service, at, now),
        details={"redeploy_id": redeploy.pk, "deploymentId": redeploy.aws_deployment_id},
        **_subjects(service),
    )
    if redeploy.batch_id:
        redeploy_batch_advance(batch_id=redeploy.batch_id)


def _observed_at(service: Service, at: Any, now: Any) -> Any:
    """When the outcome was seen: never before the rollout facts that led to it (the
    service's newest event), even when AWS's clock runs ahead of ours."""
    newest = Event.objects.filter(service_arn=service.arn).aggregate(newest=Max("occurred_at"))[
        "newest"
    ]
    return max(t for t in (now, at, newest) if t is not None)
