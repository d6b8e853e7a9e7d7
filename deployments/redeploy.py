"""Forced redeploys: request (with idempotency and a mid-rollout warning), execute
(UpdateService forceNewDeployment), follow the rollout through the mirror until
it is terminal, and run batches with a concurrency limit.

Every step is idempotent: state moves with conditional UPDATEs, timeline events
carry dedupe keys, so a task that runs twice changes nothing the second time.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.http import HttpRequest
from django.utils import timezone

from clusters.audit import audit_record
from clusters.aws.ecs_actions import ecs_force_new_deployment
from clusters.aws.errors import AwsError, AwsTransientError
from clusters.models import ContainerInstance, Event, EventSeverity, EventSource
from clusters.sync import SyncLockBusy
from clusters.timeline import dedupe_key, event_record

from .models import (
    ACTIVE_STATUSES,
    Deployment,
    Redeploy,
    RedeployBatch,
    RedeployStatus,
    Service,
    Task,
)
from .sync import cluster_sync

logger = logging.getLogger(__name__)

# A second request for the same service inside this window returns the first one
# (double clicks, two operators reacting to the same alert).
IDEMPOTENCY_WINDOW = timedelta(seconds=60)


def _tracking_timeout() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "FLEETDECK_REDEPLOY_TIMEOUT_SECONDS", 3600)))


class RedeployRefused(Exception):
    """The request was not accepted; ``code`` says why (``mid_rollout`` can be
    overridden by confirming)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class RedeployPlan:
    """What a forced redeploy of ``service`` will do, for the confirmation page."""

    service: Service
    running_tasks: list[Task]
    instances: list[ContainerInstance]
    deployments: list[Deployment]  # the live ones (not INACTIVE)
    active_redeploy: Redeploy | None
    minimum_healthy_percent: int
    maximum_percent: int
    circuit_breaker: dict[str, Any] = field(default_factory=dict)

    @property
    def mid_rollout(self) -> bool:
        return len(self.deployments) > 1 or any(
            d.rollout_state == "IN_PROGRESS" for d in self.deployments
        )

    @property
    def min_healthy_tasks(self) -> int:
        return math.ceil(self.service.desired_count * self.minimum_healthy_percent / 100)

    @property
    def max_tasks(self) -> int:
        return math.floor(self.service.desired_count * self.maximum_percent / 100)

    @property
    def extra_tasks(self) -> int:
        """How many new tasks ECS may start before stopping old ones."""
        return max(0, self.max_tasks - self.service.desired_count)


def redeploy_plan(*, service: Service) -> RedeployPlan:
    conf = service.deployment_configuration or {}
    tasks = list(
        Task.objects.filter(service=service, last_status__in=["PENDING", "RUNNING"])
        .select_related("container_instance", "task_definition")
        .order_by("container_instance_id", "id")
    )
    instances = list(
        {
            t.container_instance.pk: t.container_instance for t in tasks if t.container_instance
        }.values()
    )
    return RedeployPlan(
        service=service,
        running_tasks=tasks,
        instances=instances,
        deployments=list(
            service.deployments.exclude(status="INACTIVE").order_by("-created_at_aws", "-id")
        ),
        active_redeploy=service.redeploys.filter(status__in=ACTIVE_STATUSES).first(),
        minimum_healthy_percent=int(conf.get("minimumHealthyPercent", 100)),
        maximum_percent=int(conf.get("maximumPercent", 200)),
        circuit_breaker=dict(conf.get("deploymentCircuitBreaker") or {}),
    )


@dataclass(frozen=True)
class RedeployResult:
    redeploy: Redeploy
    created: bool  # False: an existing redeploy answered this request (idempotency)


def _existing(service: Service, key: str) -> Redeploy | None:
    recent = timezone.now() - IDEMPOTENCY_WINDOW
    return (
        Redeploy.objects.filter(service=service)
        .filter(
            Q(idempotency_key=key)
            | Q(status__in=ACTIVE_STATUSES)
            | Q(created_at__gte=recent, status=RedeployStatus.COMPLETED)
        )
        .order_by("-created_at", "-id")
        .first()
    )


def _subjects(service: Service) -> dict[str, Any]:
    cluster = service.cluster
    return {
        "account": cluster.account.name,
        "region": cluster.region,
        "cluster_arn": cluster.arn,
        "service_arn": service.arn,
    }


