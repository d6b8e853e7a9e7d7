"""The drift rules: one function per finding kind, like the dashboard's rules.

Each rule reads a ``DriftSnapshot`` (the hosts and their current containers, loaded
once) plus what only it needs, and yields the ``Spec`` of every finding of its kind
that holds now. ``DRIFT_RULES`` lists them in the order findings are opened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q

from clusters.display import timestamp_text
from clusters.models import Cluster, Container, ContainerInstance, DockerHost
from deployments.health import AGENT_DISCONNECT_GRACE, host_unreachable_grace
from deployments.models import DriftKind, DriftSeverity, Task


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
class DriftSnapshot:
    now: datetime
    hosts: list[DockerHost]
    # Only a host whose listing is current can speak for its containers.
    reachable: list[DockerHost]
    containers: list[Container]  # of reachable hosts: ECS-labelled ones and ecs-agent

    @property
    def running_ecs(self) -> list[Container]:
        return [c for c in self.containers if c.state == "running" and c.ecs_task_arn]


Rule = Callable[[DriftSnapshot], Iterable[Spec]]


def drift_snapshot(*, now: datetime) -> DriftSnapshot:
    hosts = list(
        DockerHost.objects.filter(enabled=True).select_related(
            "container_instance", "container_instance__cluster"
        )
    )
    reachable = [h for h in hosts if h.reachable and h.last_ok_at is not None]
    containers = list(
        Container.objects.filter(host__in=reachable, gone_at__isnull=True)
        .filter(~Q(ecs_task_arn="") | Q(name="ecs-agent"))
        .select_related("host")
    )
    return DriftSnapshot(now=now, hosts=hosts, reachable=reachable, containers=containers)


def _unreachable_after() -> timedelta:
    return host_unreachable_grace()


def rule_host_unreachable(snap: DriftSnapshot) -> Iterable[Spec]:
    """4. A Docker host unreachable for more than two sync intervals."""
    for h in snap.hosts:
        if h.reachable or not h.unreachable_since:
            continue
        if snap.now - h.unreachable_since <= _unreachable_after():
            continue
        yield Spec(
            DriftKind.HOST_UNREACHABLE,
            f"host-unreachable|{h.pk}",
            DriftSeverity.ERROR,
            f"Docker host {h.name} has been unreachable since "
            f"{timestamp_text(h.unreachable_since)}: {h.last_error[:200]}",
            host=h,
            instance=h.container_instance,
        )


def rule_task_without_container(snap: DriftSnapshot) -> Iterable[Spec]:
    """1. A RUNNING task with no running container on its instance's reachable host."""
    running_for_task = {(c.host_id, c.ecs_task_arn) for c in snap.running_ecs}
    by_instance = {h.container_instance_id: h for h in snap.reachable if h.container_instance_id}
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
        assert host.last_ok_at is not None
        if host.last_ok_at <= t.first_seen_at or (host.pk, t.arn) in running_for_task:
            continue
        yield Spec(
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


def _synced_clusters() -> dict[str, Cluster]:
    """Clusters whose last sync succeeded, by name and by ARN (labels carry either)."""
    synced: dict[str, Cluster] = {}
    for cl in Cluster.objects.filter(last_sync_ok=True, last_sync_at__isnull=False):
        synced[cl.name] = cl
        synced[cl.arn] = cl
    return synced


def _orphan_reason(
    c: Container, task: Task | None, synced: dict[str, Cluster]
) -> tuple[str, str] | None:
    """Why a running ECS container is an orphan, and its cluster ARN; None if it is not."""
    if task is not None and not task.is_gone:
        if task.last_status != "STOPPED":
            return None
        return "is STOPPED in ECS", task.cluster.arn
    cluster = synced.get(c.ecs_cluster)
    seen = c.started_at or c.created or c.first_seen_at
    if cluster is None or cluster.last_sync_at is None or cluster.last_sync_at <= seen:
        return None  # ECS has not been asked since this container appeared
    return "is unknown to ECS", cluster.arn


def rule_orphan_container(snap: DriftSnapshot) -> Iterable[Spec]:
    """2. A running ECS container whose task is STOPPED, or unknown to a synced cluster."""
    running_ecs = snap.running_ecs
    known = {
        t.arn: t
        for t in Task.objects.filter(arn__in={c.ecs_task_arn for c in running_ecs}).select_related(
            "cluster"
        )
    }
    synced = _synced_clusters()
    for c in running_ecs:
        task = known.get(c.ecs_task_arn)
        reason = _orphan_reason(c, task, synced)
        if reason is None:
            continue
        why, cluster_arn = reason
        yield Spec(
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


def _agent_problem(agent: Container | None) -> tuple[str, str] | None:
    if agent is None:
        return "missing", DriftSeverity.ERROR
    if agent.state != "running":
        return f"not running ({agent.state})", DriftSeverity.ERROR
    if agent.health == "unhealthy":
        return "unhealthy", DriftSeverity.WARNING
    return None


def rule_agent_container(snap: DriftSnapshot) -> Iterable[Spec]:
    """3a. The ecs-agent container missing, stopped or unhealthy on an external instance's host."""
    agents = {c.host_id: c for c in snap.containers if c.name == "ecs-agent"}
    for h in snap.reachable:
        inst = h.container_instance
        if inst is None or not inst.is_external or inst.is_gone:
            continue
        agent = agents.get(h.pk)
        found = _agent_problem(agent)
        if found is None:
            continue
        problem, severity = found
        yield Spec(
            DriftKind.AGENT_CONTAINER,
            f"agent-container|{h.pk}|{problem.split(' ')[0]}",
            severity,
            f"The ECS agent container on {h.name} ({inst}) is {problem}",
            host=h,
            container=agent,
            instance=inst,
            cluster_arn=inst.cluster.arn,
        )


def rule_agent_disconnected(snap: DriftSnapshot) -> Iterable[Spec]:
    """3b. agentConnected false for more than 5 minutes (brief disconnects are normal)."""
    host_of = {h.container_instance_id: h for h in snap.hosts if h.container_instance_id}
    disconnected = ContainerInstance.objects.filter(
        is_external=True, gone_at__isnull=True, agent_connected=False
    ).select_related("cluster")
    for inst in disconnected:
        since = inst.agent_connected_changed_at or inst.first_seen_at
        if snap.now - since <= AGENT_DISCONNECT_GRACE:
            continue
        yield Spec(
            DriftKind.AGENT_DISCONNECTED,
            f"agent-disconnected|{inst.arn}",
            DriftSeverity.ERROR,
            f"The ECS agent of {inst} has been disconnected since {timestamp_text(since)}",
            host=host_of.get(inst.pk),
            instance=inst,
            cluster_arn=inst.cluster.arn,
        )


DRIFT_RULES: list[Rule] = [
    rule_host_unreachable,
    rule_task_without_container,
    rule_orphan_container,
    rule_agent_container,
    rule_agent_disconnected,
]
