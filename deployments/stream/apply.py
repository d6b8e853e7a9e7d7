"""Applying a batch of ECS events to the mirror, idempotently.

- A task or instance event whose ``detail.version`` is at or below the version the
  row already holds is dropped (a duplicate, or a late arrival overtaken by a newer
  event or describe); of several events for one object in a batch the newest wins.
- An event for an object the mirror does not know yet triggers a targeted describe,
  batched per cluster (DescribeTasks / DescribeContainerInstances, 100 ARNs a call):
  what AWS says now is written, not a possibly stale event. For tasks,
  ``FLEETDECK_STREAM_DESCRIBE_UNKNOWN=false`` writes the event's detail instead (it is
  the DescribeTasks shape; a stale one is overwritten by the next event or reconcile).
- Writes go through ``deployments.task_sync.tasks_apply`` and
  ``clusters.mirror.sync.instances_apply``: the full sync's writers, timeline entries
  and dedupe keys, so a later reconcile finds nothing to add.
- Deployment and service-action events refresh their service with ``service_sync``.

AWS calls (the describes) happen outside any transaction; each write commits on its
own, and the caller deletes the messages only after this returns.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings

from clusters.aws.ecs import ContainerInstanceInfo, EcsReader, TaskInfo
from clusters.aws.ecs_events import DEPLOYMENT, INSTANCE, SERVICE_ACTION, TASK, EcsEvent
from clusters.mirror.sync import SyncLockBusy, SyncStats, cluster_lock, instances_apply
from clusters.models import AwsAccount, Cluster, ContainerInstance
from deployments.models import Service, Task
from deployments.sync import health_refresh_quietly, last_words_queue_quietly, services_refresh
from deployments.task_sync import tasks_apply

log = logging.getLogger(__name__)


@dataclass
class Applied:
    """What a batch did: events written, dropped (duplicate/late/unknown cluster),
    describes made, and the clusters touched (for the health refresh)."""

    applied: int = 0
    dropped: int = 0
    described: int = 0
    cluster_ids: set[int] = field(default_factory=set)
    last_event_at: datetime | None = None
    stats: SyncStats = field(default_factory=SyncStats)


def events_apply(
    *, account: AwsAccount, region: str, reader: EcsReader, events: list[EcsEvent]
) -> Applied:
    """Apply ``events`` (one region of ``account``; ``reader`` reads that region) to
    the mirror. Raises on failure, and then nothing is to be deleted (what was
    written stays: applying it again changes nothing)."""
    out = Applied()
    clusters = _clusters(account, region, events)
    by_kind: dict[str, list[EcsEvent]] = defaultdict(list)
    for event in events:
        if event.at and (out.last_event_at is None or event.at > out.last_event_at):
            out.last_event_at = event.at
        by_kind[event.kind].append(event)
    _tasks(out, reader, clusters, by_kind[TASK])
    _instances(out, reader, clusters, by_kind[INSTANCE])
    _services(out, reader, clusters, by_kind[DEPLOYMENT] + by_kind[SERVICE_ACTION])
    if out.cluster_ids:
        health_refresh_quietly(sorted(out.cluster_ids))
        for cluster_id in sorted(out.cluster_ids):  # a stop seen here keeps its last words too
            last_words_queue_quietly(cluster_id)
    return out


def _cluster_arn(event: EcsEvent) -> str:
    if event.cluster_arn:
        return event.cluster_arn
    # Deployment events name only the service: arn:aws:ecs:r:a:service/CLUSTER/NAME
    for arn in event.resources:
        if ":service/" in arn and arn.count("/") >= 2:
            head, rest = arn.split(":service/", 1)
            return f"{head}:cluster/{rest.split('/', 1)[0]}"
    return ""


def _clusters(account: AwsAccount, region: str, events: list[EcsEvent]) -> dict[str, Cluster]:
    arns = {_cluster_arn(e) for e in events}
    rows = Cluster.objects.select_related("account").filter(
        account=account, region=region, arn__in=arns
    )
    return {c.arn: c for c in rows}


def _newest(events: list[EcsEvent], key: str) -> dict[str, dict[str, EcsEvent]]:
    """By cluster ARN, by object ARN: the newest event (highest version) of each."""
    out: dict[str, dict[str, EcsEvent]] = defaultdict(dict)
    for event in events:
        obj = event.task if key == "task" else event.instance
        assert obj is not None
        have = out[event.cluster_arn].get(obj.arn)
        if have is None or event.version > have.version:
            out[event.cluster_arn][obj.arn] = event
    return out


def _tasks(
    out: Applied, reader: EcsReader, clusters: dict[str, Cluster], events: list[EcsEvent]
) -> None:
    newest = _newest(events, "task")
    out.dropped += len(events) - sum(len(v) for v in newest.values())
    for cluster_arn, by_arn in newest.items():
        cluster = clusters.get(cluster_arn)
        if cluster is None:
            out.dropped += len(by_arn)  # a cluster not mirrored yet: the reconcile adds it
            continue
        versions = dict(Task.objects.filter(arn__in=list(by_arn)).values_list("arn", "version"))
        infos: list[TaskInfo] = []
        for arn, event in by_arn.items():
            if arn in versions and event.version <= versions[arn]:
                out.dropped += 1
            elif arn in versions and event.task is not None:
                infos.append(event.task)
        unknown = [arn for arn in by_arn if arn not in versions]
        if unknown and settings.FLEETDECK_STREAM_DESCRIBE_UNKNOWN:
            described, _missing = reader.tasks(cluster.arn, unknown)
            out.described += len(unknown)
            infos += described
        elif unknown:  # the event's detail is the DescribeTasks shape: write it as is
            infos += [t for a in unknown if (t := by_arn[a].task) is not None]
        if infos:
            # Under the cluster's lock, as a sync writes: a full sync running now holds
            # a snapshot of the cluster's tasks and would insert these again. Busy:
            # SyncLockBusy, and the batch stays in the queue for after the sync.
            with cluster_lock(cluster_id=cluster.pk):
                tasks_apply(cluster=cluster, reader=reader, stats=out.stats, infos=infos)
            out.cluster_ids.add(cluster.pk)
        out.applied += len(infos)


def _instances(
    out: Applied, reader: EcsReader, clusters: dict[str, Cluster], events: list[EcsEvent]
) -> None:
    newest = _newest(events, "instance")
    out.dropped += len(events) - sum(len(v) for v in newest.values())
    for cluster_arn, by_arn in newest.items():
        cluster = clusters.get(cluster_arn)
        if cluster is None:
            out.dropped += len(by_arn)
            continue
        known = ContainerInstance.objects.filter(arn__in=list(by_arn))
        versions = dict(known.values_list("arn", "version"))
        infos: list[ContainerInstanceInfo] = []
        for arn, event in by_arn.items():
            if arn in versions and event.version <= versions[arn]:
                out.dropped += 1
            elif arn in versions and event.instance is not None:
                infos.append(event.instance)
        unknown = [arn for arn in by_arn if arn not in versions]
        if unknown:
            described, _missing = reader.container_instances(cluster.arn, unknown)
            out.described += len(unknown)
            infos += described
        if infos:
            with cluster_lock(cluster_id=cluster.pk):  # as for tasks, above
                instances_apply(cluster=cluster, infos=infos, stats=out.stats)
            out.cluster_ids.add(cluster.pk)
        out.applied += len(infos)


def _services(
    out: Applied, reader: EcsReader, clusters: dict[str, Cluster], events: list[EcsEvent]
) -> None:
    """A deployment or service action changed services: refresh their rows and
    deployments (one DescribeServices per cluster and 10 services) with the sync's
    writers; their tasks come with their own events. A sync of the cluster running now
    sees the change itself."""
    arns = {arn for e in events for arn in e.resources if ":service/" in arn}
    by_cluster: dict[int, list[str]] = defaultdict(list)
    for arn, cluster_id in Service.objects.filter(arn__in=arns).values_list("arn", "cluster_id"):
        by_cluster[cluster_id].append(arn)
    for cluster in {c.pk: c for c in clusters.values()}.values():
        if cluster.pk not in by_cluster:
            continue
        try:
            services_refresh(cluster=cluster, reader=reader, service_arns=by_cluster[cluster.pk])
        except SyncLockBusy:
            log.info("cluster %s is being synced, which sees the change", cluster.pk)
        out.cluster_ids.add(cluster.pk)
    out.applied += len(events)
