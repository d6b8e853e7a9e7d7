"""The service page's networking flags: the map's rules (``flags``) for one service, in
one query (the page has a query budget): the Cloud Map services behind its names with
their instance counts (plus its live tasks on external instances when it has no launch
type, i.e. a capacity-provider strategy)."""

from __future__ import annotations

from django.db.models import Q

from deployments.models import CloudMapService, Service, Task
from deployments.service_map.flags import (
    external_discovery_unsupported,
    no_healthy_instance,
    srv_records_needed,
    uses_service_connect,
)
from deployments.service_map.selectors import with_instance_counts


def _runs_on_external(service: Service) -> bool:
    """EXTERNAL launch type, or (a capacity-provider service, no launch type) a live
    task on an mi- instance. EC2 and FARGATE tasks never run on external instances."""
    if service.launch_type:
        return service.launch_type == "EXTERNAL"
    return Task.objects.filter(
        service=service, gone_at__isnull=True, container_instance__is_external=True
    ).exists()


def _names_query(service: Service, discovery: list[str], ref: str) -> Q:
    arns = [str(r.get("registryArn") or "") for r in service.service_registries]
    query = Q(arn__in=arns)
    if discovery and ref:
        query |= Q(name__in=discovery) & (Q(namespace__arn=ref) | Q(namespace__name=ref))
    return query


def service_networking_flags(*, service: Service) -> list[str]:
    """What the map flags about ``service``: Service Connect or service discovery on
    external instances, A records where bridge/host needs SRV, and each name it offers
    with no healthy instance. Reads ``service.cluster`` and ``service.task_definition``."""
    connect = service.service_connect_configuration or {}
    if not (uses_service_connect(service) or service.service_registries):
        return []
    flag = external_discovery_unsupported(service, on_external=_runs_on_external(service))
    flags = [flag] if flag else []
    offers = connect.get("services") or [] if uses_service_connect(service) else []
    discovery = [str(o.get("discoveryName") or o.get("portName") or "") for o in offers]
    ref = str(
        connect.get("namespace") or service.cluster.service_connect_defaults.get("namespace") or ""
    )
    cms = list(
        with_instance_counts(
            CloudMapService.objects.filter(
                _names_query(service, discovery, ref),
                namespace__account_id=service.cluster.account_id,
                namespace__region=service.cluster.region,
                namespace__gone_at__isnull=True,
                gone_at__isnull=True,
            )
        )
    )
    registries = [
        cm for cm in cms if cm.arn in {r.get("registryArn") for r in service.service_registries}
    ]
    mode = service.task_definition.network_mode if service.task_definition else ""
    flags += srv_records_needed(service, registries, mode)
    counted = {cm.name: cm for cm in cms if cm not in registries}
    for name in discovery:
        cm = counted.get(name)
        counts = (cm.healthy, cm.unhealthy) if cm else (0, 0)  # type: ignore[attr-defined]
        flags += [f for f in [no_healthy_instance(name, *counts)] if f]
    for cm in registries:
        label = f"{cm.name}.{cm.namespace.name}"
        flags += [f for f in [no_healthy_instance(label, cm.healthy, cm.unhealthy)] if f]  # type: ignore[attr-defined]
    return flags
