"""Writing one cluster's workloads into the mirror: task definitions, services
with their deployments and events (tasks with their containers: ``task_sync``).

The writers upsert by ARN, write only changed rows and record a timeline event
per state change; nothing is marked gone unless its listing completed, and a task
mirrored as STOPPED is final and never described again. The order of the phases,
the cluster's lock and the run's bookkeeping are ``deployments.sync``'s job.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from clusters.aws.ecs import EcsReader, ServiceInfo
from clusters.aws.errors import AwsPermanentError
from clusters.core.timeline import NewEvent, dedupe_key, events_record
from clusters.mirror.writes import SyncStats, changed_fields, mirror_write
from clusters.models import Cluster, EventSeverity, EventSource
from deployments.health import service_event_severity
from deployments.models import Deployment, Service, TaskDefinition

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
                volumes=info.volumes,
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
        "load_balancers": info.load_balancers,
        "service_registries": info.service_registries,
        "capacity_provider_strategy": info.capacity_provider_strategy,
        "service_connect_configuration": info.service_connect_configuration,
        "gone_at": None,
    }


def _subjects(cluster: Cluster) -> dict[str, Any]:
    return {"account": cluster.account.name, "region": cluster.region, "cluster_arn": cluster.arn}


def services_fetch(
    *, reader: EcsReader, cluster_arn: str, mirrored: set[str] | None = None
) -> list[ServiceInfo]:
    """The cluster's services, described. ``mirrored`` (a light reconcile: the ARNs of
    ``services_mirrored``): only the ones the listing and the mirror disagree on are
    described (new ones, and listed-no-more ones, to learn their status)."""
    arns = reader.service_arns(cluster_arn)
    if mirrored is not None:
        arns = [a for a in arns if a not in mirrored] + sorted(mirrored - set(arns))
    return reader.services(cluster_arn, arns) if arns else []


def services_mirrored(cluster: Cluster) -> set[str]:
    """The ARNs of the services the mirror holds as listed (not gone, not INACTIVE) and
    current: one whose refresh an event asked for and is still wanted is left out, so
    a light reconcile describes it."""
    rows = Service.objects.filter(
        cluster=cluster, gone_at__isnull=True, refresh_wanted_at__isnull=True
    ).exclude(status="INACTIVE")
    return set(rows.values_list("arn", flat=True))


def services_refreshed(cluster: Cluster, infos: list[ServiceInfo], since: datetime) -> None:
    """These services were described after ``since``: a refresh wanted before then was
    made (one wanted later stays wanted)."""
    wanted = Service.objects.filter(
        cluster=cluster, arn__in=[i.arn for i in infos], refresh_wanted_at__lte=since
    )
    if wanted.exists():  # a read first: a sync with nothing to clear writes nothing
        wanted.update(refresh_wanted_at=None)


def cluster_services_sync(
    *,
    cluster: Cluster,
    reader: EcsReader,
    stats: SyncStats,
    infos: list[ServiceInfo] | None = None,
    complete: bool = True,
) -> dict[str, int]:
    """Services, their deployments and their events. Returns {service name: pk}.

    ``complete=False``: ``infos`` describe some of the cluster's services only (a
    targeted refresh), so no other service is marked gone."""
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
    vanished = [
        s.pk for arn, s in existing.items() if complete and arn not in seen and s.gone_at is None
    ]
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
                events.append(_rollout_event(cluster, info, row, was, now))
    # AWS drops a replaced deployment from the service; the mirror keeps it INACTIVE.
    dropped = [d for key, d in existing.items() if key not in listed and d.status != "INACTIVE"]
    for d in dropped:
        d.status = "INACTIVE"
        changed.append((d, ["status"]))
    mirror_write(Deployment, new=new, changed=changed, stats=stats, now=now)
    stats.events += events_record(events)


def _rollout_event(
    cluster: Cluster, info: ServiceInfo, row: Deployment, was: str, now: datetime
) -> NewEvent:
    """A rollout that just ended (COMPLETED or FAILED), for the timeline."""
    return NewEvent(
        source=EventSource.DEPLOYMENT,
        severity=EventSeverity.ERROR if row.rollout_state == "FAILED" else EventSeverity.INFO,
        message=f"Deployment {row.deployment_id} of {info.name} "
        f"{row.rollout_state.lower()} (was {was or 'unknown'})"
        + (f": {row.rollout_state_reason}" if row.rollout_state_reason else ""),
        dedupe_key=dedupe_key("deployment", row.deployment_id, row.rollout_state),
        occurred_at=row.updated_at_aws or now,
        service_arn=info.arn,
        details={"deploymentId": row.deployment_id},
        **_subjects(cluster),
    )


def _service_events_record(cluster: Cluster, infos: list[ServiceInfo], stats: SyncStats) -> None:
    events = [
        NewEvent(
            source=EventSource.ECS_SERVICE_EVENT,
            severity=service_event_severity(e.message),
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
