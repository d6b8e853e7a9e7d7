"""What the service map flags, as plain rules over mirrored rows (no query here).

``external_discovery_unsupported`` is the map's own small EXTERNAL check: the diagnosis
catalogue (``deployments/diagnosis/``) grows a general one in parallel; at merge the
two become one truth (see docs/notes/issue-17-map.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from deployments.models import CloudMapService, Service

# AWS: with the bridge and host network modes a service registry needs SRV records
# (and the registry's containerName/containerPort); awsvpc tasks can use A records.
SRV_ONLY_MODES = ("bridge", "host")


def uses_service_connect(service: Service) -> bool:
    return bool((service.service_connect_configuration or {}).get("enabled"))


def external_discovery_unsupported(service: Service, *, on_external: bool) -> str | None:
    """Service Connect or service discovery on a service that runs on external
    instances: ECS Anywhere supports neither, so the service gets no traffic by them.
    ``on_external``: its launch type is EXTERNAL or a live task runs on an mi- instance."""
    if not on_external:
        return None
    kinds = []
    if uses_service_connect(service):
        kinds.append("Service Connect")
    if service.service_registries:
        kinds.append("service discovery")
    if not kinds:
        return None
    return (
        f"{' and '.join(kinds)} configured, but the service runs on external instances, "
        "where ECS Anywhere supports neither Service Connect nor service discovery: "
        "no traffic reaches it that way."
    )


def srv_records_needed(
    service: Service, registries: Iterable[CloudMapService], network_mode: str
) -> list[str]:
    """A Cloud Map service with A records (no SRV) behind a bridge/host service."""
    if network_mode not in SRV_ONLY_MODES:
        return []
    return [
        f"Cloud Map service {cm.name} has {'/'.join(cm.record_types)} records, but "
        f"{network_mode} network mode needs SRV records (with containerName and "
        "containerPort in the service registry)."
        for cm in registries
        if "A" in cm.record_types and "SRV" not in cm.record_types
    ]


def no_healthy_instance(name: str, healthy: int, unhealthy: int) -> str | None:
    if healthy:
        return None
    if unhealthy:
        return f"{name}: no healthy instance ({unhealthy} unhealthy)."
    return f"{name}: no instance registered in Cloud Map."
