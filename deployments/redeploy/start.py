"""Asking for forced redeploys: the plan shown before confirming, the request
(idempotent, with a mid-rollout warning, audited), retries of a failed one,
batches with a concurrency limit, and handing each queued redeploy to a worker
once. Nothing here calls AWS; that is ``rollout``'s job, in a Celery task.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from clusters.core.audit import audit_record
from clusters.core.jobs import job_enqueue, job_refused
from clusters.models import ContainerInstance
from deployments.models import (
    ACTIVE_STATUSES,
    Deployment,
    Redeploy,
    RedeployBatch,
    RedeployKind,
    RedeployStatus,
    Service,
    Task,
)

# A second request for the same service inside this window returns the first one
# (double clicks, two operators reacting to the same alert).
IDEMPOTENCY_WINDOW = timedelta(seconds=60)

# A queued redeploy whose message has not run this long after it was handed to the
# broker counts as lost: the sweep (``sweep.redeploys_sweep``) sends it again.
STALE_DISPATCH = timedelta(minutes=2)
EXECUTE_TASK = "deployments.redeploy.tasks.execute"


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
    # The service's newest deployment when its rollout FAILED: forcing a new
    # deployment re-runs the service's task definition, usually that same revision.
    failed_rollout: Deployment | None = None

    @property
    def reruns_failed_revision(self) -> bool:
        failed = self.failed_rollout
        return failed is not None and (
            failed.task_definition_id is None
            or failed.task_definition_id == self.service.task_definition_id
        )

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
        failed_rollout=_failed_rollout(service),
    )


def _failed_rollout(service: Service) -> Deployment | None:
    newest = (
        service.deployments.select_related("task_definition")
        .order_by("-created_at_aws", "-id")
        .first()
    )
    return newest if newest is not None and newest.rollout_state == "FAILED" else None


@dataclass(frozen=True)
class RedeployResult:
    redeploy: Redeploy
    created: bool  # False: an existing redeploy answered this request (idempotency)


def redeploy_existing(
    service: Service, key: str, kind: str = RedeployKind.REDEPLOY
) -> Redeploy | None:
    """The request that answers this one: same form, any live one (of any kind: one
    new deployment at a time), or one of this kind that completed just now."""
    recent = timezone.now() - IDEMPOTENCY_WINDOW
    return (
        Redeploy.objects.filter(service=service)
        .filter(
            Q(idempotency_key=key)
            | Q(status__in=ACTIVE_STATUSES)
            | Q(created_at__gte=recent, status=RedeployStatus.COMPLETED, kind=kind)
        )
        .order_by("-created_at", "-id")
        .first()
    )


def service_subjects(service: Service) -> dict[str, Any]:
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
    reason = _reason_required(reason)
    service = (
        Service.objects.select_related("cluster__account")
        .filter(pk=service_id, gone_at__isnull=True)
        .first()
    )
    if service is None:
        raise RedeployRefused("missing", "This service is gone; there is nothing to redeploy.")
    key = (idempotency_key or uuid.uuid4().hex)[:64]
    existing = redeploy_existing(service, key)
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
    fields = {"requested_by": user, "reason": reason, "batch": batch, "retry_of": retry_of}
    result = redeploy_create(service, key, fields)
    if not result.created:
        return result
    _redeploy_audit(result.redeploy, actor=actor, request=request, mid_rollout=plan.mid_rollout)
    if dispatch:
        redeploy_dispatch(redeploy_id=result.redeploy.pk)
    return result


def _reason_required(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise RedeployRefused("reason", "Say why you are redeploying (it goes in the audit log).")
    return reason


def redeploy_create(service: Service, key: str, fields: dict[str, Any]) -> RedeployResult:
    try:
        with transaction.atomic():
            redeploy = Redeploy.objects.create(service=service, idempotency_key=key, **fields)
    except IntegrityError:
        # Another request won the race; the database kept exactly one.
        existing = redeploy_existing(service, key, fields.get("kind", RedeployKind.REDEPLOY))
        if existing is None:
            raise
        return RedeployResult(redeploy=existing, created=False)
    return RedeployResult(redeploy=redeploy, created=True)


def _redeploy_audit(
    redeploy: Redeploy, *, actor: Any, request: HttpRequest | None, mid_rollout: bool
) -> None:
    service, user = redeploy.service, redeploy.requested_by
    batch_id, retry_of_id = redeploy.batch_id, redeploy.retry_of_id
    verb = "retried a forced redeploy of" if retry_of_id else "forced a new deployment of"
    audit_record(
        actor=actor,
        action="service.force_redeploy",
        message=f"{_username(user)} {verb} {service.name}: {redeploy.reason}",
        request=request,
        object_type="service",
        object_id=str(service.pk),
        details={
            "redeploy_id": redeploy.pk,
            "reason": redeploy.reason,
            "mid_rollout": mid_rollout,
            "batch_id": batch_id,
            "retry_of": retry_of_id,
        },
        **service_subjects(service),
    )


def _username(user: Any) -> str:
    return user.get_username() if user is not None else "system"


def redeploy_dispatch(*, redeploy_id: int) -> bool:
    """Hand a queued redeploy to a worker once (through the outbox: after commit, and
    resent by its sweep if the broker refuses it)."""
    won = Redeploy.objects.filter(
        pk=redeploy_id, status=RedeployStatus.QUEUED, dispatched_at__isnull=True
    ).update(dispatched_at=timezone.now())
    if won:
        job_enqueue(EXECUTE_TASK, redeploy_id)
    return bool(won)


def redeploy_not_sent(redeploy: Redeploy) -> bool:
    """Queued, but its message is still waiting for the broker."""
    return redeploy.status == RedeployStatus.QUEUED and job_refused(EXECUTE_TASK, redeploy.pk)


def redeploy_retry(
    *, redeploy_id: int, actor: Any, request: HttpRequest | None = None
) -> RedeployResult:
    """Try a failed redeploy again: a new Redeploy linked to the failed one."""
    failed = Redeploy.objects.filter(pk=redeploy_id).first()
    if failed is None or failed.status != RedeployStatus.FAILED or failed.is_rollback:
        raise RedeployRefused("not_failed", "Only a failed forced redeploy can be retried.")
    return service_force_redeploy(
        service_id=failed.service_id,
        actor=actor,
        reason=failed.reason,
        request=request,
        idempotency_key=f"retry-{failed.pk}",
        confirm_mid_rollout=True,
        retry_of=failed,
    )


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
    reason = _reason_required(reason)
    if not service_ids:
        raise RedeployRefused("empty", "Select at least one service.")
    concurrency = max(1, min(int(concurrency), 20))
    user = actor if actor is not None and actor.is_authenticated else None
    batch = RedeployBatch.objects.create(
        cluster_id=cluster_id, requested_by=user, reason=reason, concurrency=concurrency
    )
    result = BatchResult(batch=batch, started=[], skipped=[])
    services = Service.objects.filter(pk__in=service_ids).select_related("cluster__account")
    for service in services.order_by("name", "id"):
        try:
            one = service_force_redeploy(
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
            result.skipped.append((service, exc.message))
            continue
        if one.created:
            result.started.append(one.redeploy)
        else:
            result.skipped.append(
                (service, "a redeploy of it is already running or just completed")
            )
    _batch_audit(result, actor=actor, request=request)
    redeploy_batch_advance(batch_id=batch.pk)
    return result


def _batch_audit(result: BatchResult, *, actor: Any, request: HttpRequest | None) -> None:
    batch = result.batch
    audit_record(
        actor=actor,
        action="redeploy.batch",
        message=f"{_username(batch.requested_by)} started a batch redeploy of "
        f"{len(result.started)} service(s), {batch.concurrency} at a time: {batch.reason}",
        request=request,
        object_type="redeploy_batch",
        object_id=str(batch.pk),
        details={
            "batch_id": batch.pk,
            "services": [r.service_id for r in result.started],
            "skipped": [s.pk for s, _ in result.skipped],
        },
        timeline=False,  # each service's redeploy is on the timeline already
    )


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
