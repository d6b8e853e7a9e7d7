"""Forced redeploys and rollbacks: who asked, why, what AWS did, how the rollout
ended. A rollback is a Redeploy of kind ``rollback`` with a target task
definition: both are one new deployment of a service that Fleetdeck asked for and
follows to its end, so they share the request, worker, tracking and sweep."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from deployments.models.ecs import Deployment, Service


class RedeployStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    REQUESTED = "requested", "Requested"  # the UpdateService call is being made
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class RedeployKind(models.TextChoices):
    REDEPLOY = "redeploy", "Forced redeploy"  # UpdateService(forceNewDeployment)
    ROLLBACK = "rollback", "Rollback"  # back to an earlier completed task definition


class RollbackMethod(models.TextChoices):
    """How a rollback reaches AWS (``deployments.rollback.rollback_method`` picks)."""

    UPDATE_SERVICE = "update-service", "UpdateService(taskDefinition)"
    # StopServiceDeployment(stopType=ROLLBACK), for a deployment in flight
    # (deployments.redeploy.stop).
    STOP_DEPLOYMENT = "stop-deployment", "StopServiceDeployment(ROLLBACK)"


ACTIVE_STATUSES = (RedeployStatus.QUEUED, RedeployStatus.REQUESTED, RedeployStatus.IN_PROGRESS)
TERMINAL_STATUSES = (RedeployStatus.COMPLETED, RedeployStatus.FAILED)


class RedeployBatch(models.Model):
    """Several services redeployed together, at most ``concurrency`` at a time."""

    cluster = models.ForeignKey(
        "clusters.Cluster", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField()
    concurrency = models.PositiveSmallIntegerField(default=2)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Redeploy batch {self.pk}"


class Redeploy(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="redeploys")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField()
    kind = models.CharField(
        max_length=16, choices=RedeployKind.choices, default=RedeployKind.REDEPLOY
    )
    # A rollback's target: the task definition it puts the service back on, and how.
    target_task_definition_arn = models.CharField(max_length=2048, blank=True)
    method = models.CharField(max_length=16, choices=RollbackMethod.choices, blank=True)
    # Sent by the confirmation form: a double submit of the same form is one redeploy.
    idempotency_key = models.CharField(max_length=64)
    status = models.CharField(
        max_length=16, choices=RedeployStatus.choices, default=RedeployStatus.QUEUED
    )
    aws_error = models.TextField(blank=True)
    # AWS's id of the deployment it started; ``deployment`` links the mirrored row
    # once the sync has written it.
    aws_deployment_id = models.CharField(max_length=128, blank=True)
    deployment = models.ForeignKey(
        Deployment, null=True, blank=True, on_delete=models.SET_NULL, related_name="redeploys"
    )
    batch = models.ForeignKey(
        RedeployBatch, null=True, blank=True, on_delete=models.CASCADE, related_name="redeploys"
    )
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)  # handed to a worker
    requested_at = models.DateTimeField(null=True, blank=True)  # UpdateService answered
    finished_at = models.DateTimeField(null=True, blank=True)
    # Last time a worker looked at the rollout; the sweep restarts stale tracking.
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The database, not only the service code, refuses a second live redeploy
            # of one service (two operators clicking at the same moment).
            models.UniqueConstraint(
                fields=["service"],
                condition=Q(status__in=["queued", "requested", "in_progress"]),
                name="redeploy_one_active_per_service",
            ),
            models.UniqueConstraint(
                fields=["service", "idempotency_key"], name="redeploy_idempotency_key"
            ),
        ]
        indexes = [models.Index(fields=["service", "-created_at"], name="redeploy_service_idx")]

    def __str__(self) -> str:
        return f"Redeploy {self.pk} of {self.service_id} ({self.status})"

    @property
    def is_rollback(self) -> bool:
        return self.kind == RedeployKind.ROLLBACK

    @property
    def target_revision(self) -> str:
        """A rollback's target as ``family:revision``."""
        return self.target_task_definition_arn.rsplit("/", 1)[-1]

    @property
    def noun(self) -> str:
        """How pages and events name it: "Rollback" or "Redeploy"."""
        return "Rollback" if self.is_rollback else "Redeploy"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def badge(self) -> str:
        return {
            RedeployStatus.COMPLETED: "badge-ok",
            RedeployStatus.FAILED: "badge-error",
            RedeployStatus.QUEUED: "badge-muted",
        }.get(RedeployStatus(self.status), "badge-info")
