"""ECS Anywhere onboarding: activation requests, activations, the waiting room
for newly joined external instances, and decommission requests.

State machines (transitions are enforced by the services in
``clusters/registration.py``; the models only hold state and derived facts):

RegistrationRequest: pending -> approved -> active
                     pending -> rejected
                     approved -> failed -> approved (retry)
InstanceAdmission:   pending -> admitting -> admitted; pending -> rejecting -> rejected
                     (a failed AWS call goes back to pending with the error)
DecommissionRequest: requested -> decommissioning -> done | failed; requested -> cancelled;
                     failed -> decommissioning (confirm again)

The -ing states mean "accepted, a worker is making the AWS calls": the web request
only moves the row there by compare-and-set and queues the task.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class DockerInstallSource(models.TextChoices):
    """The install script's ``--docker-install-source``."""

    DOCKER = "docker", "Docker's own repository (default)"
    DISTRO = "distro", "The Linux distribution's packages"
    NONE = "none", "Docker is already installed"


class RegistrationRequest(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved, creating the activation"
        ACTIVE = "active", "Activation created"
        FAILED = "failed", "Activation failed"
        REJECTED = "rejected", "Rejected"

    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="registration_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # A double-submitted form carries the same token twice and creates one request.
    idempotency_token = models.UUIDField(unique=True, default=uuid.uuid4)
    registration_limit = models.PositiveIntegerField()
    expiry_hours = models.PositiveIntegerField(default=24)
    iam_role = models.CharField(max_length=255)
    default_instance_name = models.CharField(max_length=255, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    gpu = models.BooleanField(default=False)
    docker_install_source = models.CharField(
        max_length=16, choices=DockerInstallSource.choices, default=DockerInstallSource.DOCKER
    )
    justification = models.TextField()

    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=128, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "-created_at"], name="regreq_state_idx")]

    def __str__(self) -> str:
        return f"Registration request #{self.pk} ({self.state})"

    @property
    def expiry(self) -> timedelta:
        return timedelta(hours=self.expiry_hours)

    @property
    def is_in_progress(self) -> bool:
        return self.state in (self.State.PENDING, self.State.APPROVED)

    @property
    def is_retryable(self) -> bool:
        return self.state == self.State.FAILED


class Activation(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        EXHAUSTED = "exhausted", "Exhausted"
        REVOKED = "revoked", "Revoked"

    account = models.ForeignKey(
        "clusters.AwsAccount", on_delete=models.CASCADE, related_name="activations"
    )
    region = models.CharField(max_length=32)
    activation_id = models.CharField(max_length=64)
    request = models.OneToOneField(
        RegistrationRequest,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="activation",
    )
    cluster = models.ForeignKey(
        "clusters.Cluster",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="activations",
    )
    # Fernet token (clusters.core.crypto); empty for activations created elsewhere,
    # whose code Fleetdeck never saw.
    encrypted_code = models.TextField(blank=True, editable=False)
    iam_role = models.CharField(max_length=255, blank=True)
    default_instance_name = models.CharField(max_length=255, blank=True)
    description = models.CharField(max_length=256, blank=True)
    registration_limit = models.PositiveIntegerField(default=1)
    registrations_count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    created_outside_fleetdeck = models.BooleanField(default=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "region", "activation_id"], name="activation_unique_id"
            )
        ]

    def __str__(self) -> str:
        return f"Activation {self.activation_id} ({self.state})"

    def current_state(self, now: datetime | None = None) -> str:
        """The state as of now: expiry is checked against the clock, not only the
        last refresh, so an activation is never shown usable past its expiry."""
        if self.state == self.State.REVOKED:
            return self.State.REVOKED
        now = now or timezone.now()
        if self.state == self.State.EXPIRED or (self.expires_at and self.expires_at <= now):
            return self.State.EXPIRED
        if self.registrations_count >= self.registration_limit:
            return self.State.EXHAUSTED
        return self.State.ACTIVE

    @property
    def is_usable(self) -> bool:
        return self.current_state() == self.State.ACTIVE

    @property
    def time_to_expiry(self) -> timedelta | None:
        if self.expires_at is None:
            return None
        return max(self.expires_at - timezone.now(), timedelta(0))


class InstanceAdmission(models.Model):
    """The waiting room: one row per external instance Fleetdeck has seen join."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        ADMITTING = "admitting", "Admitting"
        ADMITTED = "admitted", "Admitted"
        REJECTING = "rejecting", "Rejecting"
        REJECTED = "rejected", "Rejected"

    IN_FLIGHT = (State.ADMITTING, State.REJECTING)

    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="admissions"
    )
    container_instance = models.OneToOneField(
        "clusters.ContainerInstance",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="admission",
    )
    container_instance_arn = models.CharField(max_length=2048)
    managed_instance_id = models.CharField(max_length=64, db_index=True)
    activation = models.ForeignKey(
        Activation, null=True, blank=True, on_delete=models.SET_NULL, related_name="admissions"
    )
    activation_aws_id = models.CharField(max_length=64, blank=True)
    flagged_unknown_activation = models.BooleanField(default=False)
    held = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    hostname = models.CharField(max_length=255, blank=True)
    ip_address = models.CharField(max_length=64, blank=True)
    platform = models.CharField(max_length=128, blank=True)
    ssm_agent_version = models.CharField(max_length=64, blank=True)
    ecs_agent_version = models.CharField(max_length=64, blank=True)
    docker_version = models.CharField(max_length=64, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["-first_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "managed_instance_id"], name="admission_unique_instance"
            )
        ]

    def __str__(self) -> str:
        return f"{self.managed_instance_id} ({self.state})"

    @property
    def is_in_flight(self) -> bool:
        return self.state in self.IN_FLIGHT


class DecommissionRequest(models.Model):
    class State(models.TextChoices):
        REQUESTED = "requested", "Waiting for confirmation"
        DECOMMISSIONING = "decommissioning", "Draining and deregistering"
        DONE = "done", "Decommissioned"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    container_instance = models.ForeignKey(
        "clusters.ContainerInstance", on_delete=models.CASCADE, related_name="decommissions"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    reason = models.TextField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.REQUESTED)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # At most one open (waiting or running) request per instance.
            models.UniqueConstraint(
                fields=["container_instance"],
                condition=models.Q(state__in=["requested", "decommissioning"]),
                name="decommission_one_open",
            )
        ]

    def __str__(self) -> str:
        return f"Decommission #{self.pk} ({self.state})"

    @property
    def is_in_flight(self) -> bool:
        return self.state == self.State.DECOMMISSIONING
