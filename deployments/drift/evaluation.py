"""Drift: where ECS and the Docker hosts disagree.

``drift_evaluate`` computes the findings that hold now from the two mirrors
(no API calls), opens the new ones and resolves the ones that stopped holding;
every open and resolve is a timeline event. Rules (issue 5):

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
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clusters.core.locks import Lock
from clusters.core.timeline import NewEvent, events_record
from clusters.models import Cluster, Container, ContainerInstance, DockerHost, EventSource
from deployments.models import DriftFinding, DriftKind, DriftSeverity, Task

log = logging.getLogger(__name__)

AGENT_DISCONNECT_GRACE = timedelta(minutes=5)
UNREACHABLE_SYNCS = 2
LOCK_NAME = "drift-evaluate"


@dataclass
class Spec:
    kind: str
    key: str
    severity: str
    message: str
    host: DockerHost | None = None
    container: Container | None = None
    task: Task | None = None
    instance: ContainerInstance | None = None
    cluster_arn: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class DriftResult:
    opened: list[DriftFinding] = field(default_factory=list)
    resolved: list[DriftFinding] = field(default_factory=list)
    open_count: int = 0
    skipped: bool = False


def _unreachable_after() -> timedelta:
    return timedelta(seconds=UNREACHABLE_SYNCS * settings.FLEETDECK_DOCKER_SYNC_INTERVAL_SECONDS)


def drift_current(*, now: datetime) -> dict[str, Spec]:
    """Every finding that holds now, by key. A fixed number of queries."""
    specs: dict[str, Spec] = {}

    def add(spec: Spec) -> None:
        specs[spec.key] = spec

    hosts = list(
        DockerHost.objects.filter(enabled=True).select_related(
            "container_instance", "container_instance__cluster"
        )
    )
    # 4. unreachable for more than two sync intervals
    for h in hosts:
        if (
            not h.reachable
            and h.unreachable_since
            and now - h.unreachable_since > _unreachable_after()
        ):
            add(
                Spec(
                    DriftKind.HOST_UNREACHABLE,
                    f"host-unreachable|{h.pk}",
                    DriftSeverity.ERROR,
                    f"Docker host {h.name} has been unreachable since "
                    f"{h.unreachable_since:%Y-%m-%d %H:%M:%S} UTC: {h.last_error[:200]}",
                    host=h,
                    instance=h.container_instance,
                )
            )
    # Only a host whose listing is current can speak for its containers.
    reachable = [h for h in hosts if h.reachable and h.last_ok_at is not None]
    containers = list(
        Container.objects.filter(host__in=reachable, gone_at__isnull=True)
        .filter(~Q(ecs_task_arn="") | Q(name="ecs-agent"))
        .select_related("host")
    )
    running_for_task = {
        (c.host_id, c.ecs_task_arn) for c in containers if c.state == "running" and c.ecs_task_arn
    }

    # 1. RUNNING task, no running container on the linked host
    by_instance = {h.container_instance_id: h for h in reachable if h.container_instance_id}
    tasks = Task.objects.filter(
        container_instance_id__in=list(by_instance),
        last_status="RUNNING",
        gone_at__isnull=True,
    ).select_related("cluster", "container_instance")
    for t in tasks:
        host = by_instance.get(t.container_instance_id or 0)
        if host is None:
            continue
        # Our own clock, not AWS's startedAt: the two clocks may disagree, and what
        # matters is that the host was listed after the mirror learnt of the task.
        started = t.first_seen_at
        assert host.last_ok_at is not None
        if host.last_ok_at <= started or (host.pk, t.arn) in running_for_task:
            continue
        add(
            Spec(
                DriftKind.TASK_WITHOUT_CONTAINER,
                f"task-without-container|{t.arn}",
                DriftSeverity.ERROR,
                f"ECS says task {t.short_id} is RUNNING on {t.container_instance}, but Docker "
                f"host {host.name} has no running container for it",
                host=host,
                task=t,
                instance=t.container_instance,
                cluster_arn=t.cluster.arn,
            )
        )

    # 2. orphan containers
    running_ecs = [c for c in containers if c.state == "running" and c.ecs_task_arn]
    known = {
        t.arn: t
        for t in Task.objects.filter(arn__in={c.ecs_task_arn for c in running_ecs}).select_related(
            "cluster"
        )
    }
    synced_clusters: dict[str, Cluster] = {}
    for cl in Cluster.objects.filter(last_sync_ok=True, last_sync_at__isnull=False):
        synced_clusters[cl.name] = cl
        synced_clusters[cl.arn] = cl
    for c in running_ecs:
        task = known.get(c.ecs_task_arn)
        if task is not None and not task.is_gone:
            if task.last_status != "STOPPED":
                continue
            why = "is STOPPED in ECS"
            cluster_arn = task.cluster.arn
        else:
            cluster = synced_clusters.get(c.ecs_cluster)
            seen = c.started_at or c.created or c.first_seen_at
            if cluster is None or cluster.last_sync_at is None or cluster.last_sync_at <= seen:
                continue  # ECS has not been asked since this container appeared
            why = "is unknown to ECS"
            cluster_arn = cluster.arn
        add(
            Spec(
                DriftKind.ORPHAN_CONTAINER,
                f"orphan-container|{c.host_id}|{c.container_id}",
                DriftSeverity.WARNING,
                f"Container {c.name} on {c.host.name} is running, but its task "
                f"{c.ecs_task_arn.rsplit('/', 1)[-1]} {why}",
                host=c.host,
                container=c,
                task=task,
                cluster_arn=cluster_arn,
            )
        )

    # 3a. the agent container on hosts of external instances
    agents: dict[int, Container] = {}
    for c in containers:
        if c.name == "ecs-agent":
            agents[c.host_id] = c
    for h in reachable:
        inst = h.container_instance
        if inst is None or not inst.is_external or inst.is_gone:
            continue
        agent = agents.get(h.pk)
        if agent is None:
            problem, severity = "missing", DriftSeverity.ERROR
        elif agent.state != "running":
            problem, severity = f"not running ({agent.state})", DriftSeverity.ERROR
        elif agent.health == "unhealthy":
            problem, severity = "unhealthy", DriftSeverity.WARNING
        else:
            continue
        add(
            Spec(
                DriftKind.AGENT_CONTAINER,
                f"agent-container|{h.pk}|{problem.split(' ')[0]}",
                severity,
                f"The ECS agent container on {h.name} ({inst}) is {problem}",
                host=h,
                container=agent,
                instance=inst,
                cluster_arn=inst.cluster.arn,
            )
        )

    # 3b. agentConnected false for more than 5 minutes (brief disconnects are normal)
    host_of = {h.container_instance_id: h for h in hosts if h.container_instance_id}
    disconnected = ContainerInstance.objects.filter(
        is_external=True, gone_at__isnull=True, agent_connected=False
    ).select_related("cluster")
    for inst in disconnected:
        since = inst.agent_connected_changed_at or inst.first_seen_at
        if now - since <= AGENT_DISCONNECT_GRACE:
            continue
        add(
            Spec(
                DriftKind.AGENT_DISCONNECTED,
                f"agent-disconnected|{inst.arn}",
                DriftSeverity.ERROR,
                f"The ECS agent of {inst} has been disconnected since "
                f"{since:%Y-%m-%d %H:%M:%S} UTC",
                host=host_of.get(inst.pk),
                instance=inst,
                cluster_arn=inst.cluster.arn,
            )
        )
    return specs


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
        severity=f.severity if what == "opened" else "info",
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
