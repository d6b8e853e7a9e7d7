"""Read-only JSON API over the AWS mirror (/api/v1/accounts, clusters, instances,
services, deployments, tasks, events). Paginated with limit/offset."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets

from clusters.core.inputs import db_id
from clusters.health import HealthState
from clusters.models import AwsAccount, Cluster, ContainerInstance, Event
from deployments.models import Deployment, Service, Task, TaskContainer


class ReasonSerializer(serializers.Serializer[dict[str, Any]]):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. rollout-failed.")
    state = serializers.CharField(help_text="The state this reason alone puts the subject in.")
    message = serializers.CharField()
    since = serializers.DateTimeField(
        allow_null=True, help_text="When it started, per AWS/Docker where they say so."
    )
    evidence = serializers.DictField(help_text="The facts the reason rests on.")


class HealthSerializer(serializers.Serializer[Any]):
    """The stored verdict of the health model (deployments/health), the same one every
    page's badge, the dashboard and /metrics show."""

    state = serializers.ChoiceField(choices=HealthState.choices, source="health_state")
    reasons = ReasonSerializer(many=True, source="health_reasons")
    since = serializers.DateTimeField(source="health_since", allow_null=True)
    updated_at = serializers.DateTimeField(source="health_updated_at", allow_null=True)


class AccountSerializer(serializers.ModelSerializer[AwsAccount]):
    health = HealthSerializer(source="*", read_only=True)

    class Meta:
        model = AwsAccount
        # No credentials are stored; role/profile names are how, not secrets.
        fields = [
            "id",
            "name",
            "account_id",
            "regions",
            "auth_mode",
            "enabled",
            "last_sync_status",
            "last_sync_at",
            "last_sync_error",
            "health",
        ]


class ClusterSerializer(serializers.ModelSerializer[Cluster]):
    account = serializers.CharField(source="account.name")
    health = HealthSerializer(source="*", read_only=True)

    class Meta:
        model = Cluster
        fields = [
            "id",
            "arn",
            "name",
            "account",
            "region",
            "status",
            "registered_instances_count",
            "running_tasks_count",
            "pending_tasks_count",
            "active_services_count",
            "last_sync_at",
            "last_sync_ok",
            "last_sync_error",
            "health",
            "first_seen_at",
            "last_seen_at",
            "gone_at",
        ]


class InstanceSerializer(serializers.ModelSerializer[ContainerInstance]):
    cluster = serializers.CharField(source="cluster.arn")
    health = HealthSerializer(source="*", read_only=True)

    class Meta:
        model = ContainerInstance
        fields = [
            "id",
            "arn",
            "cluster",
            "ec2_instance_id",
            "is_external",
            "status",
            "status_reason",
            "agent_connected",
            "agent_connected_changed_at",
            "agent_version",
            "docker_version",
            "registered_cpu",
            "registered_memory",
            "remaining_cpu",
            "remaining_memory",
            "attributes",
            "tags",
            "health_status",
            "running_tasks_count",
            "pending_tasks_count",
            "registered_at",
            "health",
            "first_seen_at",
            "last_seen_at",
            "gone_at",
        ]


class ServiceSerializer(serializers.ModelSerializer[Service]):
    cluster = serializers.CharField(source="cluster.arn")
    task_definition = serializers.CharField(source="task_definition.arn", default=None)
    health = HealthSerializer(source="*", read_only=True)

    class Meta:
        model = Service
        fields = [
            "id",
            "arn",
            "name",
            "cluster",
            "status",
            "desired_count",
            "running_count",
            "pending_count",
            "launch_type",
            "scheduling_strategy",
            "deployment_configuration",
            "task_definition",
            "health",
            "first_seen_at",
            "last_seen_at",
            "gone_at",
        ]


class DeploymentSerializer(serializers.ModelSerializer[Deployment]):
    service = serializers.CharField(source="service.arn")
    task_definition = serializers.CharField(source="task_definition.arn", default=None)
    is_terminal = serializers.BooleanField(read_only=True)

    class Meta:
        model = Deployment
        fields = [
            "id",
            "deployment_id",
            "service",
            "status",
            "rollout_state",
            "rollout_state_reason",
            "desired_count",
            "pending_count",
            "running_count",
            "failed_tasks",
            "task_definition",
            "created_at_aws",
            "updated_at_aws",
            "is_terminal",
        ]


class ContainerSerializer(serializers.ModelSerializer[TaskContainer]):
    class Meta:
        model = TaskContainer
        fields = ["name", "image", "last_status", "exit_code", "reason", "health_status"]


class TaskSerializer(serializers.ModelSerializer[Task]):
    cluster = serializers.CharField(source="cluster.arn")
    service = serializers.CharField(source="service.arn", default=None)
    container_instance = serializers.CharField(source="container_instance.arn", default=None)
    task_definition = serializers.CharField(source="task_definition.arn", default=None)
    containers = ContainerSerializer(many=True, read_only=True)

    class Meta:
        model = Task
        fields = [
            "id",
            "arn",
            "cluster",
            "service",
            "container_instance",
            "task_definition",
            "group",
            "started_by",
            "last_status",
            "desired_status",
            "health_status",
            "launch_type",
            "stopped_reason",
            "stop_code",
            "created_at_aws",
            "started_at",
            "stopping_at",
            "stopped_at",
            "containers",
            "first_seen_at",
            "last_seen_at",
            "gone_at",
        ]


