"""``event_stream_setup``: per region of an account, the SQS queue, its dead-letter
queue, the EventBridge rule for ``aws.ecs`` and the queue policy; idempotent, it
reports what it made and what was there already, and records the stream."""

from __future__ import annotations

import json

from django.conf import settings

from clusters.aws.eventbridge import ecs_rule_ensure
from clusters.aws.sqs_queues import queue_allow_rule, queue_ensure
from clusters.models import AwsAccount, EventStream

DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # the most SQS keeps a message


def _said(created: bool, what: str, name: str) -> str:
    return f"{'created' if created else 'found'} {what} {name}"


def event_stream_setup(*, account: AwsAccount) -> list[str]:
    """Ensure the stream in every region of ``account``; one line per thing done.
    AWS calls only: the caller must not hold a database transaction."""
    name = settings.FLEETDECK_STREAM_NAME
    lines: list[str] = []
    for region in account.regions or ["us-east-1"]:
        dlq = queue_ensure(
            account=account,
            region=region,
            name=f"{name}-dlq",
            attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)},
        )
        redrive = {
            "deadLetterTargetArn": dlq.arn,
            "maxReceiveCount": settings.FLEETDECK_STREAM_MAX_RECEIVES,
        }
        queue = queue_ensure(
            account=account,
            region=region,
            name=name,
            attributes={
                "VisibilityTimeout": str(settings.FLEETDECK_STREAM_VISIBILITY_SECONDS),
                "ReceiveMessageWaitTimeSeconds": "20",
                "RedrivePolicy": json.dumps(redrive),
            },
        )
        rule = ecs_rule_ensure(account=account, region=region, name=name, queue_arn=queue.arn)
        queue_allow_rule(
            account=account, region=region, url=queue.url, queue_arn=queue.arn, rule_arn=rule.arn
        )
        EventStream.objects.update_or_create(
            account=account,
            region=region,
            defaults={
                "queue_url": queue.url,
                "queue_arn": queue.arn,
                "dlq_url": dlq.url,
                "dlq_arn": dlq.arn,
                "rule_name": rule.name,
                "rule_arn": rule.arn,
            },
        )
        lines += [
            f"{region}: {_said(dlq.created, 'dead-letter queue', dlq.url)}",
            f"{region}: {_said(queue.created, 'queue', queue.url)} "
            f"(redrive to the dead-letter queue after {redrive['maxReceiveCount']} receives)",
            f"{region}: {_said(rule.created, 'EventBridge rule', rule.arn)}",
            f"{region}: {'created' if rule.target_created else 'found'} the rule's target "
            "(the queue) and set the queue policy (events.amazonaws.com, this rule only)",
        ]
    return lines
