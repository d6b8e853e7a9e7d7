from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from clusters.display import timestamp_text


class EventSource(models.TextChoices):
    ECS_SERVICE_EVENT = "ecs-service-event", "ECS service event"
    TASK = "task", "Task"
    DEPLOYMENT = "deployment", "Deployment"
    CONTAINER_INSTANCE = "container-instance", "Container instance"
    REGISTRATION = "registration", "Registration"
    DOCKER = "docker", "Docker"
    DRIFT = "drift", "Drift"
    SYNC = "sync", "Sync"
    HEALTH = "health", "Health"
    AUDIT = "audit", "Audit"


class EventSeverity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class Event(models.Model):
    """One fact on the fleet timeline.

    Subjects are kept as identifiers (ARNs, names, ids), not foreign keys, so an
    event outlives the row it talks about and the timeline is one cheap table.
    ``dedupe_key`` makes writing the same fact twice a no-op.
    """

    occurred_at = models.DateTimeField(default=timezone.now)
    recorded_at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=32, choices=EventSource.choices)
    severity = models.CharField(
        max_length=16, choices=EventSeverity.choices, default=EventSeverity.INFO
    )
    account = models.CharField(max_length=128, blank=True)
    region = models.CharField(max_length=32, blank=True)
    cluster_arn = models.CharField(max_length=2048, blank=True)
    service_arn = models.CharField(max_length=2048, blank=True)
    task_arn = models.CharField(max_length=2048, blank=True)
    instance_arn = models.CharField(max_length=2048, blank=True)
    docker_host = models.CharField(max_length=255, blank=True)
    container_id = models.CharField(max_length=128, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=255, unique=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["-occurred_at", "-id"], name="event_time_idx"),
            models.Index(fields=["cluster_arn", "-occurred_at"], name="event_cluster_idx"),
            models.Index(fields=["service_arn", "-occurred_at"], name="event_service_idx"),
            models.Index(fields=["instance_arn", "-occurred_at"], name="event_instance_idx"),
            models.Index(fields=["docker_host", "-occurred_at"], name="event_host_idx"),
            models.Index(fields=["source", "-occurred_at"], name="event_source_idx"),
            # Keyset pages filtered by task, container or severity (timeline_indexes).
            models.Index(fields=["task_arn", "-occurred_at"], name="event_task_idx"),
            models.Index(fields=["container_id", "-occurred_at"], name="event_container_idx"),
            models.Index(fields=["severity", "-occurred_at"], name="event_severity_idx"),
        ]

    def __str__(self) -> str:
        return f"{timestamp_text(self.occurred_at)} [{self.source}] {self.message[:80]}"
