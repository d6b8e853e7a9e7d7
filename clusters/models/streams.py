"""An account's ECS event stream in one region: the SQS queue an EventBridge rule
fills with ``aws.ecs`` events, its dead-letter queue, and what the followers last saw
(docs/event-stream.md)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from clusters.models.aws import AwsAccount


class EventStream(models.Model):
    account = models.ForeignKey(AwsAccount, on_delete=models.CASCADE, related_name="streams")
    region = models.CharField(max_length=32)
    queue_url = models.CharField(max_length=1024)
    queue_arn = models.CharField(max_length=2048)
    dlq_url = models.CharField(max_length=1024)
    dlq_arn = models.CharField(max_length=2048)
    rule_name = models.CharField(max_length=64)
    rule_arn = models.CharField(max_length=2048)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Written by follow_events: its last long poll, and the last event it applied.
    last_poll_at = models.DateTimeField(null=True, blank=True)
    last_poll_ok = models.BooleanField(null=True)
    last_poll_error = models.TextField(blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    events_applied = models.BigIntegerField(default=0)
    events_dropped = models.BigIntegerField(default=0)  # duplicates and late arrivals
    # From GetQueueAttributes (ApproximateNumberOfMessages*), at checked_at; the age of
    # the oldest message is the oldest SentTimestamp a follower received (SQS itself
    # only reports that age to CloudWatch).
    queue_visible = models.IntegerField(default=0)
    queue_in_flight = models.IntegerField(default=0)
    oldest_message_age_seconds = models.FloatField(null=True, blank=True)
    dlq_depth = models.IntegerField(default=0)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["account__name", "region"]
        constraints = [
            models.UniqueConstraint(fields=["account", "region"], name="stream_account_region")
        ]

    def __str__(self) -> str:
        return f"{self.account.name}/{self.region}"
