"""How services find each other: Cloud Map mirrored at the API minimum, and the service
map per cluster and namespace (Service Connect names, service-discovery registries,
their providers, clients and instance health), with its flags. docs/service-map.md."""

from deployments.service_map.selectors import (
    MapName,
    MapService,
    ServiceMap,
    cluster_namespaces,
    service_map,
)
from deployments.service_map.service_flags import service_networking_flags

__all__ = [
    "MapName",
    "MapService",
    "ServiceMap",
    "cluster_namespaces",
    "service_map",
    "service_networking_flags",
]
