"""The flag rules on their own: each fires exactly where AWS says the configuration
cannot work, and not next to it."""

from __future__ import annotations

from deployments.models import CloudMapService, Service
from deployments.service_map.flags import (
    external_discovery_unsupported,
    no_healthy_instance,
    srv_records_needed,
)

REGISTRY = [{"registryArn": "arn:aws:servicediscovery:us-east-1:1:service/srv-1"}]


def _cm(*types: str) -> CloudMapService:
    return CloudMapService(name="metrics", dns_records=[{"Type": t, "TTL": 10} for t in types])


def test_external_needs_discovery_configured_and_external_placement() -> None:
    both = Service(service_connect_configuration={"enabled": True}, service_registries=REGISTRY)
    message = external_discovery_unsupported(both, on_external=True)
    # In the EXTERNAL check's words (deployments.diagnosis), both findings.
    assert message and "Service Connect is not supported on external instances" in message
    assert "service discovery is not supported on external instances" in message
    assert external_discovery_unsupported(both, on_external=False) is None
    disabled = Service(service_connect_configuration={"enabled": False}, service_registries=[])
    assert external_discovery_unsupported(disabled, on_external=True) is None


def test_srv_needed_only_for_bridge_and_host_with_a_records_only() -> None:
    svc = Service(service_registries=REGISTRY)
    assert srv_records_needed(svc, [_cm("A")], "bridge")
    assert srv_records_needed(svc, [_cm("A")], "host")
    assert srv_records_needed(svc, [_cm("A")], "awsvpc") == []
    assert srv_records_needed(svc, [_cm("SRV")], "bridge") == []
    assert srv_records_needed(svc, [_cm("A", "SRV")], "bridge") == []
    assert srv_records_needed(svc, [_cm()], "bridge") == []  # API-only: no DNS records


def test_no_healthy_instance() -> None:
    assert no_healthy_instance("api", 1, 3) is None
    assert no_healthy_instance("api", 0, 2) == "api: no healthy instance (2 unhealthy)."
    assert no_healthy_instance("api", 0, 0) == "api: no instance registered in Cloud Map."
