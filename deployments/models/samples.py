"""Per-service running/desired samples for the dashboard's 24 h trend lines.

Written once a minute by ``deployments.samples.tasks.sample_services``; pruned so
storage stays bounded: one sample per minute for the last 24 h, one per hour
beyond that, nothing older than the retention period.
"""

from __future__ import annotations

from django.db import models

from deployments.models.ecs import Service


class ServiceSample(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="samples")
    # Minutes since the Unix epoch: one row per service per minute, and hourly
    # rows are simply the ones where minute % 60 == 0.
    minute = models.BigIntegerField()
    sampled_at = models.DateTimeField()
    desired_count = models.IntegerField(default=0)
    running_count = models.IntegerField(default=0)
    pending_count = models.IntegerField(default=0)

    class Meta:
        ordering = ["service_id", "minute"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "minute"], name="servicesample_unique_minute"
            )
        ]
        indexes = [models.Index(fields=["minute"], name="servicesample_minute_idx")]

    def __str__(self) -> str:
        return f"{self.service_id}@{self.minute}: {self.running_count}/{self.desired_count}"
