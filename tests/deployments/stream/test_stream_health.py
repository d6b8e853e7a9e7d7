"""Stream health where people look: the accounts page, the dashboard and /metrics;
poison messages end in the dead-letter queue (SQS's redrive, not a delete) and show
there. setup_event_stream is idempotent."""

from __future__ import annotations

import threading
import time
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clusters.models import AwsAccount, EventStream
from deployments.stream.follow import StreamFollower
from tests.ecs_event_publish import raw_publish
from tests.ecs_seed import boto

pytestmark = pytest.mark.django_db


def test_setup_event_stream_is_idempotent_and_makes_what_aws_needs(
    streamed: AwsAccount, sandbox: Any
) -> None:
    out = StringIO()
    call_command("setup_event_stream", account="sbx", stdout=out)
    text = out.getvalue()
    assert "created" not in text and "found queue" in text and "found EventBridge rule" in text
    stream = EventStream.objects.get()
    sqs, events = boto("sqs", sandbox.url), boto("events", sandbox.url)
    attrs = sqs.get_queue_attributes(QueueUrl=stream.queue_url, AttributeNames=["All"])
    redrive = attrs["Attributes"]["RedrivePolicy"]
    assert stream.dlq_arn in redrive and '"maxReceiveCount": 5' in redrive
    assert "events.amazonaws.com" in attrs["Attributes"]["Policy"]
    assert stream.rule_arn in attrs["Attributes"]["Policy"]
    rule = events.describe_rule(Name=stream.rule_name)
    assert '"aws.ecs"' in rule["EventPattern"] and "ECS Service Action" in rule["EventPattern"]
    targets = events.list_targets_by_rule(Rule=stream.rule_name)["Targets"]
    assert [t["Arn"] for t in targets] == [stream.queue_arn]


def test_setup_event_stream_refuses_an_unknown_account(db: Any) -> None:
    with pytest.raises(Exception, match="no account named"):
        call_command("setup_event_stream", account="nope", stdout=StringIO())


def test_poison_messages_go_to_the_dead_letter_queue_and_show(
    streamed: AwsAccount, sandbox: Any, settings: Any, viewer_client: Client, anon_client: Client
) -> None:
    settings.FLEETDECK_STREAM_MAX_RECEIVES = 2
    call_command("setup_event_stream", account="sbx", stdout=StringIO())  # redrive after 2
    raw_publish(sandbox.url, "{not json")
    raw_publish(sandbox.url, '{"source": "aws.ecs", "detail-type": "ECS Nonsense"}')
    stream = EventStream.objects.get()
    sqs = boto("sqs", sandbox.url)
    stop = threading.Event()
    follower = StreamFollower(stream.pk, stop, wait_seconds=1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        follower._once(EventStream.objects.select_related("account").get(), follower_reader(stream))
        dlq = sqs.get_queue_attributes(
            QueueUrl=stream.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        if dlq == "2":
            break
        time.sleep(1)
    else:
        raise AssertionError("the poison messages never reached the dead-letter queue")
    follower._depth_at = 0.0
    follower._once(EventStream.objects.select_related("account").get(), follower_reader(stream))
    stream.refresh_from_db()
    assert stream.dlq_depth == 2 and stream.last_poll_ok
    page = viewer_client.get(reverse("deployments:clusters")).content.decode()
    assert "2 poison messages" in page and "dead-letter queue" in page
    dash = viewer_client.get("/").content.decode()
    assert "sbx: polling" in dash
    settings.FLEETDECK_METRICS_TOKEN = "t0ken"
    metrics = anon_client.get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken").content.decode()
    assert 'fleetdeck_event_stream_dlq_messages{account="sbx",region="us-east-1"} 2' in metrics
    assert 'fleetdeck_sync_mode{account="sbx",mode="polling"} 1' in metrics


def test_a_healthy_stream_shows_stream_mode(
    streamed: AwsAccount, viewer_client: Client, anon_client: Client, settings: Any
) -> None:
    EventStream.objects.update(
        last_poll_at=timezone.now(), last_poll_ok=True, last_event_at=timezone.now()
    )
    page = viewer_client.get(reverse("deployments:clusters")).content.decode()
    assert "event stream" in page and "reconciles every 300 s" in page
    assert "sbx: event stream" in viewer_client.get("/").content.decode()
    settings.FLEETDECK_METRICS_TOKEN = "t0ken"
    metrics = anon_client.get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken").content.decode()
    assert 'fleetdeck_sync_mode{account="sbx",mode="stream"} 1' in metrics
    assert 'fleetdeck_event_stream_healthy{account="sbx",region="us-east-1"} 1' in metrics


def follower_reader(stream: EventStream) -> Any:
    from clusters.mirror.sync import account_reader

    return account_reader(account=stream.account, region=stream.region)
