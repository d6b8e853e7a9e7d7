"""Writing one cluster's workloads into the mirror: task definitions, services
with their deployments and events, tasks with their containers.

The writers upsert by ARN, write only changed rows and record a timeline event
per state change; nothing is marked gone unless its listing completed, and a task
mirrored as STOPPED is final and never described again. The order of the phases,
the cluster's lock and the run's bookkeeping are ``deployments.sync``'s job.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from clusters.aws.ecs import EcsReader, ServiceInfo, TaskInfo
from clusters.aws.errors import AwsPermanentError
from clusters.core.timeline import NewEvent, dedupe_key, events_record
from clusters.mirror.writes import SyncStats, changed_fields, mirror_write, rows_insert
from clusters.models import Cluster
from deployments.models import Deployment, Service, Task, TaskContainer, TaskDefinition

STOPPED = "STOPPED"


# --- task definitions ------------------------------------------------------
def task_definitions_ensure(
    *, reader: EcsReader, arns: Iterable[str], stats: SyncStats
) -> dict[str, int]:
    """{arn: pk} for the given ARNs, describing (once ever) the ones not mirrored yet."""
    wanted = {a for a in arns if a}
    have = dict(TaskDefinition.objects.filter(arn__in=wanted).values_list("arn", "pk"))
    new = []
    for arn in sorted(wanted - have.keys()):
        try:
            info = reader.task_definition(arn)
        except AwsPermanentError as exc:  # deleted definitions: keep going without it
            stats.errors.append(f"DescribeTaskDefinition {arn}: {exc}")
            continue
        new.append(
            TaskDefinition(
                arn=info.arn,
                family=info.family,
                revision=info.revision,
                status=info.status,
                compatibilities=info.compatibilities,
                requires_compatibilities=info.requires_compatibilities,
                network_mode=info.network_mode,
                cpu=info.cpu,
                memory=info.memory,
                containers=info.containers,
                task_role_arn=info.task_role_arn,
                execution_role_arn=info.execution_role_arn,
                registered_at=info.registered_at,
            )
        )
    if new:
        TaskDefinition.objects.bulk_create(new, ignore_conflicts=True)
        stats.created += len(new)
        have.update(
            TaskDefinition.objects.filter(arn__in=[t.arn for t in new]).values_list("arn", "pk")
        )
    return have


# --- services --------------------------------------------------------------
def _service_values(info: ServiceInfo, tds: dict[str, int]) -> dict[str, Any]:
    return {
        "name": info.name,
        "status": info.status,
        "desired_count": info.desired_count,
        "running_count": info.running_count,
        "pending_count": info.pending_count,
        "launch_type": info.launch_type,
        "scheduling_strategy": info.scheduling_strategy,
        "deployment_configuration": info.deployment_configuration,
        "task_definition_id": tds.get(info.task_definition_arn),
        "created_at_aws": info.created_at,
        "gone_at": None,
    }


def _subjects(cluster: Cluster) -> dict[str, Any]:
    return {"account": cluster.account.name, "region": cluster.region, "cluster_arn": cluster.arn}


def services_fetch(*, reader: EcsReader, cluster_arn: str) -> list[ServiceInfo]:
    arns = reader.service_arns(cluster_arn)
    return reader.services(cluster_arn, arns) if arns else []


def cluster_services_sync(
    *,
    cluster: Cluster,
    reader: EcsReader,
    stats: SyncStats,
    infos: list[ServiceInfo] | None = None,
) -> dict[str, int]:
    """Services, their deployments and their events. Returns {service name: pk}."""
    if infos is None:
        infos = services_fetch(reader=reader, cluster_arn=cluster.arn)
    td_arns = {i.task_definition_arn for i in infos}
    td_arns |= {d.task_definition_arn for i in infos for d in i.deployments}
    tds = task_definitions_ensure(reader=reader, arns=td_arns, stats=stats)
    now = timezone.now()
    existing = {s.arn: s for s in Service.objects.filter(cluster=cluster)}
    new: list[Service] = []
    changed: list[tuple[Any, list[str]]] = []
    for info in infos:
        svc = existing.get(info.arn)
        if svc is None:
            svc = Service(cluster=cluster, arn=info.arn, first_seen_at=now)
            changed_fields(svc, _service_values(info, tds))
            new.append(svc)
        else:
            names = changed_fields(svc, _service_values(info, tds))
            if names:
                changed.append((svc, names))
    seen = {i.arn for i in infos}
    vanished = [s.pk for arn, s in existing.items() if arn not in seen and s.gone_at is None]
    with transaction.atomic():
        mirror_write(Service, new=new, changed=changed, stats=stats, now=now)
        if vanished:
            stats.gone += Service.objects.filter(pk__in=vanished).update(gone_at=now)
        by_arn = dict(Service.objects.filter(cluster=cluster).values_list("arn", "pk"))
        _deployments_sync(cluster, infos, by_arn, tds, stats, now)
        _service_events_record(cluster, infos, stats)
    return dict(Service.objects.filter(cluster=cluster).values_list("name", "pk"))


def _deployment_values(d: Any, tds: dict[str, int]) -> dict[str, Any]:
    return {
        "status": d.status,
        "rollout_state": d.rollout_state,
        "rollout_state_reason": d.rollout_state_reason,
        "desired_count": d.desired_count,
        "pending_count": d.pending_count,
        "running_count": d.running_count,
        "failed_tasks": d.failed_tasks,
        "launch_type": d.launch_type,
        "task_definition_id": tds.get(d.task_definition_arn),
        "created_at_aws": d.created_at,
        "updated_at_aws": d.updated_at,
    }


def _deployments_sync(
    cluster: Cluster,
    infos: list[ServiceInfo],
    services: dict[str, int],
    tds: dict[str, int],
    stats: SyncStats,
    now: datetime,
) -> None:
    service_ids = [services[i.arn] for i in infos if i.arn in services]
    existing = {d.deployment_id: d for d in Deployment.objects.filter(service_id__in=service_ids)}
    new: list[Deployment] = []
    changed: list[tuple[Any, list[str]]] = []
    events: list[NewEvent] = []
    listed: set[str] = set()
    for info in infos:
        for dinfo in info.deployments:
            listed.add(dinfo.deployment_id)
            row = existing.get(dinfo.deployment_id)
            if row is None:
                row = Deployment(
                    service_id=services[info.arn],
                    deployment_id=dinfo.deployment_id,
                    last_seen_at=now,
                )
                changed_fields(row, _deployment_values(dinfo, tds))
                new.append(row)
                continue
            was = row.rollout_state
            names = changed_fields(row, _deployment_values(dinfo, tds))
            if names:
                changed.append((row, names))
            if "rollout_state" in names and row.rollout_state in ("COMPLETED", "FAILED"):
                events.append(
                    NewEvent(
                        source="deployment",
                        severity="error" if row.rollout_state == "FAILED" else "info",
                        message=f"Deployment {row.deployment_id} of {info.name} "
                        f"{row.rollout_state.lower()} (was {was or 'unknown'})"
                        + (f": {row.rollout_state_reason}" if row.rollout_state_reason else ""),
                        dedupe_key=dedupe_key("deployment", row.deployment_id, row.rollout_state),
                        occurred_at=row.updated_at_aws or now,
                        service_arn=info.arn,
                        details={"deploymentId": row.deployment_id},
                        **_subjects(cluster),
                    )
                )
    # AWS drops a replaced deployment from the service; the mirror keeps it INACTIVE.
    dropped = [d for key, d in existing.items() if key not in listed and d.status != "INACTIVE"]
    for d in dropped:
        d.status = "INACTIVE"
        changed.append((d, ["status"]))
    mirror_write(Deployment, new=new, changed=changed, stats=stats, now=now)
    stats.events += events_record(events)


def _service_events_record(cluster: Cluster, infos: list[ServiceInfo], stats: SyncStats) -> None:
    events = [
        NewEvent(
            source="ecs-service-event",
            severity=_service_event_severity(e.message),
            message=e.message,
            dedupe_key=dedupe_key("ecs-service-event", e.event_id),
            occurred_at=e.created_at,
            service_arn=info.arn,
            details={"eventId": e.event_id, "service": info.name},
            **_subjects(cluster),
        )
        for info in infos
        for e in info.events
    ]
    stats.events += events_record(events)


def _service_event_severity(message: str) -> str:
    text = message.lower()
    if "unable to" in text or "failed" in text or "rolling back" in text:
        return "warning"
    return "info"


# --- tasks -----------------------------------------------------------------
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
        severity = "warning" if bad else "info"
        at = task.stopped_at or now
    else:
        message = f"Task {short} is {task.last_status}" + (f" (was {was})" if was else "")
        severity = "info"
        at = (task.started_at if task.last_status == "RUNNING" else None) or now
    service_arn = ""
    if task.group.startswith("service:"):
        service_arn = cluster.arn.replace(":cluster/", ":service/") + "/" + task.group[8:]
    return NewEvent(
        source="task",
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


def cluster_tasks_sync(
    *,
    cluster: Cluster,
    reader: EcsReader,
    stats: SyncStats,
    instances: dict[str, int],
    services: dict[str, int],
    listings: tuple[Future[list[str]], Future[list[str]]] | None = None,
) -> None:
    """Mirror the cluster's tasks.

    Both listings (desired RUNNING and STOPPED) must complete before anything is
    written. Describes then stream in full batches and each batch is written as it
    arrives; a task mirrored as STOPPED is final and not described again. Gone
    marking happens last, only when every describe answered.
    """
    # Read the mirror's side first: it overlaps the listings already in flight.
    # Rows that can still change; final STOPPED rows AWS no longer lists are history.
    existing = {
        t.arn: t for t in Task.objects.filter(cluster=cluster, gone_at__isnull=True).order_by()
    }
    containers: dict[tuple[int, str], tuple[Any, ...]] = {
        (row[1], row[2]): row
        for row in TaskContainer.objects.filter(task__cluster=cluster, task__gone_at__isnull=True)
        .order_by()
        .values_list("pk", "task_id", "name", *CONTAINER_FIELDS)
    }
    if listings is None:
        running = reader.task_arns(cluster.arn, "RUNNING")
        stopped = reader.task_arns(cluster.arn, STOPPED)
    else:
        running, stopped = listings[0].result(), listings[1].result()
    listed = set(running) | set(stopped)
    to_describe = [a for a in running + stopped if not _final(existing.get(a))]
    # A live row AWS no longer lists: describe it once to learn how it ended.
    to_describe += [a for a, t in existing.items() if a not in listed and not t.is_final]
    to_describe = list(dict.fromkeys(to_describe))
    futures = reader.tasks_stream(cluster.arn, to_describe)
    found: set[str] = set()
    missing: list[str] = []
    had_sync = cluster.last_sync_ok is not None
    tds: dict[str, int] = {}
    try:
        for future in futures:
            infos, batch_missing = future.result()
            missing += batch_missing
            found.update(i.arn for i in infos)
            _tasks_write(
                cluster,
                reader,
                stats,
                infos,
                existing,
                containers,
                instances,
                services,
                had_sync,
                tds,
            )
    finally:
        for future in futures:
            future.cancel()
    vanished = {t.pk for a, t in existing.items() if a not in listed and a not in found}
    vanished |= {existing[a].pk for a in missing if a in existing}
    if vanished:
        stats.gone += Task.objects.filter(pk__in=vanished, gone_at__isnull=True).update(
            gone_at=timezone.now()
        )


def _tasks_write(
    cluster: Cluster,
    reader: EcsReader,
    stats: SyncStats,
    infos: list[TaskInfo],
    existing: dict[str, Task],
    containers: dict[tuple[int, str], tuple[Any, ...]],
    instances: dict[str, int],
    services: dict[str, int],
    had_sync: bool,
    tds: dict[str, int],
) -> None:
    unknown = {i.task_definition_arn for i in infos} - tds.keys()
    if unknown:
        tds.update(task_definitions_ensure(reader=reader, arns=unknown, stats=stats))
    now = timezone.now()
    new: list[dict[str, Any]] = []
    new_infos: list[TaskInfo] = []
    changed: list[tuple[Any, list[str]]] = []
    known_infos: list[TaskInfo] = []
    events: list[NewEvent] = []
    for info in infos:
        task = existing.get(info.arn)
        values = _task_values(info, instances, tds, services)
        if task is None:
            values.update(cluster_id=cluster.pk, arn=info.arn, first_seen_at=now, last_seen_at=now)
            new.append(values)
            new_infos.append(info)
            if had_sync or info.last_status == STOPPED:
                fresh = Task(**values)
                events.append(_task_event(cluster, fresh, info, "", now))
            continue
        was = task.last_status
        names = changed_fields(task, values)
        known_infos.append(info)
        if names:
            changed.append((task, names))
            if "last_status" in names:
                events.append(_task_event(cluster, task, info, was, now))
    new_rows, changed_rows = _containers_diff(known_infos, existing, containers)
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


CONTAINER_FIELDS = ("image", "last_status", "exit_code", "reason", "health_status", "runtime_id")


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
    current: dict[tuple[int, str], tuple[Any, ...]],
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
