"""What the periodic sync does: which clusters it syncs, and how deeply.

Without a healthy event stream every cluster is fully synced every
``FLEETDECK_SYNC_INTERVAL_SECONDS``. With one (docs/event-stream.md), the stream keeps
the mirror current and the periodic sync only *reconciles*, every
``FLEETDECK_RECONCILE_SECONDS``; most reconciles are light:

- a **full** sync lists RUNNING and STOPPED tasks and describes every task that is not
  final: the mirror equals AWS afterwards, whatever events were lost;
- a **light** reconcile lists the services and the RUNNING tasks and describes only
  what the listings and the mirror disagree on: services and tasks the mirror does not
  know, live rows the listings no longer name (to learn how they ended) and task rows
  not yet settled (anything but desired and last status RUNNING, with service and
  instance linked). A settled RUNNING task and a listed service are facts the stream
  keeps: their next change comes as an event. The cluster and its instances are
  described as in a full sync (one call per 100 instances).

A cluster is fully synced again once its last full sync is
``FLEETDECK_RECONCILE_FULL_SECONDS`` old (an hour by default), so what only a describe
would catch (a change whose event was lost, a task that started and stopped between
two reconciles, a service setting changed with no deployment) is caught within that
time. On a 2,000-task cluster of 100 services a light reconcile costs about 27 ECS
calls where a full one costs 60 (docs/performance.md, stream).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from clusters.aws.errors import AwsError
from clusters.aws.session import account_discover_id
from clusters.mirror.sync import (
    SyncStats,
    account_clusters_sync,
    account_mark_synced,
    account_reader,
)
from clusters.models import AwsAccount, Cluster, EventStream, SyncRun
from clusters.stream.selectors import account_modes
from clusters.stream.status import account_mode, account_poll_due


def reconcile_is_light(cluster: Cluster) -> bool:
    """Whether a periodic sync of ``cluster`` may be a light reconcile: its account is
    in stream mode and the cluster had a successful full sync within
    ``FLEETDECK_RECONCILE_FULL_SECONDS`` (two small queries)."""
    streams = list(EventStream.objects.filter(account_id=cluster.account_id))
    if not account_mode(cluster.account, streams).is_stream:
        return False
    since = timezone.now() - timedelta(seconds=settings.FLEETDECK_RECONCILE_FULL_SECONDS)
    return SyncRun.objects.filter(
        cluster=cluster, status="succeeded", light=False, finished_at__gte=since
    ).exists()


def accounts_discover_clusters() -> list[int]:
    """For the periodic fan-out: refresh every enabled account's cluster list and
    return the ids of the live clusters to sync. Errors are recorded per account.
    An account whose event stream is healthy is only reconciled, every
    FLEETDECK_RECONCILE_SECONDS (docs/event-stream.md)."""
    ids: list[int] = []
    modes = account_modes()
    for account in AwsAccount.objects.filter(enabled=True):
        mode = modes.get(account.pk)
        if mode is not None and not account_poll_due(account, mode):
            continue  # the event stream keeps it fresh; the reconcile comes later
        ids += _account_live_clusters(account)
    return ids


def _account_live_clusters(account: AwsAccount) -> list[int]:
    """The account's live clusters, its cluster list refreshed (errors recorded)."""
    ids: list[int] = []
    errors: list[str] = []
    for region in account.regions or ["us-east-1"]:
        stats = SyncStats()
        try:
            if not account.account_id:
                account.account_id = account_discover_id(account=account, region=region)
                account.save(update_fields=["account_id"])
            reader = account_reader(account=account, region=region)
            for cluster, _info in account_clusters_sync(
                account=account, region=region, reader=reader, stats=stats
            ):
                if cluster.gone_at is None:
                    ids.append(cluster.pk)
        except AwsError as exc:
            errors.append(f"{region}: {exc}")
    if errors:
        account_mark_synced(account=account, ok=False, error="; ".join(errors))
    return ids
