"""What the health rules read, loaded for a scope (some clusters, or the whole
fleet) in a fixed number of queries, whatever its size."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, OuterRef, Q, Subquery

from clusters.health import HealthState
from clusters.models import (
    AwsAccount,
    Cluster,
    Container,
    ContainerInstance,
    DockerHost,
    Event,
    EventSource,
    InstanceAdmission,
    SyncRun,
)
from clusters.stream.selectors import mirror_fresh_at, stream_ok_at
from deployments.models import Deployment, Service, Task, TaskContainer

# How far back failed task stops and placement failures are read.
FAILED_TASKS_WINDOW = timedelta(hours=1)
# Stops the scheduler or a person asked for are not crashes, whatever the exit code
# (143 is SIGTERM on a graceful stop); an OOM kill always is.
REQUESTED_STOPS = ("ServiceSchedulerInitiated", "UserInitiated")
OOM_MARKER = "OutOfMemory"

PLACEMENT_FAILED = "was unable to place a task"
STEADY_STATE = "has reached a steady state"
_CLOSEST = re.compile(r"closest matching \(?container-instance (?P<id>[\w-]+)\)?")
_RESOURCE = re.compile(
    r"insufficient (?P<what>memory|CPU units|CPU|ports?) available"
    r"|(?P<port>already using a port)|(?P<attr>missing an attribute)"
    r"|(?P<none>No Container Instances were found)|(?P<agent>error 'AGENT')",
)


def stale_after() -> timedelta:
    """Data older than a few missed sync intervals is unknown, never green."""
    interval = settings.FLEETDECK_SYNC_INTERVAL_SECONDS
    return timedelta(seconds=max(5 * interval, 300))


def host_stale_after() -> timedelta:
    interval = settings.FLEETDECK_DOCKER_SYNC_INTERVAL_SECONDS
    return timedelta(seconds=max(5 * interval, 300))


@dataclass(frozen=True)
class Stop:
    """A task stop that counts as a failure (non-zero exit or OOM, not requested)."""

    task_id: int
    task_arn: str
    stopped_at: datetime
    exit_code: int | None
    oom: bool
    task_definition_id: int | None = None


@dataclass(frozen=True)
class PlacementFailure:
    message: str
    first_at: datetime  # the first failure since the service was last steady
    last_at: datetime
    resource: str  # memory, cpu, ports, attribute, agent, instances, unknown
    closest_instance: str  # the instance id AWS named ("" when none)


@dataclass
class Facts:
    now: datetime
    clusters: list[Cluster]
    accounts: list[AwsAccount]
    services: list[Service]
    instances: list[ContainerInstance]
    hosts: list[DockerHost]
    newest_deployment: dict[int, Deployment] = field(default_factory=dict)
    # Per service: the task definitions its live (PRIMARY or ACTIVE) deployments run.
    live_task_definitions: dict[int, set[int | None]] = field(default_factory=dict)
    # FAILED deployments of the last hour that are no longer PRIMARY (rolled back).
    recent_failed: dict[int, list[Deployment]] = field(default_factory=dict)
    stops: dict[int, list[Stop]] = field(default_factory=dict)
    placement: dict[str, PlacementFailure] = field(default_factory=dict)
    on_disconnected: dict[int, int] = field(default_factory=dict)
    waiting_instance_ids: set[int] = field(default_factory=set)
    # Per Docker host: containers restarting, or failing their health check.
    troubled_containers: dict[int, list[tuple[str, str]]] = field(default_factory=dict)

    def cluster_last_ok(self, cluster: Cluster) -> datetime | None:
        """The newest successful sync of the cluster (or of its account's listing)."""
        found = [getattr(cluster, "last_ok_run", None), getattr(cluster, "account_ok_run", None)]
        if cluster.last_sync_ok and cluster.last_sync_at:
            found.append(cluster.last_sync_at)
        present = [f for f in found if f is not None]
        return mirror_fresh_at(max(present) if present else None, cluster)


def facts_load(
    *, now: datetime, cluster_ids: list[int] | None = None, host_ids: list[int] | None = None
) -> Facts:
    """``cluster_ids``/``host_ids`` None: the whole fleet; [] : none of them."""
    clusters = _clusters(cluster_ids)
    ids = [c.pk for c in clusters]
    # Gone rows are read until they are stored inactive (they keep their last state
    # otherwise, and a service AWS deleted would stay "healthy").
    live_or_stale = Q(gone_at__isnull=True) | ~Q(health_state=HealthState.INACTIVE)
    services = list(
        Service.objects.filter(live_or_stale, cluster_id__in=ids).select_related("task_definition")
    )
    facts = Facts(
        now=now,
        clusters=clusters,
        accounts=list(AwsAccount.objects.filter(pk__in={c.account_id for c in clusters})),
        services=services,
        instances=list(ContainerInstance.objects.filter(live_or_stale, cluster_id__in=ids)),
        hosts=_hosts(host_ids),
    )
    _deployments_attach(facts)
    _stops_attach(facts)
    _placement_attach(facts)
    _disconnected_attach(facts, ids)
    facts.waiting_instance_ids = set(
        InstanceAdmission.objects.filter(
            state=InstanceAdmission.State.PENDING, container_instance__cluster_id__in=ids
        ).values_list("container_instance_id", flat=True)
    )
    _containers_attach(facts)
    return facts


def _clusters(cluster_ids: list[int] | None) -> list[Cluster]:
    # A gone cluster is read once more, to store it and its children inactive.
    live_or_stale = Q(gone_at__isnull=True) | ~Q(health_state=HealthState.INACTIVE)
    qs = Cluster.objects.filter(live_or_stale).select_related("account")
    if cluster_ids is not None:
        qs = qs.filter(pk__in=cluster_ids)
    return list(
        qs.annotate(
            last_ok_run=_newest_success(cluster=OuterRef("pk")),
            account_ok_run=_newest_success(account=OuterRef("account_id"), cluster__isnull=True),
            stream_ok_at=stream_ok_at(),
        )
    )


def _hosts(host_ids: list[int] | None) -> list[DockerHost]:
    qs = DockerHost.objects.all()
    if host_ids is not None:
        qs = qs.filter(pk__in=host_ids)
    return list(qs)


def _newest_success(**owner: Any) -> Subquery:
    """One probe of ``syncrun_*_success_idx`` per cluster (see that index)."""
    return Subquery(
        SyncRun.objects.filter(status="succeeded", finished_at__isnull=False, **owner)
        .order_by("-finished_at")
        .values("finished_at")[:1]
    )


def _deployments_attach(facts: Facts) -> None:
    """The newest PRIMARY deployment of each service (ECS keeps the newest one
    PRIMARY), the task definitions its live deployments run, and its FAILED
    deployments of the last hour that are no longer PRIMARY (rolled back)."""
    ids = [s.pk for s in facts.services]
    live = Q(status__in=("PRIMARY", "ACTIVE"))
    recent = Q(rollout_state="FAILED", updated_at_aws__gte=facts.now - FAILED_TASKS_WINDOW)
    rows = Deployment.objects.filter(live | recent, service_id__in=ids)
    for d in rows.select_related("task_definition"):
        if d.status in ("PRIMARY", "ACTIVE"):
            facts.live_task_definitions.setdefault(d.service_id, set()).add(d.task_definition_id)
        if d.status != "PRIMARY":
            if d.rollout_state == "FAILED":
                facts.recent_failed.setdefault(d.service_id, []).append(d)
            continue
        seen = facts.newest_deployment.get(d.service_id)
        if seen is None or deployment_key(d) > deployment_key(seen):
            facts.newest_deployment[d.service_id] = d


def deployment_key(d: Deployment) -> tuple[float, int]:
    return (d.created_at_aws.timestamp() if d.created_at_aws else 0.0, d.pk)


def _stops_attach(facts: Facts) -> None:
    ids = [s.pk for s in facts.services]
    failure = (Q(exit_code__isnull=False) & ~Q(exit_code=0)) | Q(reason__contains=OOM_MARKER)
    rows = (
        TaskContainer.objects.filter(
            failure,
            task__service_id__in=ids,
            task__stopped_at__gte=facts.now - _stops_window(),
        )
        .values(
            "task_id",
            "task__arn",
            "task__service_id",
            "task__stopped_at",
            "task__stop_code",
            "task__task_definition_id",
            "exit_code",
            "reason",
        )
        .order_by("task__stopped_at", "task_id")
    )
    seen: set[int] = set()
    by_service: dict[int, list[Stop]] = defaultdict(list)
    for row in rows:
        oom = OOM_MARKER in (row["reason"] or "")
        requested = row["task__stop_code"] in REQUESTED_STOPS and not oom
        if row["task_id"] in seen or requested or row["task__stopped_at"] is None:
            continue
        seen.add(row["task_id"])
        by_service[row["task__service_id"]].append(
            Stop(
                row["task_id"],
                row["task__arn"],
                row["task__stopped_at"],
                row["exit_code"],
                oom,
                row["task__task_definition_id"],
            )
        )
    facts.stops = dict(by_service)


def _stops_window() -> timedelta:
    return max(FAILED_TASKS_WINDOW, timedelta(minutes=settings.FLEETDECK_CRASH_LOOP_MINUTES))


def _placement_attach(facts: Facts) -> None:
    """Per service ARN: the placement failures since its last steady state, when the
    newest event about either is a failure."""
    arns = {s.arn for s in facts.services}
    rows = (
        Event.objects.filter(
            Q(message__contains=PLACEMENT_FAILED) | Q(message__contains=STEADY_STATE),
            source=EventSource.ECS_SERVICE_EVENT,
            occurred_at__gte=facts.now - FAILED_TASKS_WINDOW,
            service_arn__in=arns,
        )
        .values("service_arn", "message", "occurred_at")
        .order_by("occurred_at", "id")
    )
    streaks: dict[str, list[dict[str, Any]]] = {}
    row: dict[str, Any]
    for row in rows:  # type: ignore[assignment]
        if row["service_arn"] not in arns:
            continue
        if STEADY_STATE in row["message"]:
            streaks.pop(row["service_arn"], None)
        else:
            streaks.setdefault(row["service_arn"], []).append(row)
    facts.placement = {arn: _placement(rows) for arn, rows in streaks.items()}


def _placement(rows: list[dict[str, Any]]) -> PlacementFailure:
    last = rows[-1]
    message = last["message"]
    closest = _CLOSEST.search(message)
    return PlacementFailure(
        message=message,
        first_at=rows[0]["occurred_at"],
        last_at=last["occurred_at"],
        resource=placement_resource(message),
        closest_instance=closest.group("id") if closest else "",
    )


def placement_resource(message: str) -> str:
    found = _RESOURCE.search(message)
    if found is None:
        return "unknown"
    if found.group("what"):
        return {"memory": "memory"}.get(
            found.group("what"), "cpu" if "CPU" in found.group("what") else "ports"
        )
    for name, resource in (("port", "ports"), ("attr", "attribute"), ("none", "instances")):
        if found.group(name):
            return resource
    return "agent"


def _disconnected_attach(facts: Facts, cluster_ids: list[int]) -> None:
    rows = (
        Task.objects.filter(
            cluster_id__in=cluster_ids,
            last_status="RUNNING",
            service__isnull=False,
            container_instance__agent_connected=False,
        )
        .values("service_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    facts.on_disconnected = {r["service_id"]: r["n"] for r in rows}


def _containers_attach(facts: Facts) -> None:
    rows = (
        Container.objects.filter(host_id__in=[h.pk for h in facts.hosts], gone_at__isnull=True)
        .filter(Q(state="restarting") | Q(state="running", health="unhealthy"))
        .values_list("host_id", "name", "state")
        .order_by("name")
    )
    for host_id, name, state in rows:
        trouble = "restarting" if state == "restarting" else "unhealthy"
        facts.troubled_containers.setdefault(host_id, []).append((name, trouble))
