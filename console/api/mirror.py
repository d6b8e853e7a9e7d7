"""Read-only JSON API over the AWS mirror (/api/v1/accounts, clusters, instances,
services, deployments, tasks, events). Paginated with limit/offset."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, viewsets

from clusters.models import AwsAccount, Cluster, ContainerInstance, Event
from console.api import filters
from console.api.diagnosis import WithServiceDiagnosis, WithTaskDiagnosis
from console.api.health import HealthSerializer
from deployments.models import Deployment, Service, Task, TaskContainer
from deployments.revisions.selectors import changes_attach, with_previous


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


class ChangeSerializer(serializers.Serializer[dict[str, Any]]):
    field = serializers.CharField(help_text="e.g. `container web: image tag`, `task: cpu`")
    before = serializers.CharField(allow_null=True, help_text="null: absent on that side")
    after = serializers.CharField(allow_null=True, help_text='"not recorded": unknown')


class DeploymentSerializer(serializers.ModelSerializer[Deployment]):
    service = serializers.CharField(source="service.arn")
    task_definition = serializers.CharField(source="task_definition.arn", default=None)
    is_terminal = serializers.BooleanField(read_only=True)
    changes_against = serializers.SerializerMethodField(
        help_text="the deployment before this one (by created time) that `changes` compares with"
    )
    changes = serializers.SerializerMethodField(
        help_text="what this deployment changed against the one before it; null when there "
        "is none or a task definition is not mirrored"
    )

    def get_changes_against(self, obj: Deployment) -> str | None:
        previous = getattr(obj, "previous", None)
        return previous.deployment_id if previous is not None else None

    @extend_schema_field(ChangeSerializer(many=True, allow_null=True))
    def get_changes(self, obj: Deployment) -> list[dict[str, Any]] | None:
        changes = getattr(obj, "changes", None)
        return None if changes is None else [c.as_dict() for c in changes]

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
            "changes_against",
            "changes",
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


class TaskDetailSerializer(TaskSerializer, WithTaskDiagnosis):
    class Meta(TaskSerializer.Meta):
        fields = [*TaskSerializer.Meta.fields, "diagnosis"]


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


class AccountViewSet(viewsets.ReadOnlyModelViewSet[AwsAccount]):
    """AWS accounts Fleetdeck reads: regions, auth mode, last sync (no credentials)."""

    queryset = AwsAccount.objects.order_by("name")
    serializer_class = AccountSerializer


class ClusterViewSet(viewsets.ReadOnlyModelViewSet[Cluster]):
    """ECS clusters per account and region: counts and the last sync's result."""

    queryset = Cluster.objects.select_related("account").order_by("id")
    serializer_class = ClusterSerializer
    filterset_class = filters.ClusterFilter


class InstanceViewSet(viewsets.ReadOnlyModelViewSet[ContainerInstance]):
    """Container instances (EC2 and external mi-): agent, capacity, attributes."""

    queryset = ContainerInstance.objects.select_related("cluster").order_by("id")
    serializer_class = InstanceSerializer
    filterset_class = filters.InstanceFilter


class ServiceViewSet(viewsets.ReadOnlyModelViewSet[Service]):
    """ECS services: desired/running/pending counts, task definition, configuration."""

    queryset = Service.objects.select_related("cluster", "task_definition").order_by("id")
    serializer_class = ServiceSerializer
    filterset_class = filters.ServiceFilter

    def get_serializer_class(self) -> Any:
        # The detail adds why it broke (deployments.diagnosis); lists stay lean.
        return ServiceDetailSerializer if self.action == "retrieve" else ServiceSerializer


class ServiceDetailSerializer(ServiceSerializer, WithServiceDiagnosis):
    class Meta(ServiceSerializer.Meta):
        fields = [*ServiceSerializer.Meta.fields, "diagnosis"]


class DeploymentViewSet(viewsets.ReadOnlyModelViewSet[Deployment]):
    """Service deployments (rollouts): state, reason, counts, task definition."""

    queryset = with_previous(
        Deployment.objects.select_related("service", "task_definition").order_by("-id")
    )
    serializer_class = DeploymentSerializer
    filterset_class = filters.DeploymentFilter

    def paginate_queryset(self, queryset: Any) -> Any:
        # The deployments before a page's, in one query (deployments.revisions).
        page = super().paginate_queryset(queryset)
        if page is not None:
            changes_attach(page)
        return page

    def get_object(self) -> Deployment:
        deployment = super().get_object()
        changes_attach([deployment])
        return deployment


class TaskViewSet(viewsets.ReadOnlyModelViewSet[Task]):
    """Tasks, newest first, with their containers (exit codes, reasons)."""

    queryset = (
        Task.objects.select_related("cluster", "service", "container_instance", "task_definition")
        .prefetch_related("containers")
        .order_by("-id")
    )
    serializer_class = TaskSerializer
    filterset_class = filters.TaskFilter

    def get_serializer_class(self) -> Any:
        return TaskDetailSerializer if self.action == "retrieve" else TaskSerializer


class EventViewSet(viewsets.ReadOnlyModelViewSet[Event]):
    """The fleet timeline: ECS events, task and instance changes, audits, newest first."""

    queryset = Event.objects.order_by("-occurred_at", "-id")
    serializer_class = EventSerializer
    filterset_class = filters.EventFilter
