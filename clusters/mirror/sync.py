"""Mirroring AWS infrastructure (clusters, container instances) into the database.

The workload half (services, deployments, tasks) is ``deployments.workload_sync``;
``deployments.sync`` orchestrates a whole cluster sync. Rules kept here:

- upsert by ARN and write only rows whose mirrored fields changed;
- mark gone (never delete) only after a complete, successful listing;
- a per-cluster lock (``clusters.core.locks``) keeps two syncs of one cluster apart.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clusters.aws.ecs import ClusterInfo, ContainerInstanceInfo, EcsReader
from clusters.aws.session import aws_client
from clusters.core.locks import Lock
from clusters.core.timeline import NewEvent, dedupe_key, events_record
from clusters.cost import registrations_record
from clusters.mirror.writes import SyncStats, changed_fields, mirror_write
from clusters.models import AwsAccount, Cluster, ContainerInstance, SyncRun, SyncRunStatus


def lock_timeout_seconds() -> int:
    return settings.FLEETDECK_SYNC_LOCK_SECONDS


class SyncLockBusy(Exception):
    """Another sync of the same cluster holds the lock."""


@contextmanager
def cluster_lock(*, cluster_id: int, timeout: int | None = None) -> Iterator[None]:
    """One sync per cluster at a time, across processes (see ``clusters.core.locks``).

    Renewed while the sync runs; a worker killed in the middle of a sync (SIGKILL,
    OOM) blocks the next one for at most ``timeout`` seconds."""
    lock = Lock(f"cluster-sync:{cluster_id}", ttl=timeout or lock_timeout_seconds())
    with lock.held(keep_alive=True) as got:
        if not got:
            raise SyncLockBusy(f"cluster {cluster_id} is already being synced")
        yield


def sync_runs_abandoned_close(*, cluster: Cluster, keep_run_id: int | None) -> int:
    """Close the runs of a cluster that a dead worker left "running".

    Called while holding the cluster's lock: no other sync of this cluster is
    active, so a run in a working phase (not queued, waiting or retrying) has lost
    its worker."""
    waiting = ("queued", "waiting", "retrying")
    runs = SyncRun.objects.filter(cluster=cluster, status=SyncRunStatus.RUNNING)
    if keep_run_id is not None:
        runs = runs.exclude(pk=keep_run_id)
    stuck = [run for run in runs if not run.phase.startswith(waiting)]
    now = timezone.now()
    for run in stuck:
        run.status = SyncRunStatus.FAILED
        run.errors = [*run.errors, "the worker stopped during this sync (it was restarted)"]
        run.finished_at = now
        run.save(update_fields=["status", "errors", "finished_at"])
    return len(stuck)


def account_reader(*, account: AwsAccount, region: str) -> EcsReader:
    """The reader for one sync: a fresh client, so that the retry quota an earlier
    outage used up does not leave this sync without retries (see clusters.aws.session)."""
    return EcsReader(aws_client(account=account, region=region, service="ecs", fresh=True))


# --- SyncRun progress ------------------------------------------------------
def sync_run_start(
    *, account: AwsAccount, cluster: Cluster | None = None, region: str = "", light: bool = False
) -> SyncRun:
    return SyncRun.objects.create(
        account=account,
        cluster=cluster,
        region=region or (cluster.region if cluster else ""),
        phase="queued",
        light=light,
    )


def sync_run_progress(
    *, run: SyncRun, phase: str, stats: SyncStats, calls: Counter[str] | None = None
) -> None:
    run.phase = phase
    run.created_count = stats.created
    run.updated_count = stats.updated
    run.gone_count = stats.gone
    if calls is not None:
        run.calls = dict(calls)
    run.budget_wait_ms = stats.budget_wait_ms
    fields = ["phase", "created_count", "updated_count", "gone_count", "calls", "budget_wait_ms"]
    run.save(update_fields=fields)


def sync_run_finish(
    *,
    run: SyncRun,
    stats: SyncStats,
    calls: Counter[str],
    ok: bool,
    started: float,
) -> None:
    run.status = SyncRunStatus.SUCCEEDED if ok else SyncRunStatus.FAILED
    run.phase = "done" if ok else "failed"
    run.finished_at = timezone.now()
    run.duration_ms = int((time.monotonic() - started) * 1000)
    run.calls = dict(calls)
    run.created_count = stats.created
    run.updated_count = stats.updated
    run.gone_count = stats.gone
    run.budget_wait_ms = stats.budget_wait_ms
    run.errors = stats.errors[-50:]
    run.save()


# --- clusters --------------------------------------------------------------
def _cluster_values(info: ClusterInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "status": info.status,
        "registered_instances_count": info.registered_instances_count,
        "running_tasks_count": info.running_tasks_count,
        "pending_tasks_count": info.pending_tasks_count,
        "active_services_count": info.active_services_count,
        "service_connect_defaults": info.service_connect_defaults,
        "gone_at": None,
    }


def account_clusters_sync(
    *, account: AwsAccount, region: str, reader: EcsReader, stats: SyncStats
) -> list[tuple[Cluster, ClusterInfo]]:
    """List and describe every cluster of a region; upsert; mark vanished ones gone.

    Raises ``AwsError`` before writing anything if the listing fails."""
    arns = reader.cluster_arns()
    infos = reader.clusters(arns) if arns else []
    now = timezone.now()
    existing = {c.arn: c for c in Cluster.objects.filter(account=account, region=region)}
    # ARNs are global: two account rows pointing at one AWS account must not fight.
    elsewhere = dict(
        Cluster.objects.filter(arn__in=arns)
        .exclude(account=account, region=region)
        .values_list("arn", "account__name")
    )
    out: list[tuple[Cluster, ClusterInfo]] = []
    new: list[Cluster] = []
    changed: list[tuple[Any, list[str]]] = []
    with transaction.atomic():
        for info in infos:
            if info.arn in elsewhere:
                stats.errors.append(
                    f"{info.name}: already mirrored by account {elsewhere[info.arn]}"
                )
                continue
            cluster = existing.get(info.arn)
            if cluster is None:
                cluster = Cluster(account=account, region=region, arn=info.arn, first_seen_at=now)
                changed_fields(cluster, _cluster_values(info))
                new.append(cluster)
            else:
                names = changed_fields(cluster, _cluster_values(info))
                if names:
                    changed.append((cluster, names))
            out.append((cluster, info))
        mirror_write(Cluster, new=new, changed=changed, stats=stats, now=now)
        seen = {i.arn for i in infos}
        vanished = [c.pk for arn, c in existing.items() if arn not in seen and c.gone_at is None]
        if vanished:
            stats.gone += Cluster.objects.filter(pk__in=vanished).update(gone_at=now)
    # bulk_create gives pks on PostgreSQL and SQLite >= 3.35; reload to be sure.
    if new and any(c.pk is None for c in new):
        by_arn = {c.arn: c for c in Cluster.objects.filter(arn__in=[c.arn for c in new])}
        out = [(by_arn.get(c.arn, c), i) for c, i in out]
    return out


def cluster_refresh(*, cluster: Cluster, info: ClusterInfo | None, stats: SyncStats) -> None:
    """Write a cluster's counts from DescribeClusters (``None``: AWS says it is gone)."""
    now = timezone.now()
    if info is None:
        if cluster.gone_at is None:
            cluster.gone_at = now
            cluster.save(update_fields=["gone_at"])
            stats.gone += 1
        return
    names = changed_fields(cluster, _cluster_values(info))
    if names:
        cluster.last_seen_at = now
        cluster.save(update_fields=[*names, "last_seen_at"])
        stats.updated += 1


