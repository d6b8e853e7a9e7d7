"""AWS behaviour: an SQS long poll (ReceiveMessage with WaitTimeSeconds) returns as
soon as a message arrives, and while it waits every other call is served. The
sandbox serves ReceiveMessage outside its lock for this; EventBridge rules deliver
``put_events`` entries to an SQS target (moto)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from tests.ecs_seed import boto


def test_a_long_poll_returns_when_an_event_is_delivered_and_blocks_nobody(sandbox: Any) -> None:
    sqs, events, ecs = (boto(s, sandbox.url) for s in ("sqs", "events", "ecs"))
    url = sqs.create_queue(QueueName="poll")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="poll", EventPattern=json.dumps({"source": ["aws.ecs"]}))
    events.put_targets(Rule="poll", Targets=[{"Id": "q", "Arn": arn}])
    got: dict[str, Any] = {}

    def poll() -> None:
        started = time.monotonic()
        got["messages"] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=15).get("Messages")
        got["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    ecs.list_clusters()
    assert time.monotonic() - started < 2, "a waiting long poll held back another call"
    events.put_events(
        Entries=[{"Source": "aws.ecs", "DetailType": "ECS Task State Change", "Detail": "{}"}]
    )
    thread.join(20)
    assert got["messages"] and got["seconds"] < 5
    body = json.loads(got["messages"][0]["Body"])
    assert body["source"] == "aws.ecs" and body["detail-type"] == "ECS Task State Change"
