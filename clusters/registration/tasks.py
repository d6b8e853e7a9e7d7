"""Celery tasks of the onboarding flow. Thin: ids in, one service call, typed
retries. Schedules live in console/celery.py."""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.db.models import Q

from clusters import registration
from clusters.aws.errors import AwsError, AwsTransientError
from clusters.core.jobs import task_retry
from clusters.core.locks import Lock
from clusters.models import Cluster

log = logging.getLogger(__name__)

# Two scans of the same thing never overlap across processes.
LOCK_SECONDS = 120


@shared_task(
    bind=True,
    name="clusters.registration.tasks.activation_create",
    max_retries=4,
    ignore_result=True,
)
def activation_create_task(self, registration_request_id: int) -> None:  # type: ignore[no-untyped-def]
    try:
        registration.activation_create(registration_request_id=registration_request_id)
    except AwsTransientError as exc:
        if self.request.retries >= self.max_retries:
            registration.activation_create_failed(
                registration_request_id=registration_request_id,
                code=exc.code,
                message=f"{exc.message} (gave up after {self.request.retries + 1} attempts)",
            )
            return
        countdown = min(60, 2 ** (self.request.retries + 1)) + random.uniform(0, 1)
        task_retry(self, exc=exc, countdown=countdown)


@shared_task(
    bind=True,
    name="clusters.registration.tasks.activation_delete",
    max_retries=4,
    ignore_result=True,
)
def activation_delete_task(self, activation_id: int) -> None:  # type: ignore[no-untyped-def]
    """Delete a revoked activation in AWS; throttling and 5xx are retried with backoff."""
    try:
        registration.activation_delete_in_aws(activation_pk=activation_id)
    except AwsTransientError as exc:
        if self.request.retries >= self.max_retries:
            log.warning("giving up deleting activation %s in AWS: %s", activation_id, exc)
            return
        countdown = min(60, 2 ** (self.request.retries + 1)) + random.uniform(0, 1)
        task_retry(self, exc=exc, countdown=countdown)


@shared_task(name="clusters.registration.tasks.activations_refresh_all", ignore_result=True)
def activations_refresh_all() -> None:
    for account, region in registration.activation_scopes():
        with Lock(f"activations:{account.pk}:{region}", ttl=LOCK_SECONDS).held() as got:
            if not got:
                continue
            try:
                registration.activations_refresh(account=account, region=region)
            except AwsError as exc:
                # A failed listing changes nothing; the next run tries again.
                log.warning("activations refresh %s/%s failed: %s", account.pk, region, exc.code)
    try:
        registration.activations_codeless_replace()
    except AwsError as exc:
        log.warning("replacing activations without a code failed: %s", exc.code)


def clusters_to_scan() -> list[Cluster]:
    """Clusters that have (or are about to get) external instances."""
    return list(
        Cluster.objects.filter(gone_at__isnull=True, account__enabled=True)
        .filter(Q(instances__is_external=True) | Q(registration_requests__isnull=False))
        .select_related("account")
        .distinct()
    )


@shared_task(name="clusters.registration.tasks.waiting_room_scan_all", ignore_result=True)
def waiting_room_scan_all() -> None:
    for cluster in clusters_to_scan():
        waiting_room_scan_one(cluster)


def waiting_room_scan_one(cluster: Cluster) -> None:
    with Lock(f"waiting-room:{cluster.pk}", ttl=LOCK_SECONDS).held() as got:
        if not got:
            return
        try:
            registration.waiting_room_scan(cluster=cluster)
        except AwsError as exc:
            log.warning("waiting room scan of cluster %s failed: %s", cluster.pk, exc.code)


@shared_task(name="clusters.registration.tasks.waiting_room_scan", ignore_result=True)
def waiting_room_scan_task(cluster_id: int) -> None:
    cluster = Cluster.objects.select_related("account").filter(pk=cluster_id).first()
    if cluster is not None:
        waiting_room_scan_one(cluster)


def _retry_or_give_up(task, exc: AwsTransientError, give_up) -> None:  # type: ignore[no-untyped-def]
    """Retry a throttled or unreachable AWS call with backoff and jitter; after the
    last attempt, record the failure through ``give_up(error)``."""
    if task.request.retries >= task.max_retries:
        give_up(f"{exc.code}: {exc.message} (gave up after {task.request.retries + 1} attempts)")
        return
    countdown = min(60, 2 ** (task.request.retries + 1)) + random.uniform(0, 1)
    task_retry(task, exc=exc, countdown=countdown)


@shared_task(
    bind=True, name="clusters.registration.tasks.instance_admit", max_retries=4, ignore_result=True
)
def instance_admit_task(self, admission_id: int) -> None:  # type: ignore[no-untyped-def]
    """ADMITTING -> ADMITTED (ACTIVE in ECS). A missing or finished row: nothing."""
    try:
        registration.instance_admit_run(admission_pk=admission_id)
    except AwsTransientError as exc:
        _retry_or_give_up(
            self,
            exc,
            lambda error: registration.instance_decision_failed(
                admission_pk=admission_id, error=error
            ),
        )


@shared_task(
    bind=True, name="clusters.registration.tasks.instance_reject", max_retries=4, ignore_result=True
)
def instance_reject_task(self, admission_id: int) -> None:  # type: ignore[no-untyped-def]
    """REJECTING -> REJECTED (deregistered from ECS and SSM)."""
    try:
        registration.instance_reject_run(admission_pk=admission_id)
    except AwsTransientError as exc:
        _retry_or_give_up(
            self,
            exc,
            lambda error: registration.instance_decision_failed(
                admission_pk=admission_id, error=error
            ),
        )


@shared_task(
    bind=True, name="clusters.registration.tasks.decommission", max_retries=4, ignore_result=True
)
def decommission_task(self, decommission_id: int) -> None:  # type: ignore[no-untyped-def]
    """DECOMMISSIONING -> DONE (drained, deregistered) or FAILED."""
    try:
        registration.decommission_run(decommission_pk=decommission_id)
    except AwsTransientError as exc:
        _retry_or_give_up(
            self,
            exc,
            lambda error: registration.decommission_failed(
                decommission_pk=decommission_id, error=error
            ),
        )
