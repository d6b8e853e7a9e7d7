"""First run: a starting worker syncs every enabled account at once (worker_ready,
through the outbox), not after beat's first interval; never twice in a row."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from clusters.aws.session import clients_forget
from clusters.models import AwsAccount, Cluster, QueuedJob, SyncRun
from console.celery import app
from deployments.models import Service
from tests.ecs_seed import seed_external_fleet
from tests.peers import celery_worker_process, wait_until

FAN_OUT = "deployments.tasks.sync_all_accounts"


def _account(sandbox: Any, name: str) -> AwsAccount:
    return AwsAccount.objects.create(
        name=name, regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )


@pytest.mark.django_db(transaction=True)
def test_a_starting_worker_syncs_every_enabled_account_at_once(
    sandbox: Any, redis_url: str, tmp_path: Any
) -> None:
    seed_external_fleet(sandbox, cluster="first", instances=1, services=1, tasks_per_service=1)
    clients_forget()
    _account(sandbox, "first-run")
    assert not Cluster.objects.exists()  # never synced: nothing to show yet
    log = tmp_path / "worker.log"
    # Nothing is sent to the worker: the sync comes from its start alone. The beat
    # interval is long, so only the start can explain it.
    env = {"REDIS_URL": redis_url, "FLEETDECK_SYNC_ON_START": "1"}
    with celery_worker_process({**env, "FLEETDECK_SYNC_INTERVAL_SECONDS": "600"}, log_path=log):
        try:
            wait_until(
                lambda: SyncRun.objects.filter(cluster__name="first", status="succeeded").exists(),
                timeout=90,
                interval=0.5,
            )
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
    assert Service.objects.filter(cluster__name="first").count() == 1
    # through the outbox, sent once; one sync of the cluster, not two
    job = QueuedJob.objects.get(task_name=FAN_OUT)
    assert job.sent_at is not None
    assert SyncRun.objects.filter(cluster__name="first").count() == 1


@pytest.mark.django_db(transaction=True)
def test_no_sync_on_start_when_turned_off(redis_url: str, tmp_path: Any) -> None:
    log = tmp_path / "worker.log"
    env = {"REDIS_URL": redis_url, "FLEETDECK_SYNC_ON_START": "0"}
    with celery_worker_process(env, log_path=log):
        wait_until(lambda: "ready" in log.read_text(), timeout=60, interval=0.5)
    assert not QueuedJob.objects.filter(task_name=FAN_OUT).exists()


@pytest.fixture
def eager() -> Iterator[None]:
    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = old


@pytest.mark.django_db
def test_two_fan_outs_in_a_row_sync_each_cluster_once(
    sandbox: Any, eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    """A worker's start and beat's first tick (or two workers starting) together: the
    second fan-out finds the first one's lock and queues nothing."""
    seed_external_fleet(sandbox, cluster="twice", instances=1, services=1, tasks_per_service=1)
    clients_forget()
    _account(sandbox, "twice")
    from deployments.tasks import sync_all_accounts

    with django_capture_on_commit_callbacks(execute=True):
        assert sync_all_accounts() == 1
        assert sync_all_accounts() == 0
    assert SyncRun.objects.filter(cluster__name="twice", status="succeeded").count() == 1
    assert QueuedJob.objects.filter(task_name="deployments.tasks.sync_cluster").count() == 1
