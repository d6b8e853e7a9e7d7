"""The clusters list reads each account's newest account-level sync run in a fixed
number of queries, however many runs a week of syncs every 30 s leaves behind."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models.signals import post_init
from django.utils import timezone

from clusters.mirror.selectors import clusters_overview
from clusters.models import AwsAccount, Cluster, SyncRun

pytestmark = pytest.mark.django_db


def _runs(account: AwsAccount, count: int, *, cluster: Cluster | None = None, start=None) -> None:
    start = start or timezone.now() - timedelta(days=7)
    SyncRun.objects.bulk_create(
        SyncRun(
            account=account,
            cluster=cluster,
            status="succeeded",
            started_at=start + timedelta(seconds=30 * i),
        )
        for i in range(count)
    )


def test_newest_account_run_in_three_queries_however_many_are_kept(
    django_assert_num_queries,
) -> None:
    edge = AwsAccount.objects.create(name="edge", regions=["us-east-1"])
    AwsAccount.objects.create(name="quiet", regions=["us-east-1"])
    cluster = Cluster.objects.create(
        account=edge, region="us-east-1", name="plant", arn="arn:aws:ecs:us-east-1:1:cluster/plant"
    )
    _runs(edge, 5)
    with django_assert_num_queries(3):
        few = clusters_overview()
    _runs(edge, 500)
    newest = SyncRun.objects.create(account=edge, status="failed", started_at=timezone.now())
    # Newer still, but a cluster's run: not the account's.
    _runs(edge, 3, cluster=cluster, start=timezone.now() + timedelta(minutes=1))
    loaded: list[SyncRun] = []

    def count(sender: type, instance: SyncRun, **kwargs: object) -> None:
        loaded.append(instance)

    post_init.connect(count, sender=SyncRun)
    try:
        with django_assert_num_queries(3):
            rows = clusters_overview()
    finally:
        post_init.disconnect(count, sender=SyncRun)
    # Only the one run shown is read, not the 500 behind it.
    assert loaded == [newest]
    by_name = {row.account.name: row for row in rows}
    assert by_name["edge"].last_run == newest
    assert by_name["edge"].clusters == [cluster]
    assert by_name["quiet"].last_run is None
    assert [row.account.name for row in few] == ["edge", "quiet"]
