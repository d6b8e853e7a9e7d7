"""Applying a batch of ECS events to the mirror, idempotently.

- A task or instance event whose ``detail.version`` is at or below the version the
  row already holds is dropped (a duplicate, or a late arrival overtaken by a newer
  event or describe); of several events for one object in a batch the newest wins.
- A task event for a task the mirror does not know yet is written from its detail
  (the DescribeTasks shape) at once, and its task queued for a targeted describe
  (``deployments.stream.follow_ups``: batched over time, 100 ARNs a call), which writes
  what AWS says now; ``FLEETDECK_STREAM_DESCRIBE_UNKNOWN=false`` queues none (a stale
  detail is overwritten by the next event or the reconcile). An event for an unknown
  instance is described at once (DescribeContainerInstances; instance events are rare).
- Writes go through ``deployments.task_sync.tasks_apply`` and
  ``clusters.mirror.sync.instances_apply``: the full sync's writers, timeline entries
  and dedupe keys, so a later reconcile finds nothing to add.
- Deployment and service-action events, and task events of a service's tasks, queue
  a refresh of the service (follow-ups again: its counts, deployments and events).

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
from clusters.mirror.sync import SyncStats, cluster_lock, instances_apply
from clusters.models import AwsAccount, Cluster, ContainerInstance
from deployments.models import Task
from deployments.stream.follow_ups import FollowUps, services_wanted_record
from deployments.sync import health_refresh_quietly, last_words_queue_quietly
from deployments.task_sync import tasks_apply

log = logging.getLogger(__name__)


@dataclass
class Applied:
    """What a batch did: events written, dropped (duplicate/late/unknown cluster),
    new tasks queued for a describe, the clusters touched (for the health refresh) and the calls it
    leaves to the batched follow-ups."""

    applied: int = 0
    dropped: int = 0
    described: int = 0
    cluster_ids: set[int] = field(default_factory=set)
    last_event_at: datetime | None = None
    stats: SyncStats = field(default_factory=SyncStats)
    follow_ups: FollowUps = field(default_factory=FollowUps)


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
    _services(out, clusters, by_kind[DEPLOYMENT] + by_kind[SERVICE_ACTION])
    services_wanted_record(out.follow_ups)
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
            elif event.task is not None:  # the detail is the DescribeTasks shape
                infos.append(event.task)
            if event.task is not None and event.task.group.startswith("service:"):
                out.follow_ups.service_touch(cluster.pk, event.task.group[len("service:") :])
        unknown = {arn for arn in by_arn if arn not in versions}
        if unknown and settings.FLEETDECK_STREAM_DESCRIBE_UNKNOWN:
            out.follow_ups.tasks[cluster.pk] |= unknown
            out.described += len(unknown)
        if infos:
            # Under the cluster's lock, as a sync writes: a full sync running now holds
            # a snapshot of the cluster's tasks and would insert these again. Busy:
            # SyncLockBusy, and the batch stays in the queue for after the sync.
            with cluster_lock(cluster_id=cluster.pk):
                tasks_apply(cluster=cluster, reader=reader, stats=out.stats, infos=infos)
            out.cluster_ids.add(cluster.pk)
            out.follow_ups.clusters.add(cluster.pk)  # its task counts moved
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


def _services(out: Applied, clusters: dict[str, Cluster], events: list[EcsEvent]) -> None:
    """A deployment or service action changed services: queue their refresh (rows,
    deployments and events, with the sync's writers; the follow-ups batch them). Their
    tasks come with their own events."""
    for event in events:
        cluster = clusters.get(_cluster_arn(event))
        if cluster is None:
            out.dropped += 1
            continue
        for arn in event.resources:
            if ":service/" in arn:
                out.follow_ups.service_touch(cluster.pk, arn.rsplit("/", 1)[-1])
        out.cluster_ids.add(cluster.pk)
        out.applied += 1
