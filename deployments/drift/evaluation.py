"""Drift: where ECS and the Docker hosts disagree.

``drift_evaluate`` computes the findings that hold now from the two mirrors
(no API calls), opens the new ones and resolves the ones that stopped holding;
every open and resolve is a timeline event. Rules (issue 5; one function per
kind in ``deployments.drift.rules``):

1. an ECS task RUNNING on an instance whose host's listing, taken after the
   mirror first saw the task, has no running container for it;
2. a running container with ECS labels whose task is STOPPED, or unknown to ECS
   although its cluster has been mirrored since the container started (orphan);
3. the ``ecs-agent`` container missing, stopped or unhealthy on a host linked to an
   external instance; or the instance's agentConnected false for > 5 minutes;
4. a Docker host unreachable for more than 2 sync intervals.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clusters.core.locks import Lock
from clusters.core.timeline import NewEvent, events_record
from clusters.models import Container, ContainerInstance, DockerHost, EventSeverity, EventSource
from deployments.drift.rules import DRIFT_RULES, Spec, drift_snapshot
from deployments.models import DriftFinding, Task

log = logging.getLogger(__name__)

LOCK_NAME = "drift-evaluate"


@dataclass
class DriftResult:
    opened: list[DriftFinding] = field(default_factory=list)
    resolved: list[DriftFinding] = field(default_factory=list)
    open_count: int = 0
    skipped: bool = False


def drift_current(*, now: datetime) -> dict[str, Spec]:
    """Every finding that holds now, by key. A fixed number of queries."""
    snap = drift_snapshot(now=now)
    return {spec.key: spec for rule in DRIFT_RULES for spec in rule(snap)}


def _autolink_by_tasks(hosts_containers: list[Container]) -> None:
    """Link unlinked hosts to the one instance their ECS containers' tasks run on."""
    by_host: dict[int, set[str]] = {}
    for c in hosts_containers:
        if c.host.container_instance_id is None and c.ecs_task_arn:
            by_host.setdefault(c.host_id, set()).add(c.ecs_task_arn)
    if not by_host:
        return
    all_arns = set().union(*by_host.values())
    inst_of = dict(
        Task.objects.filter(arn__in=all_arns, container_instance__isnull=False).values_list(
            "arn", "container_instance_id"
        )
    )
    for host_id, arns in by_host.items():
        instances = {inst_of[a] for a in arns if a in inst_of}
        if len(instances) == 1:
            DockerHost.objects.filter(pk=host_id, container_instance__isnull=True).update(
                container_instance_id=instances.pop(), link_source="auto:task-arn"
            )


def drift_evaluate(*, now: datetime | None = None) -> DriftResult:
    """Open and resolve findings so that the open ones are exactly what holds now.

    Idempotent; one evaluation at a time (a second caller returns ``skipped``).
    """
    now = now or timezone.now()
    lock = Lock(LOCK_NAME, ttl=120)
    if not lock.acquire():
        return DriftResult(skipped=True)
    try:
        _autolink_by_tasks(
            list(
                Container.objects.filter(
                    gone_at__isnull=True, host__container_instance__isnull=True
                )
                .exclude(ecs_task_arn="")
                .select_related("host")
            )
        )
        with transaction.atomic():
            return _apply(drift_current(now=now), now)
    finally:
        lock.release()


def _apply(current: dict[str, Spec], now: datetime) -> DriftResult:
    result = DriftResult()
    open_now = {f.key: f for f in DriftFinding.objects.filter(resolved_at__isnull=True)}
    events: list[NewEvent] = []
    for key, spec in current.items():
        if key in open_now:
            continue
        finding = DriftFinding.objects.create(
            kind=spec.kind,
            key=key,
            severity=spec.severity,
            message=spec.message,
            opened_at=now,
            last_checked_at=now,
            details=spec.details,
            docker_host=spec.host,
            container=spec.container,
            task=spec.task,
            container_instance=spec.instance,
            docker_host_name=spec.host.name if spec.host else "",
            docker_container_id=spec.container.container_id if spec.container else "",
            task_arn=spec.task.arn if spec.task else "",
            instance_arn=spec.instance.arn if spec.instance else "",
            cluster_arn=spec.cluster_arn,
        )
        result.opened.append(finding)
        events.append(_event(finding, "opened", now))
    for key, finding in open_now.items():
        if key in current:
            continue
        finding.resolved_at = now
        finding.save(update_fields=["resolved_at"])
        result.resolved.append(finding)
        events.append(_event(finding, "resolved", now))
    still = [f.pk for k, f in open_now.items() if k in current]
    if still:
        DriftFinding.objects.filter(pk__in=still).update(last_checked_at=now)
    events_record(events)
    result.open_count = len(current)
    return result


def _event(f: DriftFinding, what: str, now: datetime) -> NewEvent:
    return NewEvent(
        source=EventSource.DRIFT,
        severity=f.severity if what == "opened" else EventSeverity.INFO,
        message=f"Drift {what}: {f.message}",
        dedupe_key=f"drift|{what}|{f.pk}",
        occurred_at=now,
        docker_host=f.docker_host_name,
        container_id=f.docker_container_id,
        task_arn=f.task_arn,
        instance_arn=f.instance_arn,
        cluster_arn=f.cluster_arn,
        details={"kind": f.kind, "finding_id": f.pk, "key": f.key},
    )


def drift_findings(
    *,
    host: DockerHost | None = None,
    instance: ContainerInstance | None = None,
    include_resolved: bool = False,
    limit: int = 50,
) -> list[DriftFinding]:
    """Findings for a page (one query): open first, newest first."""
    qs = DriftFinding.objects.select_related(
        "docker_host", "container", "task", "container_instance"
    )
    if not include_resolved:
        qs = qs.filter(resolved_at__isnull=True)
    if host is not None:
        cond = Q(docker_host=host)
        if host.container_instance_id:
            cond |= Q(container_instance_id=host.container_instance_id)
        qs = qs.filter(cond)
    if instance is not None:
        qs = qs.filter(Q(container_instance=instance) | Q(docker_host__container_instance=instance))
    return list(qs.order_by("resolved_at", "-opened_at", "-id")[:limit])
