"""The last lines a failed container wrote, kept in the database (issue 15).

A task that stops with a non-zero exit or an OOM gets its containers' last lines
read once, by a worker after the sync that saw it stop, so they outlive the log
stream's retention and the Docker host. One row per container: created ``pending``
by the sync (the unique container is what makes the read happen once), then
``kept`` with the lines or ``unavailable`` with the reason.
"""

from __future__ import annotations

from django.db import models

from deployments.models.ecs import TaskContainer


class LastWordsState(models.TextChoices):
    PENDING = "pending"
    KEPT = "kept"
    UNAVAILABLE = "unavailable"


class LogSource(models.TextChoices):
    CLOUDWATCH = "cloudwatch"
    DOCKER = "docker"


class ContainerLastWords(models.Model):
    container = models.OneToOneField(
        TaskContainer, on_delete=models.CASCADE, related_name="last_words"
    )
    state = models.CharField(
        max_length=16, choices=LastWordsState.choices, default=LastWordsState.PENDING
    )
    source = models.CharField(max_length=16, choices=LogSource.choices, blank=True)
    # [{"at": ISO-8601 or null, "message": str, "stream": "stdout"|"stderr"|""}], oldest
    # first, redacted, at most FLEETDECK_LAST_WORDS_LINES lines / _BYTES bytes of text.
    lines = models.JSONField(default=list, blank=True)
    bytes = models.IntegerField(default=0)
    note = models.TextField(blank=True)  # why nothing was kept, or that lines were cut
    created_at = models.DateTimeField(auto_now_add=True)
    fetched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "container last words"

    def __str__(self) -> str:
        return f"last words of container {self.container_id} ({self.state})"
