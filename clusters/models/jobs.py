from __future__ import annotations

from django.db import models
from django.utils import timezone


class QueuedJob(models.Model):
    """One message for the workers, written in the caller's transaction (an outbox).

    ``sent_at`` stays empty until the broker accepted the message, so a message the
    broker refused (Redis down) is still here for the sweep to send again. Sending
    claims the row by compare-and-set on ``claimed_at``, so two senders never both
    send; a claim whose sender died before recording the outcome goes stale and the
    sweep sends the row again (tasks are idempotent, so a second copy changes nothing).
    """

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    countdown = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            # The sweep and the banner read pending rows only.
            models.Index(
                fields=["created_at"],
                name="queuedjob_pending_idx",
                condition=models.Q(sent_at__isnull=True),
            ),
            models.Index(fields=["sent_at"], name="queuedjob_sent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.task_name}{tuple(self.args)}"
