"""In stream mode the periodic sync is a light reconcile: it lists the RUNNING tasks and
describes only where the listing and the mirror disagree, and is full again once the
last full sync is FLEETDECK_RECONCILE_FULL_SECONDS old. No follower runs here: the
changes below reach the mirror only through the reconcile, as lost events would."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from clusters.mirror.sync import sync_run_start
from clusters.models import AwsAccount, Cluster, EventStream, SyncRun
from deployments.models import Service, Task
from deployments.sync import cluster_sync
from deployments.tasks import sync_cluster

pytestmark = pytest.mark.django_db


@pytest.fixture
def healthy(streamed: AwsAccount) -> Cluster:
    """The account in stream mode (its follower polled just now), after one full sync."""
    EventStream.objects.update(last_poll_at=timezone.now(), last_poll_ok=True, dlq_depth=0)
    return Cluster.objects.get(name="edge")


def _reconcile(cluster: Cluster) -> SyncRun:
    run = cluster_sync(cluster_id=cluster.pk, reconcile=True)
    assert run is not None and run.status == "succeeded", run and run.errors
    return run


def _mirror() -> set[tuple[Any, ...]]:
    fields = ("arn", "last_status", "desired_status", "version", "stop_code", "gone_at")
    return set(Task.objects.values_list(*fields))


def test_a_quiet_fleets_light_reconcile_describes_no_task(healthy: Cluster, sandbox: Any) -> None:
    sandbox.client.reset_request_counts()
    run = _reconcile(healthy)
    calls = sandbox.client.request_counts()
    assert run.light
    assert "ecs:DescribeTasks" not in calls and "ecs:DescribeServices" not in calls, calls
    assert calls.get("ecs:ListTasks") == 1, "the RUNNING listing only: " + str(calls)
    assert run.created_count + run.updated_count + run.gone_count == 0


def test_a_light_reconcile_finds_a_lost_stop_and_its_replacement(
    healthy: Cluster, sandbox: Any
) -> None:
    stopped = Task.objects.filter(last_status="RUNNING").order_by("arn").first()
    assert stopped is not None
    sandbox.client.stop_task(stopped.arn, exit_code=1, reason="lost event")
    sandbox.client.tick(2)  # the service starts a replacement
    sandbox.client.reset_request_counts()
    run = _reconcile(healthy)
    calls = sandbox.client.request_counts()
    assert run.light and calls.get("ecs:DescribeTasks") == 1, "both in one describe: " + str(calls)
    stopped.refresh_from_db()
    assert stopped.last_status == "STOPPED" and stopped.gone_at is None
    assert Task.objects.filter(last_status="RUNNING").count() == 6, "the replacement is in"
    after_light = _mirror()
    full = cluster_sync(cluster_id=healthy.pk)
    assert full is not None and not full.light
    assert _mirror() == after_light, "a full sync finds what the light one left equal to AWS"


def test_the_reconcile_is_full_once_the_last_full_sync_is_old(
    healthy: Cluster, settings: Any
) -> None:
    settings.FLEETDECK_RECONCILE_FULL_SECONDS = 3600
    assert _reconcile(healthy).light
    SyncRun.objects.update(finished_at=timezone.now() - timedelta(seconds=3601))
    assert not _reconcile(healthy).light, "an hour since the last full sync"
    assert _reconcile(healthy).light


def test_polling_mode_and_sync_now_are_always_full(healthy: Cluster) -> None:
    sync_cluster(healthy.pk)  # the periodic task, as beat's fan-out queues it
    assert SyncRun.objects.filter(cluster=healthy).first().light  # type: ignore[union-attr]
    run = sync_run_start(account=healthy.account, cluster=healthy)
    sync_cluster(healthy.pk, run.pk)  # a user's "Sync now"
    run.refresh_from_db()
    assert run.status == "succeeded" and not run.light
    EventStream.objects.update(last_poll_ok=False, last_poll_error="AccessDenied")
    assert not _reconcile(healthy).light, "polling mode"


def test_a_runs_progress_says_it_was_light(healthy: Cluster, viewer_client: Any) -> None:
    light, full = _reconcile(healthy), cluster_sync(cluster_id=healthy.pk)
    assert full is not None
    page = viewer_client.get(reverse("deployments:sync-run", args=[light.pk]))
    assert page.status_code == 200 and "light reconcile" in page.content.decode()
    page = viewer_client.get(reverse("deployments:sync-run", args=[full.pk]))
    assert page.status_code == 200 and "light reconcile" not in page.content.decode()


def test_a_refresh_the_follower_lost_is_made_by_the_light_reconcile(
    healthy: Cluster, sandbox: Any
) -> None:
    """An event asked for a service's refresh and its follower died before making it:
    the row is stale (here: its desired count) and says the refresh is wanted."""
    service = Service.objects.filter(cluster=healthy).order_by("name").first()
    assert service is not None
    Service.objects.filter(pk=service.pk).update(desired_count=99, refresh_wanted_at=timezone.now())
    sandbox.client.reset_request_counts()
    run = _reconcile(healthy)
    assert run.light
    assert sandbox.client.request_counts().get("ecs:DescribeServices") == 1, "that one only"
    service.refresh_from_db()
    assert service.desired_count == 3 and service.refresh_wanted_at is None
