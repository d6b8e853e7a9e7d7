"""What the service map flags, as plain rules over mirrored rows (no query here).
What external instances cannot do is the diagnosis's EXTERNAL check
(``deployments.diagnosis.external_unsupported``); the map shows its discovery findings."""

from __future__ import annotations

from collections.abc import Iterable

from deployments.diagnosis import external_unsupported
from deployments.models import CloudMapService, Service

# AWS: with the bridge and host network modes a service registry needs SRV records
# (and the registry's containerName/containerPort); awsvpc tasks can use A records.
SRV_ONLY_MODES = ("bridge", "host")


def uses_service_connect(service: Service) -> bool:
    return bool((service.service_connect_configuration or {}).get("enabled"))


# The EXTERNAL check's findings that stop traffic reaching a service by name.
DISCOVERY_FINDINGS = ("external-service-connect", "external-service-discovery")


def external_discovery_unsupported(service: Service, *, on_external: bool) -> str | None:
    """Service Connect or service discovery on a service that runs on external
    instances (ECS Anywhere supports neither: no traffic reaches it by its names), in
    the EXTERNAL check's words. ``on_external``: known to run on external instances."""
    if not on_external:  # the map asked once for the whole cluster: no query per service
        return None
    findings = [
        f
        for f in external_unsupported(service=service, runs_on_external=True)
        if f.code in DISCOVERY_FINDINGS
    ]
    if not findings:
        return None
    return "; ".join(f"{f.setting}: {f.message}" for f in findings) + "."


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
