"""Read queries for the workload pages; each runs a fixed number of queries."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from clusters.health import HealthState, is_unhealthy
from clusters.models import Cluster, ContainerInstance, Event, EventSource
from deployments.health.facts import OOM_MARKER, REQUESTED_STOPS
from deployments.models import (
    ACTIVE_STATUSES,
    Deployment,
    Service,
    ServiceDeployment,
    ServiceRevision,
    Task,
    TaskContainer,
)

TASK_STATUSES = ("running", "pending", "stopped", "all")


def services_query(
    *, cluster: Cluster | None = None, q: str = "", state: str = ""
) -> QuerySet[Service]:
    qs = Service.objects.select_related("cluster", "cluster__account", "task_definition")
    if cluster is not None:
        qs = qs.filter(cluster=cluster)
    if state == "gone":
        qs = qs.filter(gone_at__isnull=False)
    elif state in ("unhealthy", "unsteady"):  # "unsteady": links from before health
        unhealthy = [s for s in HealthState.values if is_unhealthy(s)]
        qs = qs.filter(gone_at__isnull=True, health_state__in=unhealthy)
    elif state in HealthState.values:
        qs = qs.filter(gone_at__isnull=True, health_state=state)
    elif state == "active":
        qs = qs.filter(gone_at__isnull=True)
    if q:
        qs = qs.filter(name__icontains=q)
    return qs.order_by("gone_at", "cluster__name", "name", "id")


def tasks_query(
    *,
    cluster: Cluster | None = None,
    service: Service | None = None,
    instance: ContainerInstance | None = None,
    status: str = "running",
    q: str = "",
) -> QuerySet[Task]:
    """Tasks newest first; stopped ones by stop time, newest first, with their
    containers (the exit codes). Uses the (cluster, last_status, -id) index, so a page
    stays fast with thousands of tasks."""
    qs = Task.objects.select_related("cluster", "service", "container_instance", "task_definition")
    if cluster is not None:
        qs = qs.filter(cluster=cluster)
    if service is not None:
        qs = qs.filter(service=service)
    if instance is not None:
        qs = qs.filter(container_instance=instance)
    if status == "running":
        qs = qs.filter(last_status="RUNNING")
    elif status == "pending":
        qs = qs.filter(last_status__in=["PROVISIONING", "PENDING", "ACTIVATING"])
    elif status == "stopped":
        qs = qs.filter(Q(last_status="STOPPED") | Q(last_status__in=["DEACTIVATING", "STOPPING"]))
    if q:
        qs = qs.filter(Q(arn__icontains=q) | Q(group__icontains=q) | Q(stopped_reason__icontains=q))
    if status == "stopped":
        # One more query per page, however many rows: the exit codes of each task.
        # A task still stopping sorts by when it began to stop.
        stop_time = Coalesce("stopped_at", "stopping_at")
        return qs.prefetch_related("containers").order_by(stop_time.desc(nulls_last=True), "-id")
    return qs.order_by("-id")


# How many of a service's newest stopped tasks the incident header summarises.
RECENT_STOPS = 20


def service_recent_stops(service: Service) -> dict[str, Any]:
    """Exit codes and OOM kills of the service's newest stopped tasks (one query)."""
    rows = list(
        TaskContainer.objects.filter(task__service=service, task__last_status="STOPPED")
        .exclude(exit_code__isnull=True, reason="")
        # A stop the scheduler or a person asked for (a redeploy's 143s) is not a
        # failure, unless it was an OOM kill: the health model's rule, applied before
        # the limit (a big redeploy must not push the failures out of it).
        .exclude(Q(task__stop_code__in=REQUESTED_STOPS) & ~Q(reason__contains=OOM_MARKER))
        .order_by("-task__stopped_at", "-task_id")
        .values("task_id", "exit_code", "reason")[: RECENT_STOPS * 4]
    )
    tasks = list(dict.fromkeys(r["task_id"] for r in rows))[:RECENT_STOPS]
    kept = [r for r in rows if r["task_id"] in set(tasks)]
    codes = Counter(r["exit_code"] for r in kept if r["exit_code"] is not None)
    return {
        "tasks": len(tasks),
        "exit_codes": sorted(codes.items(), key=lambda kv: (-kv[1], kv[0])),
        "oom": len({r["task_id"] for r in kept if OOM_MARKER in (r["reason"] or "")}),
    }


def service_last_placement_failure(service: Service) -> dict[str, Any] | None:
    """The newest "unable to place a task" event, with the instance it names."""
    event = (
        Event.objects.filter(
            service_arn=service.arn,
            source=EventSource.ECS_SERVICE_EVENT,
            message__contains="was unable to place a task",
        )
        .order_by("-occurred_at", "-id")
        .first()
    )
    if event is None:
        return None
    found = re.search(r"container-instance ([\w-]+)", event.message)
    instance = (
        ContainerInstance.objects.filter(cluster=service.cluster, arn__endswith="/" + found[1])
        .only("pk", "arn", "ec2_instance_id")
        .first()
        if found
        else None
    )
    return {"event": event, "instance": instance}


def service_in_flight(*, service: Service, deployments: list[Deployment]) -> bool:
    """Is anything of the service moving (so its page keeps polling)? A redeploy
    not finished, a rollout in progress or two deployments live, or a task starting
    or stopping. Two queries, none when a deployment already says so."""
    live = [d for d in deployments if d.status != "INACTIVE"]
    if len(live) > 1 or any(d.rollout_state == "IN_PROGRESS" for d in live):
        return True
    if service.redeploys.filter(status__in=ACTIVE_STATUSES).exists():
        return True
    settled = Q(last_status="RUNNING", desired_status="RUNNING") | Q(last_status="STOPPED")
    return service.tasks.filter(gone_at__isnull=True).exclude(settled).exists()


# Stops older than this are history by the time the logs are read (AWS itself forgets
# stopped tasks after about an hour); a first sync of a big fleet does not read them all.
LAST_WORDS_RECENT = timedelta(hours=6)


def failed_containers_without_last_words(cluster_id: int) -> QuerySet[TaskContainer]:
    """Containers of recently stopped tasks of the cluster that exited non-zero or
    were OOM-killed and whose last words were never asked for (deployments.logs),
    newest stop first: one query."""
    failed = (Q(exit_code__isnull=False) & ~Q(exit_code=0)) | Q(reason__contains="OutOfMemory")
    return TaskContainer.objects.filter(
        failed,
        task__cluster_id=cluster_id,
        task__last_status="STOPPED",
        task__stopped_at__gte=timezone.now() - LAST_WORDS_RECENT,
        last_words__isnull=True,
    ).order_by("-task__stopped_at", "pk")


HISTORY_ROWS = 20


def service_deployment_history(
    service: Service, *, limit: int = HISTORY_ROWS
) -> list[ServiceDeployment]:
    """The service's deployments as ECS's deployment history has them (mirrored by
    ``deployments.deployment_history``, kept past AWS's 90 days), newest first, each with
    ``target`` (its ServiceRevision, or None when not described yet). Two queries."""
    rows = list(ServiceDeployment.objects.filter(service=service)[:limit])
    arns = {r.target_revision_arn for r in rows if r.target_revision_arn}
    revisions = {
        rev.arn: rev
        for rev in ServiceRevision.objects.filter(arn__in=arns).select_related("task_definition")
    }
    for row in rows:
        row.target = revisions.get(row.target_revision_arn)  # type: ignore[attr-defined]
    return rows
