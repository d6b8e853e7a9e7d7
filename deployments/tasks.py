"""Celery tasks for the AWS mirror: thin wrappers that take ids and call a service."""

from __future__ import annotations

import random

from celery import shared_task
from celery.app.task import Task as CeleryTask
from django.conf import settings

from clusters.aws.errors import AwsTransientError
from clusters.core.jobs import job_enqueue, task_retry
from clusters.core.locks import Lock
from clusters.mirror.sync import SyncLockBusy
from deployments.history import history_prune
from deployments.reconcile import accounts_discover_clusters
from deployments.sync import account_sync, cluster_sync, sync_run_fail

MAX_RETRIES = 4


def _backoff(retries: int) -> float:
    """Exponential backoff with full jitter: 2, 4, 8, 16 s (at most), randomised."""
    return random.uniform(1, 2 ** (retries + 1))


FAN_OUT_LOCK = "aws-sync-fan-out"


@shared_task(name="deployments.tasks.sync_all_accounts", ignore_result=True)
def sync_all_accounts() -> int:
    """Periodic fan-out (and once when a worker starts): one ``sync_cluster`` per live
    cluster of every enabled account.

    Two fan-outs within half a sync interval are one: a worker's start and beat's first
    tick, or several workers starting together, would otherwise sync every cluster
    twice in a row. The lock is taken and left to expire, never released."""
    ttl = max(1, settings.FLEETDECK_SYNC_INTERVAL_SECONDS // 2)
    if not Lock(FAN_OUT_LOCK, ttl=ttl).acquire():
        return 0
    ids = accounts_discover_clusters()
    for cluster_id in ids:
        job_enqueue("deployments.tasks.sync_cluster", cluster_id)
    return len(ids)


@shared_task(
    bind=True, name="deployments.tasks.sync_cluster", ignore_result=True, max_retries=MAX_RETRIES
)
def sync_cluster(self: CeleryTask, cluster_id: int, run_id: int | None = None) -> None:
    final = self.request.retries >= MAX_RETRIES
    try:
        # Without a run (the periodic fan-out's) it may be a light reconcile; a user's
        # "Sync now" (with its run) is always a full sync.
        cluster_sync(cluster_id=cluster_id, run_id=run_id, final=final, reconcile=run_id is None)
    except SyncLockBusy:
        # A periodic sync simply skips; a "Sync now" run waits its turn.
        if run_id is not None and not final:
            task_retry(self, countdown=_backoff(self.request.retries))
    except AwsTransientError as exc:
        if final:
            return  # recorded on the run and the cluster; the next period tries again
        run_id = exc.sync_run_id or run_id
        task_retry(
            self, args=(cluster_id, run_id), exc=exc, countdown=_backoff(self.request.retries)
        )


@shared_task(
    bind=True, name="deployments.tasks.sync_account", ignore_result=True, max_retries=MAX_RETRIES
)
def sync_account(self: CeleryTask, account_id: int, run_id: int | None = None) -> None:
    try:
        account_sync(account_id=account_id, run_id=run_id)
    except AwsTransientError as exc:
        if self.request.retries >= MAX_RETRIES:
            if run_id is not None:
                sync_run_fail(run_id=run_id, message=str(exc))
            return
        task_retry(self, exc=exc, countdown=_backoff(self.request.retries))


@shared_task(name="deployments.tasks.prune_history", ignore_result=True)
def prune_history() -> dict[str, int]:
    return history_prune()