# --- container instances ---------------------------------------------------
def _instance_values(info: ContainerInstanceInfo) -> dict[str, Any]:
    return {
        "ec2_instance_id": info.ec2_instance_id,
        "is_external": info.is_external,
        "status": info.status,
        "status_reason": info.status_reason,
        "agent_connected": info.agent_connected,
        "agent_version": info.agent_version,
        "docker_version": info.docker_version,
        "registered_cpu": info.registered_cpu,
        "registered_memory": info.registered_memory,
        "remaining_cpu": info.remaining_cpu,
        "remaining_memory": info.remaining_memory,
        "attributes": info.attributes,
        "tags": info.tags,
        "health_status": info.health_status,
        "running_tasks_count": info.running_tasks_count,
        "pending_tasks_count": info.pending_tasks_count,
        "registered_at": info.registered_at,
        "version": info.version,
        "gone_at": None,
    }


def _instance_event(
    cluster: Cluster, ci: ContainerInstance, what: str, message: str, severity: str, at: datetime
) -> NewEvent:
    return NewEvent(
        source="container-instance",
        severity=severity,
        message=message,
        dedupe_key=dedupe_key("ci", ci.arn, what, at.isoformat()),
        occurred_at=at,
        account=cluster.account.name,
        region=cluster.region,
        cluster_arn=cluster.arn,
        instance_arn=ci.arn,
        details={"ec2InstanceId": ci.ec2_instance_id, "status": ci.status},
    )


def instances_fetch(*, reader: EcsReader, cluster_arn: str) -> list[ContainerInstanceInfo]:
    """Complete listing + full-batch describes (raises ``AwsError`` otherwise)."""
    arns = reader.container_instance_arns(cluster_arn)
    infos, _missing = reader.container_instances(cluster_arn, arns) if arns else ([], [])
    return infos


def _instance_new(
    cluster: Cluster, info: ContainerInstanceInfo, now: datetime, events: list[NewEvent]
) -> ContainerInstance:
    """A row for an instance seen for the first time; a "registered" event unless
    this is the cluster's first sync (then every instance is new, not news)."""
    ci = ContainerInstance(
        cluster=cluster, arn=info.arn, first_seen_at=now, agent_connected_changed_at=now
    )
    changed_fields(ci, _instance_values(info))
    if cluster.last_sync_ok is not None:
        message = f"Instance {ci} registered ({ci.status})"
        at = info.registered_at or now
        events.append(_instance_event(cluster, ci, "registered", message, "info", at))
    return ci


