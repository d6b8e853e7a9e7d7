"""The Celery side: schedules point at registered tasks; the fan-out finds clusters;
a real worker process runs a per-cluster sync."""

from __future__ import annotations

from typing import Any

import pytest
from celery import Celery

from clusters.aws.session import clients_forget
from clusters.models import AwsAccount, Cluster, SyncRun
from deployments.models import Task
from deployments.reconcile import accounts_discover_clusters
from deployments.sync import account_sync
from tests.ecs_seed import seed_external_fleet
from tests.peers import celery_worker_process, wait_until


def test_schedules_name_registered_tasks() -> None:
    from console.celery import _app_schedules, app

    app.loader.import_default_modules()
    schedules = _app_schedules()
    assert schedules["aws-sync-all"]["task"] == "deployments.tasks.sync_all_accounts"
    assert schedules["prune-history"]["task"] == "deployments.tasks.prune_history"
    for name in ("deployments.tasks.sync_cluster", "deployments.tasks.sync_account"):
        assert name in app.tasks


@pytest.mark.django_db
def test_fan_out_discovers_live_clusters_of_enabled_accounts(sandbox: Any) -> None:
    seed_external_fleet(sandbox, cluster="a", instances=1, services=1, tasks_per_service=1)
    clients_forget()
    AwsAccount.objects.create(
        name="on", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )
    AwsAccount.objects.create(
        name="off",
        regions=["us-east-1"],
        auth_mode="endpoint",
        endpoint_url="http://x",
        enabled=False,
    )
    ids = accounts_discover_clusters()
    assert list(Cluster.objects.filter(pk__in=ids).values_list("name", flat=True)) == ["a"]


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_cluster_sync(sandbox: Any, redis_url: str, tmp_path: Any) -> None:
    seed_external_fleet(sandbox, cluster="w", instances=2, services=2, tasks_per_service=2)
    clients_forget()
    account = AwsAccount.objects.create(
        name="w", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )
    assert account_sync(account_id=account.pk) is not None
    cluster = Cluster.objects.get(name="w")
    sandbox.client.stop_task(Task.objects.first().arn, exit_code=2)  # type: ignore[union-attr]
    sandbox.client.tick(1)
    run = SyncRun.objects.create(account=account, cluster=cluster, region="us-east-1")
    with celery_worker_process({"REDIS_URL": redis_url}, log_path=tmp_path / "worker.log"):
        client = Celery("t", broker=redis_url, backend=redis_url)
        client.send_task("deployments.tasks.sync_cluster", args=[cluster.pk, run.pk])
        assert wait_until(lambda: SyncRun.objects.get(pk=run.pk).status != "running", timeout=60), (
            tmp_path / "worker.log"
        ).read_text()[-2000:]
    run.refresh_from_db()
    assert run.status == "succeeded" and run.updated_count >= 1
    assert Task.objects.filter(last_status="STOPPED").count() == 1


@pytest.mark.django_db
def test_task_level_retry_continues_the_same_run_after_botocore_gives_up(sandbox: Any) -> None:
    seed_external_fleet(sandbox, cluster="r", instances=1, services=1, tasks_per_service=1)
    clients_forget()
    account = AwsAccount.objects.create(
        name="r", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )
    assert account_sync(account_id=account.pk) is not None
    cluster = Cluster.objects.get(name="r")
    runs_before = SyncRun.objects.count()
    # 5 failures exhaust botocore's 5 attempts; the Celery task retries (eagerly here).
    sandbox.client.set_faults(
        [{"service": "ecs", "operation": "DescribeClusters", "fault": "error500", "count": 5}]
    )
    from deployments.tasks import sync_cluster

    sync_cluster.apply(args=(cluster.pk,))
    assert SyncRun.objects.count() == runs_before + 1
    run = SyncRun.objects.filter(cluster=cluster).first()
    assert run is not None and run.status == "succeeded"
    assert run.phase == "done"
    assert sandbox.client.request_counts()["ecs:DescribeClusters"] >= 6
