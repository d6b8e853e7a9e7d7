from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from clusters.models import Container, ContainerInstance, DockerHost
from deployments.models.ecs import Task


class DriftKind(models.TextChoices):
    TASK_WITHOUT_CONTAINER = "task-without-container", "ECS task running, no container on the host"
    ORPHAN_CONTAINER = "orphan-container", "Container running for a task ECS does not run"
    AGENT_CONTAINER = "agent-container", "ECS agent container missing, stopped or unhealthy"
    AGENT_DISCONNECTED = "agent-disconnected", "ECS agent disconnected for more than 5 minutes"
    HOST_UNREACHABLE = "host-unreachable", "Docker host unreachable for more than 2 syncs"


class DriftSeverity(models.TextChoices):
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class DriftFinding(models.Model):
    """A disagreement between what ECS says and what a Docker host says.

    ``key`` names the fact (kind + subjects); at most one finding per key is open.
    A finding is never deleted: resolving sets ``resolved_at``, so history stays.
    """

    kind = models.CharField(max_length=32, choices=DriftKind.choices, db_index=True)
    key = models.CharField(max_length=255)
    severity = models.CharField(max_length=16, choices=DriftSeverity.choices)
    message = models.TextField()
    opened_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_checked_at = models.DateTimeField(default=timezone.now)
    details = models.JSONField(default=dict, blank=True)
    # both sides (kept as strings as well, so the finding outlives the rows)
    docker_host = models.ForeignKey(
        DockerHost, null=True, blank=True, on_delete=models.SET_NULL, related_name="drift_findings"
    )
    container = models.ForeignKey(
        Container, null=True, blank=True, on_delete=models.SET_NULL, related_name="drift_findings"
    )
    task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="drift_findings"
    )
    container_instance = models.ForeignKey(
        ContainerInstance,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="drift_findings",
    )
    docker_host_name = models.CharField(max_length=255, blank=True)
    docker_container_id = models.CharField(max_length=128, blank=True)
    task_arn = models.CharField(max_length=2048, blank=True)
    instance_arn = models.CharField(max_length=2048, blank=True)
    cluster_arn = models.CharField(max_length=2048, blank=True)

    class Meta:
        ordering = ["resolved_at", "-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=Q(resolved_at__isnull=True), name="drift_one_open_per_key"
            )
        ]
        indexes = [models.Index(fields=["resolved_at", "-opened_at"], name="drift_open_idx")]

    def __str__(self) -> str:
        return f"[{self.kind}] {self.message[:80]}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