def service_force_redeploy(
    *,
    service_id: int,
    actor: Any,
    reason: str,
    request: HttpRequest | None = None,
    idempotency_key: str = "",
    confirm_mid_rollout: bool = False,
    batch: RedeployBatch | None = None,
    retry_of: Redeploy | None = None,
    dispatch: bool = True,
) -> RedeployResult:
    """Ask for a forced new deployment of a service.

    Returns the existing redeploy instead of starting a second one when the same
    form is submitted twice (``idempotency_key``), when one is still queued or in
    progress, or when one completed within the last minute. Refuses a service that
    is mid-rollout unless ``confirm_mid_rollout``. Audited; the AWS call happens in
    a Celery task after the transaction commits.
    """
    reason = reason.strip()
    if not reason:
        raise RedeployRefused("reason", "Say why you are redeploying (it goes in the audit log).")
    service = (
        Service.objects.select_related("cluster__account")
        .filter(pk=service_id, gone_at__isnull=True)
        .first()
    )
    if service is None:
        raise RedeployRefused("missing", "This service is gone; there is nothing to redeploy.")
    key = (idempotency_key or uuid.uuid4().hex)[:64]
    existing = _existing(service, key)
    if existing is not None:
        return RedeployResult(redeploy=existing, created=False)
    plan = redeploy_plan(service=service)
    if plan.mid_rollout and not confirm_mid_rollout:
        raise RedeployRefused(
            "mid_rollout",
            f"{service.name} is in the middle of a rollout; a forced redeploy replaces it. "
            "Confirm to redeploy anyway.",
        )
    user = actor if actor is not None and actor.is_authenticated else None
    try:
        with transaction.atomic():
            redeploy = Redeploy.objects.create(
                service=service,
                requested_by=user,
                reason=reason,
                idempotency_key=key,
                batch=batch,
                retry_of=retry_of,
            )
    except IntegrityError:
        # Another request won the race; the database kept exactly one.
        existing = _existing(service, key)
        if existing is None:
            raise
        return RedeployResult(redeploy=existing, created=False)
    verb = "retried a forced redeploy of" if retry_of else "forced a new deployment of"
    audit_record(
        actor=actor,
        action="service.force_redeploy",
        message=f"{user.get_username() if user else 'system'} {verb} {service.name}: {reason}",
        request=request,
        object_type="service",
        object_id=str(service.pk),
        details={
            "redeploy_id": redeploy.pk,
            "reason": reason,
            "mid_rollout": plan.mid_rollout,
            "batch_id": batch.pk if batch else None,
            "retry_of": retry_of.pk if retry_of else None,
        },
        **_subjects(service),
    )
    if dispatch:
        redeploy_dispatch(redeploy_id=redeploy.pk)
    return RedeployResult(redeploy=redeploy, created=True)


def redeploy_dispatch(*, redeploy_id: int) -> bool:
    """Hand a queued redeploy to a worker once (after the transaction commits)."""
    won = Redeploy.objects.filter(
        pk=redeploy_id, status=RedeployStatus.QUEUED, dispatched_at__isnull=True
    ).update(dispatched_at=timezone.now())
    if won:
        transaction.on_commit(lambda: _enqueue_execute(redeploy_id))
    return bool(won)


def _enqueue_execute(redeploy_id: int) -> None:
    from .redeploy_tasks import redeploy_execute_task

    try:
        redeploy_execute_task.delay(redeploy_id)
    except Exception:  # the broker is down: the periodic sweep dispatches it again
        logger.exception("could not enqueue redeploy %s; the sweep will retry", redeploy_id)
        # Mark it as not sent: stale at once, so the first sweep after the broker
        # returns sends it (no manual step), and the page can say it is waiting.
        Redeploy.objects.filter(pk=redeploy_id, status=RedeployStatus.QUEUED).update(
            dispatched_at=timezone.now() - STALE_DISPATCH - timedelta(seconds=1)
        )


def redeploy_not_sent(redeploy: Redeploy) -> bool:
    """Queued but its message could not be handed to the broker (yet)."""
    return (
        redeploy.status == RedeployStatus.QUEUED
        and redeploy.dispatched_at is not None
        and redeploy.dispatched_at < timezone.now() - STALE_DISPATCH
    )


