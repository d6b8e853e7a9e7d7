"""What ECS Anywhere bills: the intervals each external (mi-) instance was registered."""

from __future__ import annotations

from django.db import models

from clusters.models.aws import AwsAccount, Cluster, ContainerInstance


class InstanceRegistration(models.Model):
    """One registered interval of an external container instance, from ECS's
    ``registeredAt`` to its deregistration (open while it is still registered).

    Written by the mirror's instance sync (``clusters.cost.registrations_record``)
    and by a decommission (``registration_close``); the bill (``clusters.cost``)
    adds these up. ``last_status``/``last_seen_at``: the status the mirror last saw
    while the instance was registered, and when it saw it change."""

    class ClosedBy(models.TextChoices):
        OPEN = "", "Still registered"
        MIRROR = "mirror", "The mirror saw it deregistered or gone"
        DECOMMISSION = "decommission", "Deregistered by a decommission"

    instance = models.ForeignKey(
        ContainerInstance, on_delete=models.CASCADE, related_name="registrations"
    )
    account = models.ForeignKey(AwsAccount, on_delete=models.CASCADE, related_name="+")
    cluster = models.ForeignKey(
        Cluster, on_delete=models.CASCADE, related_name="instance_registrations"
    )
    region = models.CharField(max_length=32)
    registered_at = models.DateTimeField()
    deregistered_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.CharField(
        max_length=16, choices=ClosedBy.choices, default=ClosedBy.OPEN, blank=True
    )
    last_seen_at = models.DateTimeField()
    last_status = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["registered_at", "id"]
        constraints = [
            # One open interval per instance: a sync run twice changes nothing.
            models.UniqueConstraint(
                fields=["instance"],
                condition=models.Q(deregistered_at__isnull=True),
                name="instreg_one_open",
            )
        ]
        indexes = [
            # A month's bill: the intervals that start before its end.
            models.Index(fields=["registered_at"], name="instreg_registered_idx"),
            models.Index(fields=["cluster", "deregistered_at"], name="instreg_cluster_open_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.instance} registered {self.registered_at.isoformat()}"
