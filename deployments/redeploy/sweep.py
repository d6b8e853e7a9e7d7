"""Recovering redeploys from lost messages and dead workers (run every minute):
send again what never ran, adopt the deployment a killed worker's UpdateService
started (or fail the redeploy when AWS shows none), hand stale in-progress
redeploys back to be followed, and advance batches with free slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from clusters.aws.errors import AwsTransientError
from clusters.core.timeline import dedupe_key, event_record
from clusters.mirror.sync import SyncLockBusy
from clusters.models import EventSource
from deployments.models import Deployment, Redeploy, RedeployBatch, RedeployStatus
from deployments.redeploy.rollout import _finish
from deployments.redeploy.start import (
    STALE_DISPATCH,
    redeploy_batch_advance,
    redeploy_dispatch,
    service_subjects,
)
from deployments.sync import cluster_sync

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
            f"({'rollback' if redeploy.is_rollback else 'forced new deployment'}; the worker "
            "stopped during the call and the deployment "
            f"was found in AWS afterwards: {redeploy.reason})",
            dedupe_key=dedupe_key("deployment", deployment.deployment_id, "started"),
            actor=redeploy.requested_by,
            details={"deploymentId": deployment.deployment_id, "redeploy_id": redeploy.pk},
            **service_subjects(redeploy.service),
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
