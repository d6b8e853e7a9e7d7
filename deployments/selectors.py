"""Read queries for the workload pages; each runs a fixed number of queries."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce

from clusters.models import Cluster, ContainerInstance
from deployments.models import Service, Task

TASK_STATUSES = ("running", "pending", "stopped", "all")


def services_query(
    *, cluster: Cluster | None = None, q: str = "", state: str = ""
) -> QuerySet[Service]:
    qs = Service.objects.select_related("cluster", "cluster__account", "task_definition")
    if cluster is not None:
        qs = qs.filter(cluster=cluster)
    if state == "gone":
        qs = qs.filter(gone_at__isnull=False)
    elif state == "unsteady":
        qs = qs.filter(gone_at__isnull=True).exclude(
            running_count=F("desired_count"), pending_count=0
        )
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
