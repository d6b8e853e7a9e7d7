"""The service page's networking flags: the map's rules (``flags``) for one service, in
one query (the page has a query budget): the Cloud Map services behind its names with
their instance counts. Service Connect or discovery on external instances is the
EXTERNAL check's finding, shown by the page's "Not supported on external instances"."""

from __future__ import annotations

from django.db.models import Q

from deployments.models import CloudMapService, Service
from deployments.service_map.flags import (
    no_healthy_instance,
    srv_records_needed,
    uses_service_connect,
)
from deployments.service_map.selectors import with_instance_counts


def _names_query(service: Service, discovery: list[str], ref: str) -> Q:
    arns = [str(r.get("registryArn") or "") for r in service.service_registries]
    query = Q(arn__in=arns)
    if discovery and ref:
        query |= Q(name__in=discovery) & (Q(namespace__arn=ref) | Q(namespace__name=ref))
    return query


def service_networking_flags(*, service: Service) -> list[str]:
    """What the map flags about ``service``: A records where bridge/host needs SRV, and
    each name it offers with no healthy instance. Reads ``service.cluster`` and
    ``service.task_definition``."""
    connect = service.service_connect_configuration or {}
    if not (uses_service_connect(service) or service.service_registries):
        return []
    # What external instances cannot do is on the page already, from the EXTERNAL
    # check (deployments.diagnosis); these are the map's own flags.
    flags: list[str] = []
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
