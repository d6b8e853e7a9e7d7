"""Publishing ECS events into the sandbox's EventBridge, as AWS would, for the event
stream tests and bench: ``events.put_events`` with source ``aws.ecs``; the rule that
``setup_event_stream`` made delivers the envelope's JSON to the SQS queue (moto does
the delivery). The detail of a task event is the task as DescribeTasks returns it,
JSON-encoded as EventBridge does (ISO-8601 timestamps).

The sandbox also emits ECS events itself (sandbox/ecs_events.py); tests use this where
they need exact control over what is delivered and when (the follower's apply is
idempotent, so the sandbox's own copies change nothing)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tests.ecs_seed import boto

TASK = "ECS Task State Change"
INSTANCE = "ECS Container Instance State Change"


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    raise TypeError(type(value).__name__)


def ecs_envelope(
    kind: str, detail: dict[str, Any], *, resources: list[str], region: str = "us-east-1"
) -> dict[str, Any]:
    """The PutEvents entry for one ECS event (EventBridge adds id, time and account)."""
    return {
        "Source": "aws.ecs",
        "DetailType": kind,
        "Resources": resources,
        "Detail": json.dumps(detail, default=_json_default),
    }


def tasks_publish(url: str, cluster: str, arns: list[str], *, region: str = "us-east-1") -> int:
    """Describe ``arns`` now and publish one Task State Change per task (PutEvents
    takes 10 entries a call); the number published."""
    ecs = boto("ecs", url, region)
    entries: list[dict[str, Any]] = []
    for i in range(0, len(arns), 100):
        tasks = ecs.describe_tasks(cluster=cluster, tasks=arns[i : i + 100])["tasks"]
        entries += [ecs_envelope(TASK, t, resources=[t["taskArn"]], region=region) for t in tasks]
    entries_publish(url, entries, region=region)
    return len(entries)


def entries_publish(url: str, entries: list[dict[str, Any]], *, region: str = "us-east-1") -> None:
    events = boto("events", url, region)
    for i in range(0, len(entries), 10):
        out = events.put_events(Entries=entries[i : i + 10])
        assert not out.get("FailedEntryCount"), out


def raw_publish(url: str, body: str, *, region: str = "us-east-1") -> None:
    """A poison message: ``body`` sent to the stream's queue as is."""
    sqs = boto("sqs", url, region)
    queue = sqs.get_queue_url(QueueName="fleetdeck-ecs-events")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=body)