def _instance_update(
    cluster: Cluster,
    ci: ContainerInstance,
    info: ContainerInstanceInfo,
    now: datetime,
    events: list[NewEvent],
) -> list[str]:
    """Apply a fresh description to a known row; the names of the changed fields.
    The agent (dis)connecting and a status change are events."""
    was_status = ci.status
    names = changed_fields(ci, _instance_values(info))
    if "agent_connected" in names:
        ci.agent_connected_changed_at = now
        names.append("agent_connected_changed_at")
        if ci.agent_connected:
            event = _instance_event(
                cluster, ci, "agent-up", f"Agent on {ci} reconnected", "info", now
            )
        else:
            message = f"Agent on {ci} disconnected"
            event = _instance_event(cluster, ci, "agent-down", message, "warning", now)
        events.append(event)
    if "status" in names and ci.status != was_status:
        severity = "warning" if ci.status in ("DRAINING", "INACTIVE") else "info"
        message = f"Instance {ci} is {ci.status} (was {was_status or 'unknown'})"
        events.append(_instance_event(cluster, ci, f"status-{ci.status}", message, severity, now))
    return names


def _instances_mark_gone(
    cluster: Cluster, vanished: list[ContainerInstance], now: datetime, events: list[NewEvent]
) -> int:
    if not vanished:
        return 0
    gone = ContainerInstance.objects.filter(pk__in=[ci.pk for ci in vanished]).update(gone_at=now)
    for ci in vanished:
        message = f"Instance {ci} is no longer listed"
        events.append(_instance_event(cluster, ci, "gone", message, "info", now))
    return gone


def cluster_instances_sync(
    *,
    cluster: Cluster,
    reader: EcsReader,
    stats: SyncStats,
    infos: list[ContainerInstanceInfo] | None = None,
) -> dict[str, int]:
    """Mirror the cluster's container instances (``infos``: already fetched).

    Returns {arn: pk} for every instance row of the cluster (gone ones included),
    for the tasks phase. Raises ``AwsError`` before writing if the listing fails.
    """
    if infos is None:
        infos = instances_fetch(reader=reader, cluster_arn=cluster.arn)
    now = timezone.now()
    existing = {ci.arn: ci for ci in ContainerInstance.objects.filter(cluster=cluster)}
    new: list[ContainerInstance] = []
    changed: list[tuple[Any, list[str]]] = []
    events: list[NewEvent] = []
    for info in infos:
        ci = existing.get(info.arn)
        if ci is None:
            new.append(_instance_new(cluster, info, now, events))
        elif info.version < ci.version:
            continue  # older than what the event stream already applied
        elif names := _instance_update(cluster, ci, info, now, events):
            changed.append((ci, names))
    seen = {i.arn for i in infos}
    vanished = [ci for arn, ci in existing.items() if arn not in seen and ci.gone_at is None]
    with transaction.atomic():
        mirror_write(ContainerInstance, new=new, changed=changed, stats=stats, now=now)
        stats.gone += _instances_mark_gone(cluster, vanished, now, events)
        stats.events += events_record(events)
    # The bill's registered intervals follow what was just written (no AWS call).
    registrations_record(cluster=cluster, now=now)
    return dict(ContainerInstance.objects.filter(cluster=cluster).values_list("arn", "pk"))


def instances_apply(
    *, cluster: Cluster, infos: list[ContainerInstanceInfo], stats: SyncStats
) -> None:
    """Write some instances' fresh descriptions (from the event stream or a targeted
    describe) with the full sync's writers and timeline entries; marks nothing gone
    (only a complete listing may) and skips a description older than the row."""
    now = timezone.now()
    existing = {
        ci.arn: ci
        for ci in ContainerInstance.objects.filter(arn__in=[i.arn for i in infos], cluster=cluster)
    }
    new: list[ContainerInstance] = []
    changed: list[tuple[Any, list[str]]] = []
    events: list[NewEvent] = []
    for info in infos:
        ci = existing.get(info.arn)
        if ci is None:
            new.append(_instance_new(cluster, info, now, events))
        elif info.version > ci.version and (
            names := _instance_update(cluster, ci, info, now, events)
        ):
            changed.append((ci, names))
    if new or changed:
        with transaction.atomic():
            mirror_write(ContainerInstance, new=new, changed=changed, stats=stats, now=now)
            stats.events += events_record(events)
        # A deregistration seen on the stream closes its bill interval now, not at the
        # next reconcile (no AWS call; what was just written).
        registrations_record(cluster=cluster, now=now)


def cluster_mark_synced(*, cluster: Cluster, ok: bool, error: str = "") -> None:
    """Bookkeeping on the cluster row (not mirror data): when and how it last synced."""
    Cluster.objects.filter(pk=cluster.pk).update(
        last_sync_at=timezone.now(), last_sync_ok=ok, last_sync_error=error[:4000]
    )
    cluster.last_sync_ok = ok
    cluster.last_sync_error = error


def account_mark_synced(*, account: AwsAccount, ok: bool, error: str = "") -> None:
    AwsAccount.objects.filter(pk=account.pk).update(
        last_sync_at=timezone.now(),
        last_sync_status="succeeded" if ok else "failed",
        last_sync_error=error[:4000],
    )
