"""The stream's follow-up calls, batched over time.

Applying an event writes what it says at once (the page shows it within a second).
Two things it asks for cost ECS calls, and those are gathered and made together at
most once every ``FLEETDECK_STREAM_BATCH_SECONDS`` (a lone change in a quiet fleet
runs them at once; a busy one pays one DescribeTasks per 100 new tasks and one
DescribeServices per 10 touched services per period, however many events came):

- the describe of a task the mirror did not know (its event was written meanwhile:
  the describe writes what AWS says *now*, and a stale event is overwritten);
- the refresh of a service whose deployment, service action or tasks changed (its
  counts, deployments and service events: no event carries those), by name, so a
  service created since the last sync comes in with its first tasks;
- the refresh of a cluster whose tasks changed (its task counts: DescribeClusters,
  100 clusters a call; instances' counts come with their own events).

A service's wanted refresh is also noted on its row (``refresh_wanted_at``, with the
event's write, before the message is deleted) and cleared when made: one lost with a
follower that stopped or a call that failed is made by the next reconcile, light or
full. A lost describe of a new task leaves the row its event wrote (the DescribeTasks
shape; the next event or the hourly full sync overwrites it), a lost cluster refresh
waits for the next reconcile, which describes the cluster.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.utils import timezone

from clusters.aws.ecs import EcsReader
from clusters.aws.errors import AwsError
from clusters.mirror.sync import SyncLockBusy, SyncStats, cluster_lock, cluster_refresh
from clusters.models import Cluster
from deployments.deployment_history import cluster_history_sync
from deployments.models import Service, Task
from deployments.sync import health_refresh_quietly
from deployments.task_sync import tasks_apply
from deployments.workload_sync import cluster_services_sync, services_refreshed

log = logging.getLogger(__name__)


@dataclass
class FollowUps:
    """By cluster pk: task ARNs to describe and service names to refresh; and the
    clusters whose counts to refresh."""

    tasks: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    services: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    clusters: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return any(self.tasks.values()) or any(self.services.values()) or bool(self.clusters)

    def merge(self, other: FollowUps) -> None:
        for cluster_id, arns in other.tasks.items():
            self.tasks[cluster_id] |= arns
        for cluster_id, names in other.services.items():
            self.services[cluster_id] |= names
        self.clusters |= other.clusters

    def service_touch(self, cluster_id: int, name: str) -> None:
        if name:
            self.services[cluster_id].add(name)


def follow_ups_run(*, reader: EcsReader, pending: FollowUps) -> FollowUps:
    """Make the pending describes and refreshes (``reader`` reads their region), each
    cluster's under its lock. Returns what is left: the clusters a full sync was
    writing (it may have listed before the change), for the next round."""
    left = FollowUps()
    touched: list[int] = []
    ids = set(pending.tasks) | set(pending.services) | pending.clusters
    clusters = list(Cluster.objects.select_related("account").filter(pk__in=ids))
    for cluster in clusters:
        arns, names = pending.tasks.get(cluster.pk, set()), pending.services.get(cluster.pk, set())
        try:
            _cluster_follow_ups(cluster, reader, arns, names)
        except SyncLockBusy:
            left.tasks[cluster.pk] |= arns
            left.services[cluster.pk] |= names
            left.clusters.add(cluster.pk)
            continue
        except AwsError as exc:  # the reconcile will see it; retrying could loop
            log.warning("stream follow-ups of cluster %s failed: %s", cluster.pk, exc)
        touched.append(cluster.pk)
    _clusters_refresh(
        reader, [c for c in clusters if c.pk in pending.clusters and c.pk not in left.clusters]
    )
    if touched:
        health_refresh_quietly(sorted(touched))
    return left


def _clusters_refresh(reader: EcsReader, clusters: list[Cluster]) -> None:
    """The clusters' counts (one DescribeClusters per 100). One AWS does not describe
    is left to the reconcile, which decides whether it is gone."""
    if not clusters:
        return
    try:
        infos = {i.arn: i for i in reader.clusters([c.arn for c in clusters])}
    except AwsError as exc:
        log.warning("stream follow-ups: DescribeClusters failed: %s", exc)
        return
    for cluster in clusters:
        if (info := infos.get(cluster.arn)) is not None:
            cluster_refresh(cluster=cluster, info=info, stats=SyncStats())


def _cluster_follow_ups(
    cluster: Cluster, reader: EcsReader, task_arns: set[str], service_names: set[str]
) -> None:
    """Under the cluster's lock, taken first (while a sync writes, nothing is called):
    the services first, so a new one is there to link its first tasks to; then the new
    tasks, and a task AWS no longer knows (a late event of a forgotten task) is gone."""
    stats = SyncStats()
    started = timezone.now()
    with cluster_lock(cluster_id=cluster.pk):
        if service_names:  # DescribeServices takes names: a new service is written too
            infos = reader.services(cluster.arn, sorted(service_names))
            cluster_services_sync(
                cluster=cluster, reader=reader, stats=stats, infos=infos, complete=False
            )
            cluster_history_sync(cluster=cluster, reader=reader, stats=stats, infos=infos)
            services_refreshed(cluster, infos, since=started)
        if task_arns:
            described, missing = reader.tasks(cluster.arn, sorted(task_arns))
            if described:
                tasks_apply(cluster=cluster, reader=reader, stats=stats, infos=described)
            Task.objects.filter(cluster=cluster, arn__in=missing, gone_at__isnull=True).update(
                gone_at=timezone.now()
            )


def services_wanted_record(follow_ups: FollowUps) -> None:
    """Note on the services that an event asked for their refresh (the oldest wish
    kept), so that one lost with its follower is made by the next reconcile."""
    now = timezone.now()
    for cluster_id, names in follow_ups.services.items():
        if names:
            Service.objects.filter(
                cluster_id=cluster_id, name__in=names, refresh_wanted_at__isnull=True
            ).update(refresh_wanted_at=now)
