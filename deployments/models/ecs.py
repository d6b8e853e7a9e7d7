"""ECS workloads mirrored from AWS: task definitions, services, deployments, tasks."""

from __future__ import annotations

from django.db import models

from clusters.models import Cluster, ContainerInstance, HealthFields, MirroredModel


class TaskDefinition(models.Model):
    """Task definitions are immutable per revision, so they are written once."""

    arn = models.CharField(max_length=2048, unique=True)
    family = models.CharField(max_length=255, db_index=True)
    revision = models.IntegerField(default=0)
    status = models.CharField(max_length=32, blank=True)
    compatibilities = models.JSONField(default=list, blank=True)
    requires_compatibilities = models.JSONField(default=list, blank=True)
    network_mode = models.CharField(max_length=32, blank=True)
    cpu = models.CharField(max_length=32, blank=True)
    memory = models.CharField(max_length=32, blank=True)
    # [{"name","image","cpu","memory","memoryReservation","essential","portMappings",
    #   "command","entryPoint","environment","secrets" (name, valueFrom only),"healthCheck",
    #   "logConfiguration","stopTimeout","workingDirectory","user","ulimits"}]; rows
    # mirrored before the second line existed lack those keys ("not recorded" in a diff).
    containers = models.JSONField(default=list, blank=True)
    task_role_arn = models.CharField(max_length=2048, blank=True)
    execution_role_arn = models.CharField(max_length=2048, blank=True)
    registered_at = models.DateTimeField(null=True, blank=True)
    # [{"name", "type": "host"|"docker"|"efs"|"fsx"|"task"|"launch", "config"}]
    volumes = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["family", "-revision"]

    def __str__(self) -> str:
        return f"{self.family}:{self.revision}"


class Service(HealthFields, MirroredModel):
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="services")
    arn = models.CharField(max_length=2048, unique=True)
    name = models.CharField(max_length=255)
    status = models.CharField(max_length=32, blank=True)
    desired_count = models.IntegerField(default=0)
    running_count = models.IntegerField(default=0)
    pending_count = models.IntegerField(default=0)
    launch_type = models.CharField(max_length=32, blank=True)
    scheduling_strategy = models.CharField(max_length=32, blank=True)
    # {"minimumHealthyPercent","maximumPercent","deploymentCircuitBreaker":{"enable","rollback"}}
    deployment_configuration = models.JSONField(default=dict, blank=True)
    task_definition = models.ForeignKey(
        TaskDefinition, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at_aws = models.DateTimeField(null=True, blank=True)
    # How the service is reached, as DescribeServices says (Service Connect: the PRIMARY
    # deployment's). External instances support none of these.
    load_balancers = models.JSONField(default=list, blank=True)
    service_registries = models.JSONField(default=list, blank=True)
    capacity_provider_strategy = models.JSONField(default=list, blank=True)
    service_connect_configuration = models.JSONField(default=dict, blank=True)
    # Set when an event asked for a refresh of the service (the stream's follow-ups),
    # cleared once one was made: a refresh lost with its follower (killed, or the call
    # failed) is made by the next reconcile instead (deployments/reconcile.py).
    refresh_wanted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["cluster", "name"], name="service_cluster_idx")]

    def __str__(self) -> str:
        return self.name


class Deployment(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="deployments")
    deployment_id = models.CharField(max_length=128, unique=True)
    status = models.CharField(max_length=16, blank=True)  # PRIMARY / ACTIVE / INACTIVE
    rollout_state = models.CharField(max_length=16, blank=True)
    rollout_state_reason = models.TextField(blank=True)
    desired_count = models.IntegerField(default=0)
    pending_count = models.IntegerField(default=0)
    running_count = models.IntegerField(default=0)
    failed_tasks = models.IntegerField(default=0)
    launch_type = models.CharField(max_length=32, blank=True)
    task_definition = models.ForeignKey(
        TaskDefinition, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at_aws = models.DateTimeField(null=True, blank=True)
    updated_at_aws = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at_aws", "-id"]

    def __str__(self) -> str:
        return self.deployment_id

    @property
    def is_terminal(self) -> bool:
        return self.status == "INACTIVE" or self.rollout_state in ("COMPLETED", "FAILED")

    @property
    def progress_max(self) -> int:
        return max(self.desired_count, 1)


class Task(MirroredModel):
    arn = models.CharField(max_length=2048, unique=True)
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="tasks")
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    container_instance = models.ForeignKey(
        ContainerInstance, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    task_definition = models.ForeignKey(
        TaskDefinition, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    group = models.CharField(max_length=255, blank=True)
    started_by = models.CharField(max_length=255, blank=True)
    last_status = models.CharField(max_length=32, blank=True, db_index=True)
    desired_status = models.CharField(max_length=32, blank=True)
    health_status = models.CharField(max_length=32, blank=True)
    launch_type = models.CharField(max_length=32, blank=True)
    cpu = models.CharField(max_length=32, blank=True)
    memory = models.CharField(max_length=32, blank=True)
    stopped_reason = models.TextField(blank=True)
    stop_code = models.CharField(max_length=64, blank=True)
    created_at_aws = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    stopping_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    # DescribeTasks' and the task event's ``version``: rises on every change, so an
    # event at or below it is a duplicate or arrived late (docs/event-stream.md).
    version = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at_aws", "-id"]
        indexes = [
            models.Index(fields=["cluster", "last_status", "-id"], name="task_cluster_status_idx"),
            models.Index(fields=["service", "-id"], name="task_service_idx"),
            models.Index(fields=["stopped_at"], name="task_stopped_idx"),
        ]

    def __str__(self) -> str:
        return self.short_id

    @property
    def short_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def is_final(self) -> bool:
        return self.last_status == "STOPPED"

    @property
    def on_disconnected_agent(self) -> bool:
        """Not stopped, on an instance whose ECS agent is disconnected: the task keeps
        running, but ECS can neither stop nor replace it until the agent reconnects.
        (Reads ``container_instance``: lists select it with the task.)"""
        instance = self.container_instance
        return (
            not self.is_final
            and not self.is_gone
            and instance is not None
            and not instance.is_gone
            and not instance.agent_connected
        )


class TaskContainer(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="containers")
    name = models.CharField(max_length=255)
    image = models.CharField(max_length=1024, blank=True)
    last_status = models.CharField(max_length=32, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    reason = models.TextField(blank=True)
    health_status = models.CharField(max_length=32, blank=True)
    runtime_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["task_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["task", "name"], name="taskcontainer_unique_name")
        ]

    def __str__(self) -> str:
        return self.name
