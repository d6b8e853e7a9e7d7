"""Running a redeploy or a rollback: the one AWS call (UpdateService with
forceNewDeployment or the rollback's target task definition, or, for a rollback of
a deployment in flight, StopServiceDeployment: ``redeploy.stop``), then
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

from clusters.aws.ecs_actions import (
    ForcedDeployment,
    ecs_force_new_deployment,
    ecs_service_task_definition_set,
)
from clusters.aws.errors import AwsError, AwsTransientError
from clusters.core.timeline import dedupe_key, event_record
from clusters.mirror.sync import SyncLockBusy
from clusters.models import Event, EventSeverity, EventSource, SyncRunStatus
from deployments.models import (
    ACTIVE_STATUSES,
    Deployment,
    Redeploy,
    RedeployStatus,
    RollbackMethod,
    Service,
)
from deployments.redeploy.start import redeploy_batch_advance, service_subjects
from deployments.redeploy.stop import (
    StoppedDeployment,
    rollback_stop,
    stop_fallback_record,
    stop_rollback_resolved,
    stop_started,
)
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
    try:
        forced, note = _aws_start(redeploy)
    except AwsError as exc:
        _finish(redeploy, RedeployStatus.FAILED, error=f"{exc.operation or 'UpdateService'}: {exc}")
        redeploy.refresh_from_db()
        return redeploy
    who = redeploy.requested_by.get_username() if redeploy.requested_by else "system"
    if isinstance(forced, StoppedDeployment):
        stop_started(redeploy, forced, who)
        return redeploy_refresh(redeploy_id=redeploy.pk)
    deployment = forced.deployment
    now = timezone.now()
    Redeploy.objects.filter(pk=redeploy.pk).update(
        status=RedeployStatus.IN_PROGRESS,
        aws_deployment_id=deployment.deployment_id,
        requested_at=now,
    )
    what = (
        f"rollback to {_revision(redeploy.target_task_definition_arn)}"
        if redeploy.is_rollback
        else "forced new deployment"
    )
    if note:
        what = f"{what}; {note}"
    event_record(
        source=EventSource.DEPLOYMENT,
        message=f"Deployment {deployment.deployment_id} of {service.name} started "
        f"({what} by {who}: {redeploy.reason})",
        dedupe_key=dedupe_key("deployment", deployment.deployment_id, "started"),
        actor=redeploy.requested_by,
        # When UpdateService answered (Fleetdeck's clock, like the audit entry
        # before it); AWS's createdAt is in details.
        occurred_at=now,
        details={
            "deploymentId": deployment.deployment_id,
            "redeploy_id": redeploy.pk,
            "taskDefinition": deployment.task_definition_arn,
            **({"fallback": note} if note else {}),
            "createdAt": deployment.created_at.isoformat() if deployment.created_at else None,
        },
        **service_subjects(service),
    )
    return redeploy_refresh(redeploy_id=redeploy.pk)


def _aws_start(redeploy: Redeploy) -> tuple[ForcedDeployment | StoppedDeployment, str]:
    """The one AWS call: forceNewDeployment for a redeploy; for a rollback, the call
    its ``method`` names: StopServiceDeployment(ROLLBACK) on the deployment in flight
    or, when that one is no longer in flight (then once, said in the returned note),
    UpdateService(taskDefinition=target)."""
    cluster, service = redeploy.service.cluster, redeploy.service
    where: dict[str, Any] = {
        "account": cluster.account,
        "region": cluster.region,
        "cluster_arn": cluster.arn,
        "service_arn": service.arn,
    }
    if not redeploy.is_rollback:
        return ecs_force_new_deployment(**where), ""
    note = ""
    if redeploy.method == RollbackMethod.STOP_DEPLOYMENT:
        stopped = rollback_stop(redeploy, where)
        if isinstance(stopped, StoppedDeployment):
            return stopped, ""
        note = stop_fallback_record(redeploy, stopped)
    forced = ecs_service_task_definition_set(
        **where, task_definition_arn=redeploy.target_task_definition_arn
    )
    return forced, note


def _revision(arn: str) -> str:
    """``family:revision`` of a task definition ARN, as the pages show it."""
    return arn.rsplit("/", 1)[-1]


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
    # A StopServiceDeployment rollback: AWS's own rollback deployment, once mirrored.
    waiting = redeploy.method == RollbackMethod.STOP_DEPLOYMENT and not stop_rollback_resolved(
        redeploy
    )
    deployment = None if waiting else _deployment_link(redeploy)
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
    """Report the end the mirror (just read from AWS) shows. A rollback succeeds only
    when its deployment is the COMPLETED PRIMARY on the target task definition; a
    deployment the circuit breaker replaced is reported as rolled back, never as a
    success of the service's newest deployment (deployment ids are compared)."""
    at = deployment.updated_at_aws
    missed = _target_missed(redeploy, deployment)
    if deployment.rollout_state == "COMPLETED" and not missed:
        _finish(redeploy, RedeployStatus.COMPLETED, at=at)
        return
    error = missed or _failure_reason(redeploy, deployment)
    breaker = _breaker_rollback(deployment)
    if breaker is not None:
        error = (
            f"{error} The circuit breaker rolled {redeploy.service.name} back to "
            f"{_revision(_arn(breaker))} (deployment {breaker.deployment_id})."
        )
    _finish(redeploy, RedeployStatus.FAILED, error=error, at=at, rolled_back=breaker is not None)


