"""Read-only JSON API over the Docker hosts Fleetdeck mirrors (/api/v1/hosts).

The fields are listed one by one, never ``__all__``: a host's TLS material (file
paths, and the ``encrypted_*`` PEM tokens) stays out, whatever the model grows."""

from __future__ import annotations

from rest_framework import serializers, viewsets

from clusters.models import DockerHost
from console.api import filters
from console.api.health import HealthSerializer


class HostSerializer(serializers.ModelSerializer[DockerHost]):
    container_instance = serializers.CharField(source="container_instance.arn", default=None)
    cluster = serializers.CharField(source="container_instance.cluster.arn", default=None)
    tls = serializers.SerializerMethodField(help_text="whether TLS material is configured")
    health = HealthSerializer(source="*", read_only=True)

    class Meta:
        model = DockerHost
        fields = [
            "id",
            "name",
            "endpoint",
            "api_version",
            "enabled",
            "tls",
            "container_instance",
            "cluster",
            "link_source",
            "reachable",
            "last_ok_at",
            "last_error",
            "last_error_at",
            "unreachable_since",
            "last_sync_at",
            "last_sync_ms",
            "hostname",
            "engine_version",
            "os",
            "arch",
            "kernel",
            "cpus",
            "memory_bytes",
            "info_at",
            "engine_labels",
            "containers_total",
            "containers_running",
            "containers_paused",
            "containers_stopped",
            "watcher_connected_at",
            "watcher_error",
            "created_at",
            "health",
        ]

    def get_tls(self, host: DockerHost) -> bool:
        return bool(host.tls_stored or host.tls_from_files)


class HostViewSet(viewsets.ReadOnlyModelViewSet[DockerHost]):
    """Docker hosts: reachability, engine facts, container counts, linked instance."""

    queryset = DockerHost.objects.select_related("container_instance__cluster").order_by("name")
    serializer_class = HostSerializer
    filterset_class = filters.HostFilter
