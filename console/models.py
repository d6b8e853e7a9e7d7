"""The console's own state: acknowledgements, alert states and notification channels."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class Acknowledgement(models.Model):
    """Someone on call has seen a "needs attention" item.

    ``state`` is the item's state when it was acknowledged: when the item changes
    (more tasks failed, another instance dropped), its state differs and the item
    comes back to the top.
    """

    fingerprint = models.CharField(max_length=255, db_index=True)
    state = models.CharField(max_length=255, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    user_name = models.CharField(max_length=150, blank=True)
    note = models.TextField(blank=True)
    # The firing (AlertState.fire_seq) acknowledged: when the item clears and fires
    # again, the acknowledgement no longer holds even if the state looks the same.
    fire_seq = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.fingerprint} acked by {self.user_name}"


class AlertState(models.Model):
    """Whether a "needs attention" fingerprint is firing; ``fire_seq`` counts how
    many times it started firing, so a fact that clears and comes back notifies
    again, but the same firing never notifies twice."""

    fingerprint = models.CharField(max_length=255, unique=True)
    firing = models.BooleanField(default=True)
    fire_seq = models.PositiveIntegerField(default=1)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    source = models.CharField(max_length=32)
    title = models.CharField(max_length=500)
    cluster_arn = models.CharField(max_length=2048, blank=True)
    url = models.CharField(max_length=2048, blank=True)
    fired_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-fired_at"]

    def __str__(self) -> str:
        return f"{self.fingerprint} #{self.fire_seq} {'firing' if self.firing else 'resolved'}"


class ChannelKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook (JSON)"
    SLACK = "slack", "Slack-compatible incoming webhook"
    EMAIL = "email", "E-mail"


class NotificationChannel(models.Model):
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    target = models.CharField(
        max_length=2048, help_text="Webhook URL, or comma-separated e-mail addresses."
    )
    min_severity = models.CharField(
        max_length=16, choices=Severity.choices, default=Severity.WARNING
    )
    # Empty list = all.
    sources = models.JSONField(default=list, blank=True)
    clusters = models.JSONField(default=list, blank=True, help_text="Cluster ARNs or names.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def matches(self, *, severity: str, source: str, cluster_arn: str) -> bool:
        if SEVERITY_RANK.get(severity, 0) < SEVERITY_RANK.get(self.min_severity, 0):
            return False
        if self.sources and source not in self.sources:
            return False
        if self.clusters:
            name = cluster_arn.rsplit("/", 1)[-1]
            if cluster_arn not in self.clusters and name not in self.clusters:
                return False
        return True


class DeliveryKind(models.TextChoices):
    FIRE = "fire", "Fire"
    RESOLVE = "resolve", "Resolve"
    TEST = "test", "Test"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"  # claimed by one worker (claim_token)
    SENT = "sent", "Sent"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed"


class NotificationDelivery(models.Model):
    channel = models.ForeignKey(
        NotificationChannel, on_delete=models.CASCADE, related_name="deliveries"
    )
    fingerprint = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=DeliveryKind.choices)
    fire_seq = models.PositiveIntegerField(default=1)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_status_code = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Task messages are acknowledged late, so one can be delivered twice: the
    # worker that moves the row to SENDING (compare-and-set) is the only one that
    # sends, and only its token may record the outcome.
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The same fact never notifies the same channel twice.
            models.UniqueConstraint(
                fields=["channel", "fingerprint", "kind", "fire_seq"],
                name="delivery_once_per_fact",
            )
        ]
        indexes = [models.Index(fields=["channel", "-created_at"], name="delivery_channel_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.fingerprint} -> {self.channel_id} ({self.status})"
