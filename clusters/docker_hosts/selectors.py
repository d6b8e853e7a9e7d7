"""Read-side queries for the Docker pages, each a fixed number of SQL queries."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from clusters.models import Container, ContainerInstance, DockerHost, Event

CONTAINER_STATES = ("running", "exited", "created", "paused", "restarting", "dead")


@dataclass(frozen=True)
class ContainerFilters:
    state: str = ""
    q: str = ""
    ecs: str = ""  # "yes" | "no" | ""
    health: str = ""
    gone: bool = False

    @classmethod
    def from_query(cls, params: dict[str, str]) -> ContainerFilters:
        state = params.get("state", "")
        ecs = params.get("ecs", "")
        health = params.get("health", "")
        return cls(
            state=state if state in CONTAINER_STATES else "",
            q=params.get("q", "").strip()[:100],
            ecs=ecs if ecs in {"yes", "no"} else "",
            health=health if health in {"healthy", "unhealthy", "starting"} else "",
            gone=params.get("gone") == "1",
        )


def docker_hosts_list() -> QuerySet[DockerHost]:
    """One query."""
    return DockerHost.objects.order_by("name")


def docker_host_containers(*, host: DockerHost, filters: ContainerFilters) -> list[Container]:
    """One query."""
    qs = Container.objects.filter(host=host)
    if not filters.gone:
        qs = qs.filter(gone_at__isnull=True)
    if filters.state:
        qs = qs.filter(state=filters.state)
    if filters.health:
        qs = qs.filter(health=filters.health)
    if filters.ecs == "yes":
        qs = qs.exclude(ecs_task_arn="")
    elif filters.ecs == "no":
        qs = qs.filter(ecs_task_arn="")
    if filters.q:
        qs = qs.filter(
            Q(name__icontains=filters.q)
            | Q(image__icontains=filters.q)
            | Q(container_id__startswith=filters.q)
            | Q(ecs_task_arn__icontains=filters.q)
        )
    return list(qs.order_by("gone_at", "name")[:500])


def docker_host_events(*, host: DockerHost, limit: int = 30) -> list[Event]:
    """One query."""
    return list(Event.objects.filter(docker_host=host.name).order_by("-occurred_at", "-id")[:limit])


def container_events(*, container: Container, limit: int = 50) -> list[Event]:
    """One query."""
    return list(
        Event.objects.filter(
            docker_host=container.host.name, container_id=container.container_id
        ).order_by("-occurred_at", "-id")[:limit]
    )


def link_candidates() -> list[ContainerInstance]:
    """Instances an operator may link a host to, external ones first (one query)."""
    return list(
        ContainerInstance.objects.filter(gone_at__isnull=True)
        .select_related("cluster")
        .order_by("-is_external", "ec2_instance_id")[:500]
    )
