"""Read queries for the workload pages; each runs a fixed number of queries."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet

from clusters.models import Cluster, ContainerInstance
from deployments.models import ACTIVE_STATUSES, Deployment, Service, Task

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
    """Tasks newest first. Uses the (cluster, last_status, -id) index, so a page stays
    fast with thousands of tasks."""
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
    return qs.order_by("-id")


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
