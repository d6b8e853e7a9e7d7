"""The EXTERNAL check: the one place that says what of a service or task definition
bound for ECS Anywhere external instances those instances do not support. Pages
(the service page, the compare page) and anything else that needs it (a Service
Connect map) call ``external_unsupported``; nobody keeps a second list."""

from __future__ import annotations

from dataclasses import dataclass

from clusters.models import Cluster, ContainerInstance
from deployments.models import Service, Task, TaskDefinition

# AWS's "External instances (Amazon ECS Anywhere)" considerations, and the Service
# Connect page for Service Connect.
EXTERNAL_DOCS = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-anywhere.html"
SERVICE_CONNECT_DOCS = (
    "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-connect.html"
)


@dataclass(frozen=True)
class Finding:
    code: str  # external-awsvpc, external-load-balancer, ...
    setting: str  # what the operator set, in their words
    message: str
    fix: str
    docs_url: str = EXTERNAL_DOCS


def bound_for_external(
    *,
    service: Service | None = None,
    task_definition: TaskDefinition | None = None,
    cluster: Cluster | None = None,
) -> bool:
    """A service's launch type EXTERNAL; with no launch type (a capacity-provider
    strategy) a live task on an mi- instance; a task definition on its own requiring
    EXTERNAL; or a cluster whose instances are all external (asked last: one query)."""
    if service is not None and service.launch_type:
        # A launch type decides: EC2 and FARGATE tasks never land on external instances,
        # whatever else their task definition is compatible with.
        return service.launch_type == "EXTERNAL"
    if service is None:
        td = task_definition
        if td is not None and "EXTERNAL" in (td.requires_compatibilities or []):
            return True
    elif _runs_a_task_on_external(service):
        return True
    return cluster is not None and cluster_external_only(cluster)


def _runs_a_task_on_external(service: Service) -> bool:
    """A service with no launch type (a capacity-provider strategy) with a live task on
    an mi- instance: EC2 and FARGATE launch types never run on external instances."""
    if service.pk is None:
        return False
    return Task.objects.filter(
        service=service, gone_at__isnull=True, container_instance__is_external=True
    ).exists()


def external_unsupported(
    *,
    service: Service | None = None,
    task_definition: TaskDefinition | None = None,
    cluster: Cluster | None = None,
    runs_on_external: bool = False,
) -> list[Finding]:
    """What the service (and the task definition it runs, or ``task_definition``)
    uses that external instances do not support; [] when it is not bound for them.
    ``cluster``: also count it bound when the cluster has only external instances
    (one query, run only when something unsupported is set). ``runs_on_external``:
    the caller already knows it is (the service map asks once for a whole cluster)."""
    td = task_definition or (service.task_definition if service else None)
    found = _task_definition_findings(td) if td is not None else []
    if service is not None:
        found += _service_findings(service)
    if not found:
        return []
    bound = runs_on_external or bound_for_external(
        service=service, task_definition=task_definition, cluster=cluster
    )
    return found if bound else []


def _task_definition_findings(td: TaskDefinition) -> list[Finding]:
    found = []
    if td.network_mode == "awsvpc":
        found.append(
            Finding(
                "external-awsvpc",
                f"{td}: network mode awsvpc",
                "external instances do not support the awsvpc network mode",
                "use bridge, host or none",
            )
        )
    efs = [v.get("name", "?") for v in td.volumes or [] if v.get("type") == "efs"]
    if efs:
        found.append(
            Finding(
                "external-efs",
                f"{td}: EFS volume{'s' if len(efs) > 1 else ''} {', '.join(efs)}",
                "external instances cannot mount Amazon EFS volumes",
                "use a host or Docker volume on the machine",
            )
        )
    return found


def _service_findings(svc: Service) -> list[Finding]:
    found = []
    if svc.load_balancers:
        found.append(
            Finding(
                "external-load-balancer",
                f"{len(svc.load_balancers)} load balancer target(s)",
                "service load balancing is not supported on external instances",
                "put your own load balancer in front of the machines, or run this on EC2/Fargate",
            )
        )
    if svc.service_registries:
        found.append(
            Finding(
                "external-service-discovery",
                f"{len(svc.service_registries)} service discovery (Cloud Map) registr"
                + ("ies" if len(svc.service_registries) > 1 else "y"),
                "service discovery is not supported on external instances",
                "remove the service registries; register the machines in your own DNS",
            )
        )
    if svc.service_connect_configuration.get("enabled"):
        found.append(
            Finding(
                "external-service-connect",
                "Service Connect enabled",
                "Service Connect is not supported on external instances",
                "turn Service Connect off for this service",
                SERVICE_CONNECT_DOCS,
            )
        )
    if svc.capacity_provider_strategy:
        found.append(
            Finding(
                "external-capacity-provider",
                "a capacity provider strategy",
                "capacity providers are not supported on external instances",
                "use launch type EXTERNAL without a capacity provider strategy",
            )
        )
    return found


def cluster_external_only(cluster: Cluster) -> bool:
    """Does the cluster have container instances, all of them external? (One query.)"""
    kinds = set(
        ContainerInstance.objects.filter(cluster=cluster, gone_at__isnull=True)
        .values_list("is_external", flat=True)
        .distinct()
    )
    return kinds == {True}
