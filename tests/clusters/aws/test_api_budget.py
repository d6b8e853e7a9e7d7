"""The API budget of clusters.aws: every request of every adapter client takes from
its (account, Region) bucket, sized below ECS's documented throttling, and a sync
records how long it waited.
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse

from clusters.aws.budget import bucket_for, waited_ms
from clusters.aws.session import aws_client, clients_forget
from clusters.models import AwsAccount, SyncRun
from deployments.sync import account_sync
from tests.ecs_seed import seed_external_fleet

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(sandbox: Any) -> AwsAccount:
    clients_forget()
    return AwsAccount.objects.create(
        name="budget", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )


def test_buckets_follow_ecs_categories_below_the_documented_rates() -> None:
    """DescribeTasks and ListTasks share "cluster resource read" (100 / 20 per s documented),
    DescribeServices "service read" (100 / 20), ListClusters "cluster read" (50 / 20); the
    budget takes 80 % of each; an override replaces a bucket's sizes."""
    assert bucket_for("ecs", "DescribeTasks") == ("ecs:cluster-resource-read", 80.0, 16.0)
    assert bucket_for("ecs", "ListTasks")[0] == "ecs:cluster-resource-read"
    assert bucket_for("ecs", "DescribeServices") == ("ecs:service-read", 80.0, 16.0)
    assert bucket_for("ecs", "ListClusters") == ("ecs:cluster-read", 40.0, 16.0)
    assert bucket_for("ecs", "UpdateService") == ("ecs:service-modify", 40.0, 4.0)
    assert bucket_for("ssm", "DescribeInstanceInformation")[0] == "ssm"
    with override_settings(FLEETDECK_API_BUDGET_OVERRIDES={"ecs:service-read": (10, 2)}):
        assert bucket_for("ecs", "ListServices") == ("ecs:service-read", 10.0, 2.0)
    with override_settings(FLEETDECK_API_BUDGET_PERCENT=50):
        assert bucket_for("ecs", "DescribeTasks") == ("ecs:cluster-resource-read", 50.0, 10.0)


@override_settings(
    FLEETDECK_API_BUDGET=True,
    FLEETDECK_API_BUDGET_OVERRIDES={"ecs:cluster-read": (2, 2), "ssm": (1, 2)},
)
def test_every_client_waits_for_its_budget(account: AwsAccount) -> None:
    """Six ListClusters from two separate clients of the account share one bucket of 2
    refilled 2/s: the four beyond the burst wait up to 2 s in all. SSM has its own."""
    first = aws_client(account=account, region="us-east-1", service="ecs", fresh=True)
    second = aws_client(account=account, region="us-east-1", service="ecs", fresh=True)
    for _ in range(3):
        first.list_clusters()
        second.list_clusters()
    # 2 s less what refilled while the calls themselves ran.
    assert 1000 <= waited_ms(first) + waited_ms(second) <= 2100
    ssm = aws_client(account=account, region="us-east-1", service="ssm", fresh=True)
    ssm.describe_activations()
    ssm.describe_activations()
    assert 200 <= waited_ms(ssm) <= 600


def test_without_the_budget_nothing_waits(account: AwsAccount) -> None:
    """The test settings turn it off (FLEETDECK_API_BUDGET=0): no call waits."""
    ecs = aws_client(account=account, region="us-east-1", service="ecs", fresh=True)
    for _ in range(60):
        ecs.list_clusters()
    assert waited_ms(ecs) == 0


def test_four_workers_under_the_budget_are_never_throttled(
    account: AwsAccount, sandbox: Any
) -> None:
    """The sandbox throttling like ECS at a fifth of the documented rates (cluster read: 10,
    4/s); four threads with their own clients, 6 calls each, under a budget of 80 % of that:
    not one ThrottlingException, and the waits add up to at least (24 - 8) / 3.2 s."""
    sandbox.client.throttle(enabled=True, scale=0.2)
    clients = [
        aws_client(account=account, region="us-east-1", service="ecs", fresh=True, max_attempts=1)
        for _ in range(4)
    ]

    def work(client: Any) -> None:
        for _ in range(6):
            client.list_clusters()

    with override_settings(
        FLEETDECK_API_BUDGET=True, FLEETDECK_API_BUDGET_OVERRIDES={"ecs:cluster-read": (8, 3.2)}
    ):
        threads = [threading.Thread(target=work, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    state = sandbox.client.throttle_state()
    assert state["throttled"] == 0 and state["admitted"] == 24
    assert sum(waited_ms(c) for c in clients) >= 4000


def test_waits_are_recorded_on_the_sync_run(
    account: AwsAccount, sandbox: Any, viewer_client: Any
) -> None:
    """A sync under a small budget records its waits on the account's run and on each
    cluster's run, and the run's fragment says so."""
    seed_external_fleet(sandbox, cluster="edge", instances=2, services=2, tasks_per_service=2)
    overrides = {"ecs:cluster-resource-read": (1, 20), "ecs:service-read": (1, 20)}
    with override_settings(FLEETDECK_API_BUDGET=True, FLEETDECK_API_BUDGET_OVERRIDES=overrides):
        run = account_sync(account_id=account.pk)
    assert run is not None and run.status == "succeeded", run.errors if run else None
    run.refresh_from_db()
    assert run.budget_wait_ms > 0
    cluster_run = SyncRun.objects.filter(cluster__isnull=False).get()
    assert 0 < cluster_run.budget_wait_ms <= run.budget_wait_ms
    page = viewer_client.get(reverse("deployments:sync-run", args=[cluster_run.pk]))
    assert page.status_code == 200
    assert b"for the API budget" in page.content
