"""ECS's deployment history mirrored: service deployments and the immutable service
revisions they deploy (ListServiceDeployments / DescribeServiceDeployments /
DescribeServiceRevisions). AWS keeps 90 days; the mirror keeps them for as long as
the service is mirrored (``deployments.history`` never prunes them)."""

from __future__ import annotations

from django.db import models

from deployments.models.ecs import Service, TaskDefinition


class ServiceRevision(models.Model):
    """What a deployment deploys; immutable, so described once ever."""

    arn = models.CharField(max_length=2048, unique=True)
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="revisions")
    task_definition = models.ForeignKey(
        TaskDefinition, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    task_definition_arn = models.CharField(max_length=2048, blank=True)
    # [{"containerName","image","imageDigest"}]
    container_images = models.JSONField(default=list, blank=True)
    launch_type = models.CharField(max_length=32, blank=True)
    service_registries = models.JSONField(default=list, blank=True)
    service_connect = models.JSONField(null=True, blank=True)
    created_at_aws = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at_aws", "-id"]

    def __str__(self) -> str:
        return self.arn.rsplit("/", 1)[-1]


class ServiceDeployment(models.Model):
    """One service deployment (``deployment_id`` is DescribeServices' ``ecs-svc/…`` id)."""

    arn = models.CharField(max_length=2048, unique=True)
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="service_deployments"
    )
    deployment_id = models.CharField(max_length=128, db_index=True)
    status = models.CharField(max_length=32, blank=True)
    status_reason = models.TextField(blank=True)
    target_revision_arn = models.CharField(max_length=2048, blank=True)
    source_revision_arns = models.JSONField(default=list, blank=True)
    # {"status","failureCount","threshold"} / {"reason","startedAt","serviceRevisionArn"}
    circuit_breaker = models.JSONField(null=True, blank=True)
    rollback = models.JSONField(null=True, blank=True)
    created_at_aws = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at_aws = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at_aws", "-id"]
        indexes = [models.Index(fields=["service", "-created_at_aws"], name="svcdeploy_svc_idx")]

    def __str__(self) -> str:
        return self.deployment_id


class ServiceHistoryCursor(models.Model):
    """What DescribeServices showed of a service's deployments when its history was last
    listed ({deployment id: rollout state}): the sync lists again only when a new id
    appears or a state changes. No cursor: never listed."""

    service = models.OneToOneField(Service, on_delete=models.CASCADE, related_name="+")
    seen = models.JSONField(default=dict, blank=True)
    listed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"history cursor of service {self.service_id}"
