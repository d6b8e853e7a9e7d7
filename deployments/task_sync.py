"""Writing one cluster's tasks and their containers into the mirror.

Upserts by ARN, writes only changed rows and records a timeline event per state
change; a task mirrored as STOPPED is final and never described again, and nothing
is marked gone unless both listings completed and every describe answered. The
order of the phases is ``deployments.sync``'s job; task definitions are ensured by
``deployments.workload_sync``.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clusters.aws.ecs import EcsReader, TaskInfo
from clusters.core.timeline import NewEvent, dedupe_key, events_record
from clusters.mirror.writes import SyncStats, changed_fields, mirror_write, rows_insert
from clusters.models import Cluster, ContainerInstance, EventSeverity, EventSource
from deployments.models import Service, Task, TaskContainer
from deployments.workload_sync import STOPPED, _subjects, task_definitions_ensure

CONTAINER_FIELDS = ("image", "last_status", "exit_code", "reason", "health_status", "runtime_id")
# (pk, task_id, name, *CONTAINER_FIELDS) of a mirrored container, by (task_id, name)
ContainerRows = dict[tuple[int, str], tuple[Any, ...]]


@dataclass
class _TaskMirror:
    """What one tasks sync reads once and every batch it writes shares."""

    cluster: Cluster
    reader: EcsReader
    stats: SyncStats
    instances: dict[str, int]
    services: dict[str, int]
    existing: dict[str, Task]  # live rows by ARN
    containers: ContainerRows
    had_sync: bool  # a first sync records no event for tasks merely discovered
    tds: dict[str, int] = field(default_factory=dict)  # task definition pks by ARN


def cluster_tasks_sync(
    *,
    cluster: Cluster,
    reader: EcsReader,
    stats: SyncStats,
    instances: dict[str, int],
    services: dict[str, int],
    listings: tuple[Future[list[str]], Future[list[str]]] | None = None,
    light: bool = False,
) -> None:
    """Mirror the cluster's tasks.

    Both listings (desired RUNNING and STOPPED) must complete before anything is
    written. Describes then stream in full batches and each batch is written as it
    arrives; a task mirrored as STOPPED is final and not described again. Gone
    marking happens last, only when every describe answered. ``light``: a light
    reconcile (``deployments.reconcile``; its STOPPED listing is empty).
    """
    # Read the mirror's side first: it overlaps the listings already in flight.
    mirror = _TaskMirror(
        cluster=cluster,
        reader=reader,
        stats=stats,
        instances=instances,
        services=services,
        existing=_live_tasks(cluster),
        containers=_live_containers(cluster),
        had_sync=cluster.last_sync_ok is not None,
    )
    if listings is None:
        running = reader.task_arns(cluster.arn, "RUNNING")
        stopped = reader.task_arns(cluster.arn, STOPPED)
    else:
        running, stopped = listings[0].result(), listings[1].result()
    if light:
        _tasks_reconcile_light(mirror, running)
    else:
        _tasks_reconcile(mirror, running, stopped)


def service_tasks_sync(
    *, cluster: Cluster, reader: EcsReader, stats: SyncStats, service_id: int
) -> None:
    """Mirror one service's tasks: the same writes as ``cluster_tasks_sync``, on the
    service's own listings (a targeted refresh, e.g. when a redeploy completes).
    Instances come from the mirror: a task on an instance not mirrored yet gets
    its instance at the next full sync."""
    service = Service.objects.get(pk=service_id, cluster=cluster)
    mirror = _TaskMirror(
        cluster=cluster,
        reader=reader,
        stats=stats,
        instances=dict(ContainerInstance.objects.filter(cluster=cluster).values_list("arn", "pk")),
        services={service.name: service.pk},
        existing=_live_tasks(cluster, service),
        containers=_live_containers(cluster, service),
        had_sync=True,
    )
    running = reader.service_task_arns(cluster.arn, service.name, "RUNNING")
    stopped = reader.service_task_arns(cluster.arn, service.name, STOPPED)
    _tasks_reconcile(mirror, running, stopped)


def tasks_apply(
    *, cluster: Cluster, reader: EcsReader, stats: SyncStats, infos: list[TaskInfo]
) -> None:
    """Write some tasks' fresh descriptions (the event stream's, or a targeted
    describe's) with the same writer, events and dedupe keys as a full sync; nothing
    is marked gone. A description older than the row is skipped by the writer."""
    arns = [i.arn for i in infos]
    rows = Task.objects.filter(cluster=cluster, arn__in=arns).order_by()
    containers = TaskContainer.objects.filter(task__in=rows).order_by()
    mirror = _TaskMirror(
        cluster=cluster,
        reader=reader,
        stats=stats,
        instances=dict(ContainerInstance.objects.filter(cluster=cluster).values_list("arn", "pk")),
        services=dict(Service.objects.filter(cluster=cluster).values_list("name", "pk")),
        existing={t.arn: t for t in rows},
        containers={
            (row[1], row[2]): row
            for row in containers.values_list("pk", "task_id", "name", *CONTAINER_FIELDS)
        },
        had_sync=True,
    )
    _tasks_write(mirror, infos)


def _tasks_reconcile(mirror: _TaskMirror, running: list[str], stopped: list[str]) -> None:
    """Describe what the complete listings name (and live rows they no longer name),
    write it, then mark gone what AWS no longer knows."""
    listed = set(running) | set(stopped)
    existing = mirror.existing
    to_describe = [a for a in running + stopped if not _final(existing.get(a))]
    # A live row AWS no longer lists: describe it once to learn how it ended.
    to_describe += [a for a, t in existing.items() if a not in listed and not t.is_final]
    found, missing = _describe_and_write(mirror, list(dict.fromkeys(to_describe)))
    vanished = {t.pk for a, t in existing.items() if a not in listed and a not in found}
    vanished |= {existing[a].pk for a in missing if a in existing}
    _gone_mark(mirror, vanished)


def _tasks_reconcile_light(mirror: _TaskMirror, running: list[str]) -> None:
    """Describe only where the RUNNING listing and the mirror disagree: tasks the
    mirror does not know, live rows the listing no longer names (how did they stop?)
    and rows not settled yet. Only a row AWS itself reports missing is marked gone:
    without the STOPPED listing, "not listed" does not mean "gone"."""
    existing = mirror.existing
    listed = set(running)
    to_describe = [a for a in running if not _settled(existing.get(a))]
    to_describe += [a for a, t in existing.items() if a not in listed and not t.is_final]
    _found, missing = _describe_and_write(mirror, list(dict.fromkeys(to_describe)))
    vanished = {existing[a].pk for a in missing if a in existing}
    _gone_mark(mirror, vanished)


def _gone_mark(mirror: _TaskMirror, pks: set[int]) -> None:
    if pks:
        mirror.stats.gone += Task.objects.filter(pk__in=pks, gone_at__isnull=True).update(
            gone_at=timezone.now()
        )


def _settled(task: Task | None) -> bool:
    """A mirrored task that is, and is meant to be, RUNNING, and whose links are whole
    (a task written before its service or instance was mirrored gets them from a
    describe): its next change is an event."""
    return (
        task is not None
        and task.last_status == "RUNNING"
        and task.desired_status == "RUNNING"
        and (task.service_id is not None or not task.group.startswith("service:"))
        and (task.container_instance_id is not None or task.launch_type == "FARGATE")
    )


def _of_service(service: Service | None, prefix: str = "") -> Q:
    """A service's tasks: by the mirror's link, or by the group AWS gave them."""
    if service is None:
        return Q()
    return Q(**{f"{prefix}service_id": service.pk}) | Q(
        **{f"{prefix}group": f"service:{service.name}"}
    )


def _live_tasks(cluster: Cluster, service: Service | None = None) -> dict[str, Task]:
    """Rows that can still change; final STOPPED rows AWS no longer lists are history."""
    rows = Task.objects.filter(_of_service(service), cluster=cluster, gone_at__isnull=True)
    return {t.arn: t for t in rows.order_by()}


def _live_containers(cluster: Cluster, service: Service | None = None) -> ContainerRows:
    rows = TaskContainer.objects.filter(
        _of_service(service, "task__"), task__cluster=cluster, task__gone_at__isnull=True
    )
    return {
        (row[1], row[2]): row
        for row in rows.order_by().values_list("pk", "task_id", "name", *CONTAINER_FIELDS)
    }


def _describe_and_write(mirror: _TaskMirror, arns: list[str]) -> tuple[set[str], list[str]]:
    """Describe ``arns`` in streamed batches, writing each as it arrives; the ARNs
    described and the ones AWS reported missing."""
    futures = mirror.reader.tasks_stream(mirror.cluster.arn, arns)
    found: set[str] = set()
    missing: list[str] = []
    try:
        for future in futures:
            infos, batch_missing = future.result()
            missing += batch_missing
            found.update(i.arn for i in infos)
            _tasks_write(mirror, infos)
    finally:
        for future in futures:
            future.cancel()
    return found, missing


def _tasks_write(mirror: _TaskMirror, infos: list[TaskInfo]) -> None:
    cluster, stats, tds, existing = mirror.cluster, mirror.stats, mirror.tds, mirror.existing
    unknown = {i.task_definition_arn for i in infos} - tds.keys()
    if unknown:
        tds.update(task_definitions_ensure(reader=mirror.reader, arns=unknown, stats=stats))
    now = timezone.now()
    new: list[dict[str, Any]] = []
    new_infos: list[TaskInfo] = []
    changed: list[tuple[Any, list[str]]] = []
    known_infos: list[TaskInfo] = []
    events: list[NewEvent] = []
    for info in infos:
        task = existing.get(info.arn)
        values = _task_values(info, mirror.instances, tds, mirror.services)
        if task is None:
            values.update(cluster_id=cluster.pk, arn=info.arn, first_seen_at=now, last_seen_at=now)
            new.append(values)
            new_infos.append(info)
            if mirror.had_sync or info.last_status == STOPPED:
                fresh = Task(**values)
                events.append(_task_event(cluster, fresh, info, "", now))
            continue
        if info.version < task.version:
            continue  # a describe older than what the event stream already applied
        was = task.last_status
        names = changed_fields(task, values)
        known_infos.append(info)
        if names:
            changed.append((task, names))
            if "last_status" in names:
                events.append(_task_event(cluster, task, info, was, now))
    new_rows, changed_rows = _containers_diff(known_infos, existing, mirror.containers)
    if not (new or changed or new_rows or changed_rows or events):
        return  # nothing changed: no transaction, no write
    with transaction.atomic():
        stats.created += rows_insert(Task, new)
        mirror_write(Task, new=[], changed=changed, stats=stats, now=now)
        fresh_rows = _containers_of_new_tasks(new_infos)
        stats.created += rows_insert(TaskContainer, fresh_rows)
        mirror_write(TaskContainer, new=new_rows, changed=changed_rows, stats=stats, now=now)
        stats.events += events_record(events)


def _final(task: Task | None) -> bool:
    return task is not None and task.is_final


def _container_values(c: Any) -> dict[str, Any]:
    return {name: getattr(c, name) for name in CONTAINER_FIELDS}


def _containers_of_new_tasks(infos: list[TaskInfo]) -> list[dict[str, Any]]:
    """Container rows of tasks just inserted (their ids read back in one query)."""
    if not infos:
        return []
    ids = dict(Task.objects.filter(arn__in=[i.arn for i in infos]).values_list("arn", "pk"))
    return [
        {"task_id": ids[info.arn], "name": c.name, **_container_values(c)}
        for info in infos
        for c in info.containers
    ]


def _containers_diff(
    infos: list[TaskInfo],
    existing: dict[str, Task],
    current: ContainerRows,
) -> tuple[list[TaskContainer], list[tuple[Any, list[str]]]]:
    """Containers of already-mirrored tasks that are new or changed. ``current`` holds
    plain tuples (pk, task_id, name, *CONTAINER_FIELDS): in a steady fleet nothing
    changes, so no model instance is built."""
    new_rows: list[TaskContainer] = []
    changed: list[tuple[Any, list[str]]] = []
    for info in infos:
        task_id = existing[info.arn].pk
        for c in info.containers:
            values = _container_values(c)
            old = current.get((task_id, c.name))
            if old is None:
                new_rows.append(TaskContainer(task_id=task_id, name=c.name, **values))
                continue
            names = [n for i, n in enumerate(CONTAINER_FIELDS) if old[3 + i] != values[n]]
            if names:
                row = TaskContainer(pk=old[0], task_id=task_id, name=c.name, **values)
                changed.append((row, names))
    return new_rows, changed


def _task_values(
    info: TaskInfo, instances: dict[str, int], tds: dict[str, int], services: dict[str, int]
) -> dict[str, Any]:
    service_id = None
    if info.group.startswith("service:"):
        service_id = services.get(info.group.split(":", 1)[1])
    return {
        "container_instance_id": instances.get(info.container_instance_arn),
        "task_definition_id": tds.get(info.task_definition_arn),
        "service_id": service_id,
        "group": info.group,
        "started_by": info.started_by,
        "last_status": info.last_status,
        "desired_status": info.desired_status,
        "health_status": info.health_status,
        "launch_type": info.launch_type,
        "cpu": info.cpu,
        "memory": info.memory,
        "stopped_reason": info.stopped_reason,
        "stop_code": info.stop_code,
        "created_at_aws": info.created_at,
        "started_at": info.started_at,
        "stopping_at": info.stopping_at,
        "stopped_at": info.stopped_at,
        "version": info.version,
        "gone_at": None,
    }


def _task_event(cluster: Cluster, task: Task, info: TaskInfo, was: str, now: datetime) -> NewEvent:
    short = task.short_id
    exit_codes = {c.name: c.exit_code for c in info.containers if c.exit_code is not None}
    if task.last_status == STOPPED:
        bad = task.stop_code == "EssentialContainerExited" or any(exit_codes.values())
        message = f"Task {short} stopped"
        if task.stopped_reason:
            message += f": {task.stopped_reason}"
        severity = EventSeverity.WARNING if bad else EventSeverity.INFO
        at = task.stopped_at or now
    else:
        message = f"Task {short} is {task.last_status}" + (f" (was {was})" if was else "")
        severity = EventSeverity.INFO
        at = (task.started_at if task.last_status == "RUNNING" else None) or now
    service_arn = ""
    if task.group.startswith("service:"):
        service_arn = cluster.arn.replace(":cluster/", ":service/") + "/" + task.group[8:]
    return NewEvent(
        source=EventSource.TASK,
        severity=severity,
        message=message,
        dedupe_key=dedupe_key("task", task.arn, task.last_status),
        occurred_at=at,
        task_arn=task.arn,
        service_arn=service_arn,
        instance_arn=info.container_instance_arn,
        details={
            "lastStatus": task.last_status,
            "previousStatus": was,
            "stopCode": task.stop_code,
            "exitCodes": exit_codes,
            "group": task.group,
        },
        **_subjects(cluster),
    )