def redeploy_retry(
    *, redeploy_id: int, actor: Any, request: HttpRequest | None = None
) -> RedeployResult:
    """Try a failed redeploy again: a new Redeploy linked to the failed one."""
    failed = Redeploy.objects.filter(pk=redeploy_id).first()
    if failed is None or failed.status != RedeployStatus.FAILED:
        raise RedeployRefused("not_failed", "Only a failed redeploy can be retried.")
    return service_force_redeploy(
        service_id=failed.service_id,
        actor=actor,
        reason=failed.reason,
        request=request,
        idempotency_key=f"retry-{failed.pk}",
        confirm_mid_rollout=True,
        retry_of=failed,
    )


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
    redeploy when its deployment is terminal. Returns the redeploy."""
    redeploy = (
        Redeploy.objects.select_related("service__cluster__account", "requested_by")
        .filter(pk=redeploy_id)
        .first()
    )
    if redeploy is None or redeploy.status != RedeployStatus.IN_PROGRESS:
        return redeploy
    Redeploy.objects.filter(pk=redeploy.pk).update(checked_at=timezone.now())
    if sync and _sync_due(redeploy.service.cluster.last_sync_at):
        try:
            cluster_sync(cluster_id=redeploy.service.cluster_id)
        except SyncLockBusy:
            pass  # another sync is writing the same rows right now; read what is there
        except AwsTransientError:
            pass  # throttled or unreachable: the next round reads it
    deployment = Deployment.objects.filter(deployment_id=redeploy.aws_deployment_id).first()
    if deployment is not None and redeploy.deployment_id != deployment.pk:
        Redeploy.objects.filter(pk=redeploy.pk).update(deployment=deployment)
        redeploy.deployment = deployment
    if deployment is not None and deployment.is_terminal:
        if deployment.rollout_state == "COMPLETED":
            _finish(redeploy, RedeployStatus.COMPLETED, at=deployment.updated_at_aws)
        else:
            _finish(
                redeploy,
                RedeployStatus.FAILED,
                error=_failure_reason(redeploy, deployment),
                at=deployment.updated_at_aws,
            )
    elif redeploy.requested_at and timezone.now() - redeploy.requested_at > _tracking_timeout():
        _finish(
            redeploy,
            RedeployStatus.FAILED,
            error=f"The rollout did not finish within {_tracking_timeout()}; stopped following it.",
        )
    redeploy.refresh_from_db()
    return redeploy


def _sync_due(last_sync_at: Any) -> bool:
    """Several redeploys in one cluster (a batch) share a sync: skip it when the
    cluster was synced within the last FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS."""
    gap = timedelta(seconds=float(getattr(settings, "FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS", 2)))
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


# --- batches ---------------------------------------------------------------
@dataclass
class BatchResult:
    batch: RedeployBatch
    started: list[Redeploy]
    skipped: list[tuple[Service, str]]  # and why


def redeploy_batch_start(
    *,
    service_ids: list[int],
    actor: Any,
    reason: str,
    concurrency: int,
    request: HttpRequest | None = None,
    confirm_mid_rollout: bool = False,
    cluster_id: int | None = None,
) -> BatchResult:
    """Redeploy several services, at most ``concurrency`` at a time; each one is a
    Redeploy of its own (audited, tracked, retryable)."""
    reason = reason.strip()
    if not reason:
        raise RedeployRefused("reason", "Say why you are redeploying (it goes in the audit log).")
    if not service_ids:
        raise RedeployRefused("empty", "Select at least one service.")
    concurrency = max(1, min(int(concurrency), 20))
    user = actor if actor is not None and actor.is_authenticated else None
    batch = RedeployBatch.objects.create(
        cluster_id=cluster_id, requested_by=user, reason=reason, concurrency=concurrency
    )
    started: list[Redeploy] = []
    skipped: list[tuple[Service, str]] = []
    services = Service.objects.filter(pk__in=service_ids).select_related("cluster__account")
    for service in services.order_by("name", "id"):
        try:
            result = service_force_redeploy(
                service_id=service.pk,
                actor=actor,
                reason=reason,
                request=request,
                idempotency_key=f"batch-{batch.pk}-{service.pk}",
                confirm_mid_rollout=confirm_mid_rollout,
                batch=batch,
                dispatch=False,
            )
        except RedeployRefused as exc:
            skipped.append((service, exc.message))
            continue
        if result.created:
            started.append(result.redeploy)
        else:
            skipped.append((service, "a redeploy of it is already running or just completed"))
    audit_record(
        actor=actor,
        action="redeploy.batch",
        message=f"{user.get_username() if user else 'system'} started a batch redeploy of "
        f"{len(started)} service(s), {concurrency} at a time: {reason}",
        request=request,
        object_type="redeploy_batch",
        object_id=str(batch.pk),
        details={
            "batch_id": batch.pk,
            "services": [r.service_id for r in started],
            "skipped": [s.pk for s, _ in skipped],
        },
        timeline=False,  # each service's redeploy is on the timeline already
    )
    redeploy_batch_advance(batch_id=batch.pk)
    return BatchResult(batch=batch, started=started, skipped=skipped)


def redeploy_batch_advance(*, batch_id: int) -> int:
    """Dispatch queued redeploys of a batch while fewer than ``concurrency`` run.
    Returns how many were dispatched; closes the batch when all are terminal."""
    batch = RedeployBatch.objects.filter(pk=batch_id).first()
    if batch is None:
        return 0
    members = batch.redeploys.all()
    running = members.filter(status__in=ACTIVE_STATUSES, dispatched_at__isnull=False).count()
    waiting = list(
        members.filter(status=RedeployStatus.QUEUED, dispatched_at__isnull=True)
        .order_by("id")
        .values_list("pk", flat=True)[: max(0, batch.concurrency - running)]
    )
    dispatched = sum(redeploy_dispatch(redeploy_id=pk) for pk in waiting)
    if not members.filter(status__in=ACTIVE_STATUSES).exists() and batch.finished_at is None:
        RedeployBatch.objects.filter(pk=batch.pk, finished_at__isnull=True).update(
            finished_at=timezone.now()
        )
    return dispatched


# --- recovery --------------------------------------------------------------
STALE_DISPATCH = timedelta(minutes=2)
STALE_REQUEST = timedelta(minutes=5)
STALE_TRACKING = timedelta(minutes=1)


@dataclass(frozen=True)
class SweepResult:
    redispatched: list[int]
    lost: list[int]  # the worker died during UpdateService: failed, retryable
    to_track: list[int]  # in progress, but nobody looked for a while


def _adopt_started_deployment(redeploy: Redeploy) -> bool:
    """A worker died while UpdateService was in flight: ask AWS (through the
    cluster's sync) whether a deployment of the service started since the call.
    If one did, the redeploy follows it instead of failing or calling again, so
    the redeploy happens exactly once."""
    try:
        cluster_sync(cluster_id=redeploy.service.cluster_id)
    except (SyncLockBusy, AwsTransientError):
        return False  # cannot tell yet; the next sweep looks again
    # Created after this redeploy was (a little clock skew allowed), never seen by
    # the mirror before it, and not another redeploy's.
    since = redeploy.created_at - timedelta(seconds=5)
    others = Redeploy.objects.exclude(pk=redeploy.pk).values("aws_deployment_id")
    deployment = (
        Deployment.objects.filter(service=redeploy.service, created_at_aws__gte=since)
        .exclude(first_seen_at__lt=redeploy.created_at)
        .exclude(deployment_id__in=others)
        .order_by("created_at_aws")
        .first()
    )
    if deployment is None:
        return False
    won = Redeploy.objects.filter(pk=redeploy.pk, status=RedeployStatus.REQUESTED).update(
        status=RedeployStatus.IN_PROGRESS,
        aws_deployment_id=deployment.deployment_id,
        deployment=deployment,
        requested_at=deployment.created_at_aws,
        checked_at=None,
    )
    if won:
        event_record(
            source=EventSource.DEPLOYMENT,
            message=f"Deployment {deployment.deployment_id} of {redeploy.service.name} started "
            f"(forced new deployment; the worker stopped during the call and the deployment "
            f"was found in AWS afterwards: {redeploy.reason})",
            dedupe_key=dedupe_key("deployment", deployment.deployment_id, "started"),
            actor=redeploy.requested_by,
            details={"deploymentId": deployment.deployment_id, "redeploy_id": redeploy.pk},
            **_subjects(redeploy.service),
        )
    return bool(won)


def redeploys_sweep(*, now: Any = None) -> SweepResult:
    """Recover from lost messages and dead workers (run every minute).

    A queued redeploy whose message never ran is dispatched again (execute is
    idempotent); one stuck in "requested" fails with an explanation (we cannot know
    whether UpdateService ran, so an operator decides to retry); in-progress ones
    nobody checked lately are returned for the task to follow again; batches with
    free slots advance."""
    now = now or timezone.now()
    stale = Redeploy.objects.filter(
        status=RedeployStatus.QUEUED, dispatched_at__lt=now - STALE_DISPATCH
    ).values_list("pk", flat=True)
    redispatched: list[int] = []
    for pk in list(stale):
        Redeploy.objects.filter(pk=pk, status=RedeployStatus.QUEUED).update(dispatched_at=None)
        if redeploy_dispatch(redeploy_id=pk):
            redispatched.append(pk)
    lost: list[int] = []
    adopted: list[int] = []
    for redeploy in Redeploy.objects.filter(
        status=RedeployStatus.REQUESTED, checked_at__lt=now - STALE_REQUEST
    ).select_related("service__cluster__account", "requested_by"):
        if _adopt_started_deployment(redeploy):
            adopted.append(redeploy.pk)
            continue
        _finish(
            redeploy,
            RedeployStatus.FAILED,
            error="The worker stopped while calling UpdateService; whether a deployment "
            "started is unknown. Check the service, then retry.",
        )
        lost.append(redeploy.pk)
    to_track = list(
        Redeploy.objects.filter(status=RedeployStatus.IN_PROGRESS)
        .filter(
            Q(checked_at__lt=now - STALE_TRACKING) | Q(checked_at__isnull=True) | Q(pk__in=adopted)
        )
        .values_list("pk", flat=True)
    )
    for batch_id in RedeployBatch.objects.filter(finished_at__isnull=True).values_list(
        "pk", flat=True
    ):
        redeploy_batch_advance(batch_id=batch_id)
    return SweepResult(redispatched=redispatched, lost=lost, to_track=to_track)