class EventSerializer(serializers.ModelSerializer[Event]):
    class Meta:
        model = Event
        fields = [
            "id",
            "occurred_at",
            "source",
            "severity",
            "account",
            "region",
            "cluster_arn",
            "service_arn",
            "task_arn",
            "instance_arn",
            "message",
            "details",
        ]


def _by_ref(qs: QuerySet[Any], field: str, value: str | None) -> QuerySet[Any]:
    """Filter by a related object given as id, ARN or name."""
    if not value:
        return qs
    if value.isascii() and value.isdigit():
        pk = db_id(value)
        return qs.filter(**{f"{field}_id": pk}) if pk is not None else qs.none()
    if value.startswith("arn:"):
        return qs.filter(**{f"{field}__arn": value})
    return qs.filter(**{f"{field}__name": value})


CLUSTER = OpenApiParameter("cluster", OpenApiTypes.STR, description="cluster id, ARN or name")
SERVICE = OpenApiParameter("service", OpenApiTypes.STR, description="service id, ARN or name")
STATUS = OpenApiParameter("status", OpenApiTypes.STR, description="status, e.g. RUNNING")


class AccountViewSet(viewsets.ReadOnlyModelViewSet[AwsAccount]):
    queryset = AwsAccount.objects.order_by("name")
    serializer_class = AccountSerializer


@extend_schema_view(list=extend_schema(parameters=[STATUS]))
class ClusterViewSet(viewsets.ReadOnlyModelViewSet[Cluster]):
    serializer_class = ClusterSerializer

    def get_queryset(self) -> QuerySet[Cluster]:
        qs = Cluster.objects.select_related("account").order_by("id")
        if status := self.request.query_params.get("status"):
            qs = qs.filter(status=status.upper())
        return qs


@extend_schema_view(list=extend_schema(parameters=[CLUSTER, STATUS]))
class InstanceViewSet(viewsets.ReadOnlyModelViewSet[ContainerInstance]):
    serializer_class = InstanceSerializer

    def get_queryset(self) -> QuerySet[ContainerInstance]:
        qs = ContainerInstance.objects.select_related("cluster").order_by("id")
        qs = _by_ref(qs, "cluster", self.request.query_params.get("cluster"))
        if status := self.request.query_params.get("status"):
            qs = qs.filter(status=status.upper())
        return qs


@extend_schema_view(list=extend_schema(parameters=[CLUSTER, STATUS]))
class ServiceViewSet(viewsets.ReadOnlyModelViewSet[Service]):
    serializer_class = ServiceSerializer

    def get_queryset(self) -> QuerySet[Service]:
        qs = Service.objects.select_related("cluster", "task_definition").order_by("id")
        qs = _by_ref(qs, "cluster", self.request.query_params.get("cluster"))
        if status := self.request.query_params.get("status"):
            qs = qs.filter(status=status.upper())
        return qs


@extend_schema_view(list=extend_schema(parameters=[CLUSTER, SERVICE, STATUS]))
class DeploymentViewSet(viewsets.ReadOnlyModelViewSet[Deployment]):
    serializer_class = DeploymentSerializer

    def get_queryset(self) -> QuerySet[Deployment]:
        qs = Deployment.objects.select_related("service", "task_definition").order_by("-id")
        qs = _by_ref(qs, "service__cluster", self.request.query_params.get("cluster"))
        qs = _by_ref(qs, "service", self.request.query_params.get("service"))
        if status := self.request.query_params.get("status"):
            qs = qs.filter(status=status.upper())
        return qs


@extend_schema_view(list=extend_schema(parameters=[CLUSTER, SERVICE, STATUS]))
class TaskViewSet(viewsets.ReadOnlyModelViewSet[Task]):
    serializer_class = TaskSerializer

    def get_queryset(self) -> QuerySet[Task]:
        qs = (
            Task.objects.select_related(
                "cluster", "service", "container_instance", "task_definition"
            )
            .prefetch_related("containers")
            .order_by("-id")
        )
        qs = _by_ref(qs, "cluster", self.request.query_params.get("cluster"))
        qs = _by_ref(qs, "service", self.request.query_params.get("service"))
        if status := self.request.query_params.get("status"):
            qs = qs.filter(last_status=status.upper())
        return qs


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("cluster", OpenApiTypes.STR, description="cluster ARN"),
            OpenApiParameter("service", OpenApiTypes.STR, description="service ARN"),
            OpenApiParameter("task", OpenApiTypes.STR, description="task ARN"),
            OpenApiParameter("instance", OpenApiTypes.STR, description="instance ARN"),
            OpenApiParameter("source", OpenApiTypes.STR),
        ]
    )
)
class EventViewSet(viewsets.ReadOnlyModelViewSet[Event]):
    serializer_class = EventSerializer

    def get_queryset(self) -> QuerySet[Event]:
        qs = Event.objects.order_by("-occurred_at", "-id")
        p = self.request.query_params
        for param, field in (
            ("cluster", "cluster_arn"),
            ("service", "service_arn"),
            ("task", "task_arn"),
            ("instance", "instance_arn"),
            ("source", "source"),
        ):
            if value := p.get(param):
                qs = qs.filter(Q(**{field: value}))
        return qs