def _arn(deployment: Deployment) -> str:
    td = deployment.task_definition
    return td.arn if td is not None else "(unknown)"


def _target_missed(redeploy: Redeploy, deployment: Deployment) -> str:
    """Why a completed rollback deployment is not the end asked for ("" if it is)."""
    if not redeploy.is_rollback or deployment.rollout_state != "COMPLETED":
        return ""
    if deployment.status != "PRIMARY":
        return f"Deployment {deployment.deployment_id} completed but is no longer PRIMARY."
    if _arn(deployment) != redeploy.target_task_definition_arn:
        return (
            f"Deployment {deployment.deployment_id} completed on "
            f"{_revision(_arn(deployment))}, not on {redeploy.target_revision}."
        )
    return ""


def _breaker_rollback(deployment: Deployment) -> Deployment | None:
    """The deployment that replaced ``deployment`` when it failed: the service's
    PRIMARY now, another deployment id, created after it (the circuit breaker's
    rollback, which AWS starts without being asked)."""
    if deployment.status == "PRIMARY" or deployment.created_at_aws is None:
        return None
    return (
        Deployment.objects.select_related("task_definition")
        .filter(
            service_id=deployment.service_id,
            status="PRIMARY",
            created_at_aws__gte=deployment.created_at_aws,
        )
        .exclude(pk=deployment.pk)
        .order_by("-created_at_aws", "-id")
        .first()
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


def _finish(
    redeploy: Redeploy, status: str, *, error: str = "", at: Any = None, rolled_back: bool = False
) -> None:
    now = timezone.now()
    won = Redeploy.objects.filter(pk=redeploy.pk, status__in=ACTIVE_STATUSES).update(
        status=status, aws_error=error, finished_at=now
    )
    if not won:
        return
    service = redeploy.service
    message, severity = _outcome_message(redeploy, status, error, rolled_back)
    event_record(
        source=EventSource.DEPLOYMENT,
        severity=severity,
        message=message,
        dedupe_key=dedupe_key("redeploy", redeploy.pk, status),
        actor=redeploy.requested_by,
        occurred_at=_observed_at(service, at, now),
        details={
            "redeploy_id": redeploy.pk,
            "kind": redeploy.kind,
            "deploymentId": redeploy.aws_deployment_id,
            "rolled_back": rolled_back
            or (redeploy.is_rollback and status == RedeployStatus.COMPLETED),
            **(
                {"taskDefinition": redeploy.target_task_definition_arn}
                if redeploy.is_rollback
                else {}
            ),
        },
        **service_subjects(service),
    )
    if redeploy.batch_id:
        redeploy_batch_advance(batch_id=redeploy.batch_id)


def _outcome_message(
    redeploy: Redeploy, status: str, error: str, rolled_back: bool
) -> tuple[str, str]:
    """The timeline's words: "rolled back" for a completed rollback and for a
    deployment the circuit breaker undid; "completed" only for what was asked."""
    name = redeploy.service.name
    who = redeploy.requested_by.get_username() if redeploy.requested_by else "system"
    dep = f" (deployment {redeploy.aws_deployment_id})" if redeploy.aws_deployment_id else ""
    what = "Rollback" if redeploy.is_rollback else "Forced redeploy"
    if status == RedeployStatus.COMPLETED and redeploy.is_rollback:
        target = _revision(redeploy.target_task_definition_arn)
        return f"{name} rolled back to {target}{dep} (requested by {who})", EventSeverity.INFO
    if status == RedeployStatus.COMPLETED:
        return f"{what} of {name}{dep} completed (requested by {who})", EventSeverity.INFO
    if rolled_back:  # still a failure of what was asked: an error
        return f"{what} of {name}{dep} failed and was rolled back: {error}", EventSeverity.ERROR
    return f"{what} of {name}{dep} failed: {error}", EventSeverity.ERROR


def _observed_at(service: Service, at: Any, now: Any) -> Any:
    """When the outcome was seen: never before the rollout facts that led to it (the
    service's newest event), even when AWS's clock runs ahead of ours."""
    newest = Event.objects.filter(service_arn=service.arn).aggregate(newest=Max("occurred_at"))[
        "newest"
    ]
    return max(t for t in (now, at, newest) if t is not None)
