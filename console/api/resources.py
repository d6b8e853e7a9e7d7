"""The API's resources, in the order /api/v1/ lists them: name -> viewset.

The viewset's docstring is the resource's one-line description (in the index and
in the OpenAPI schema alike)."""

from __future__ import annotations

from typing import Any

from rest_framework import viewsets

from console.api import hosts, mirror

RESOURCES: dict[str, type[viewsets.ReadOnlyModelViewSet[Any]]] = {
    "accounts": mirror.AccountViewSet,
    "clusters": mirror.ClusterViewSet,
    "instances": mirror.InstanceViewSet,
    "services": mirror.ServiceViewSet,
    "deployments": mirror.DeploymentViewSet,
    "tasks": mirror.TaskViewSet,
    "events": mirror.EventViewSet,
    "hosts": hosts.HostViewSet,
}


def resource_description(name: str) -> str:
    doc = RESOURCES[name].__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else name
