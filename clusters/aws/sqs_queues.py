"""SQS adapter for the ECS event stream: the queue and its dead-letter queue, long
polls, deletes after the database commit, and the depths the health view shows.

Returns plain dataclasses. Deletion is by receipt handle, in batches of 10 (the API's
limit); a message that is never deleted comes back after the visibility timeout and,
after ``maxReceiveCount`` receives, SQS moves it to the dead-letter queue itself."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clusters.aws.errors import aws_call_errors
from clusters.aws.session import aws_client

DELETE_BATCH = 10
NOT_FOUND = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


@dataclass(frozen=True)
class QueueRef:
    url: str
    arn: str
    created: bool  # made by this call (False: it was there already)


@dataclass(frozen=True)
class QueueMessage:
    message_id: str
    receipt_handle: str
    body: str
    sent_at: datetime | None  # SentTimestamp
    receive_count: int  # ApproximateReceiveCount, this delivery included


@dataclass(frozen=True)
class QueueDepth:
    visible: int  # ApproximateNumberOfMessages
    in_flight: int  # ApproximateNumberOfMessagesNotVisible


def _client(account: Any, region: str) -> Any:
    return aws_client(account=account, region=region, service="sqs")


def queue_ensure(*, account: Any, region: str, name: str, attributes: dict[str, str]) -> QueueRef:
    """The queue named ``name`` with ``attributes`` set (created if missing)."""
    sqs = _client(account, region)
    created = False
    with aws_call_errors():
        try:
            url = str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code not in NOT_FOUND:
                raise
            url = str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])
            created = True
        if not created:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return QueueRef(url=url, arn=str(got["Attributes"]["QueueArn"]), created=created)


def queue_depth(*, account: Any, region: str, url: str) -> QueueDepth:
    with aws_call_errors():
        got = _client(account, region).get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
    attrs = got.get("Attributes", {})
    return QueueDepth(
        visible=int(attrs.get("ApproximateNumberOfMessages") or 0),
        in_flight=int(attrs.get("ApproximateNumberOfMessagesNotVisible") or 0),
    )


def messages_receive(
    *, account: Any, region: str, url: str, wait_seconds: int = 20, max_messages: int = 10
) -> list[QueueMessage]:
    """One long poll: returns as soon as a message is there, or empty after the wait."""
    with aws_call_errors():
        got = _client(account, region).receive_message(
            QueueUrl=url,
            WaitTimeSeconds=wait_seconds,
            MaxNumberOfMessages=max_messages,
            MessageSystemAttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
        )
    return [_message(m) for m in got.get("Messages", []) or []]


def _message(m: dict[str, Any]) -> QueueMessage:
    attrs = m.get("Attributes", {}) or {}
    sent = attrs.get("SentTimestamp")
    return QueueMessage(
        message_id=str(m.get("MessageId") or ""),
        receipt_handle=str(m["ReceiptHandle"]),
        body=str(m.get("Body") or ""),
        sent_at=datetime.fromtimestamp(int(sent) / 1000, tz=UTC) if sent else None,
        receive_count=int(attrs.get("ApproximateReceiveCount") or 1),
    )


def messages_delete(*, account: Any, region: str, url: str, receipts: list[str]) -> int:
    """Delete by receipt handle; the number SQS reported deleted."""
    sqs = _client(account, region)
    deleted = 0
    for i in range(0, len(receipts), DELETE_BATCH):
        entries = [
            {"Id": str(n), "ReceiptHandle": r} for n, r in enumerate(receipts[i : i + DELETE_BATCH])
        ]
        with aws_call_errors():
            got = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        deleted += len(got.get("Successful", []) or [])
    return deleted


def queue_allow_rule(*, account: Any, region: str, url: str, queue_arn: str, rule_arn: str) -> None:
    """The queue policy: EventBridge may send to this queue, from this rule only."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "fleetdeck-ecs-events",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
    with aws_call_errors():
        _client(account, region).set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": json.dumps(policy)}
        )
