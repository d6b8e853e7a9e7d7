"""follow_events as a real process against the sandbox: a task stopped in AWS is
STOPPED in the mirror (API and page) within 5 s with no sync; SIGKILL mid-batch loses
and doubles nothing; a reconcile afterwards changes nothing.

ECS events are published with ``tests.ecs_event_publish`` (put_events, as AWS
would) until the sandbox emits them itself."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from clusters.models import AwsAccount, Event, EventStream, SyncRun
from deployments.models import Task
from deployments.sync import account_sync
from tests.deployments.stream.conftest import follow_events_process
from tests.ecs_event_publish import tasks_publish
from tests.ecs_seed import boto
from tests.peers import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _running(n: int) -> list[Task]:
    return list(Task.objects.filter(last_status="RUNNING").order_by("arn")[:n])


def _stop(sandbox: Any, arns: list[str]) -> None:
    """StopTask as a client calls it, and the two events AWS sends: desired STOPPED,
    then (after the sandbox's scheduler has moved the task on) STOPPED."""
    ecs = boto("ecs", sandbox.url)
    for arn in arns:
        ecs.stop_task(cluster="edge", task=arn, reason="stopped by the test")
    tasks_publish(sandbox.url, "edge", arns)
    sandbox.client.tick(1)
    tasks_publish(sandbox.url, "edge", arns)


def _queue_empty(sandbox: Any) -> bool:
    """Nothing waiting and nothing in flight: every message was applied and deleted."""
    sqs = boto("sqs", sandbox.url)
    queue = EventStream.objects.get().queue_url
    attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    waiting = attrs["ApproximateNumberOfMessages"], attrs["ApproximateNumberOfMessagesNotVisible"]
    return waiting == ("0", "0")


def _stopped_in_mirror(arn: str) -> bool:
    return Task.objects.filter(arn=arn, last_status="STOPPED").exists()


def test_a_stopped_task_is_stopped_in_the_mirror_within_5_seconds(
    streamed: AwsAccount, sandbox: Any, tmp_path: Path, viewer_client: Client
) -> None:
    syncs = SyncRun.objects.count()
    log = tmp_path / "follow.log"
    with follow_events_process(log):
        sandbox.client.reset_request_counts()
        wait_until(lambda: sandbox.client.request_counts().get("sqs:ReceiveMessage"), 20)
        latencies = []
        for task in _running(5):
            started = time.monotonic()
            _stop(sandbox, [task.arn])
            try:
                wait_until(lambda a=task.arn: _stopped_in_mirror(a), timeout=5, interval=0.05)
            except AssertionError:
                raise AssertionError(log.read_text()[-3000:]) from None
            latencies.append(time.monotonic() - started)
            api = viewer_client.get(reverse("api-tasks-detail", args=[task.pk]))
            assert api.status_code == 200 and "STOPPED" in api.content.decode()
            page = viewer_client.get(reverse("deployments:task", args=[task.pk]))
            assert page.status_code == 200 and "STOPPED" in page.content.decode()
    assert SyncRun.objects.count() == syncs, "no sync ran: the stream did it"
    assert max(latencies) < 5, latencies
    stream = EventStream.objects.get()
    assert stream.events_applied >= 5 and stream.last_event_at is not None
    # one timeline entry per stop, and a reconcile finds nothing left to do
    for arn in Task.objects.filter(last_status="STOPPED").values_list("arn", flat=True):
        assert Event.objects.filter(task_arn=arn, details__lastStatus="STOPPED").count() == 1
    # The reconcile adds the replacement tasks the scheduler started (no event was
    # published for them) but changes nothing the stream wrote.
    fields = ("arn", "version", "last_status", "stopped_at", "stop_code", "stopped_reason")
    stopped = Task.objects.filter(last_status="STOPPED")
    before = set(stopped.values_list(*fields))
    entries = Event.objects.filter(source="task").count()
    run = account_sync(account_id=streamed.pk)
    assert run is not None and run.status == "succeeded"
    assert len(before) == 5 and set(stopped.values_list(*fields)) == before
    new_tasks = run.created_count
    assert Event.objects.filter(source="task").count() <= entries + new_tasks


def test_follow_events_killed_mid_batch_loses_and_doubles_nothing(
    streamed: AwsAccount, sandbox: Any, tmp_path: Path
) -> None:
    """The kill lands after the mirror committed and before SQS deleted the messages
    (the sandbox stalls DeleteMessageBatch): on restart, after the visibility timeout,
    the same events come back and change nothing."""
    victims = [t.arn for t in _running(4)]
    sandbox.client.set_faults(
        [
            {
                "service": "sqs",
                "operation": "DeleteMessageBatch",
                "fault": "stall",
                "count": 1,
                "stall_seconds": 30,
            }
        ]
    )
    sandbox.client.reset_request_counts()
    log = tmp_path / "follow.log"
    with follow_events_process(log) as proc:
        _stop(sandbox, victims)
        wait_until(
            lambda: sandbox.client.request_counts().get("sqs:DeleteMessageBatch", 0) >= 1, 20
        )
        applied = [a for a in victims if _stopped_in_mirror(a)]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    assert applied, "the kill landed after at least one event was written"
    sandbox.client.clear_faults()
    with follow_events_process(log):
        wait_until(lambda: all(_stopped_in_mirror(a) for a in victims), timeout=40)
        # the redelivered messages (visibility timeout 10 s) are applied and deleted
        wait_until(lambda: _queue_empty(sandbox), 40)
    for arn in victims:
        entries = Event.objects.filter(task_arn=arn, details__lastStatus="STOPPED")
        assert entries.count() == 1, arn
    assert EventStream.objects.get().events_dropped >= 1, "the redelivered events were dropped"
    before = Task.objects.filter(arn__in=victims).values_list("arn", "version", "last_status")
    run = account_sync(account_id=streamed.pk)
    assert run is not None and run.status == "succeeded"
    after = Task.objects.filter(arn__in=victims).values_list("arn", "version", "last_status")
    assert set(before) == set(after)
    assert Event.objects.filter(task_arn__in=victims, details__lastStatus="STOPPED").count() == 4


def test_the_followers_describes_and_refreshes_are_batched_in_time(
    streamed: AwsAccount, sandbox: Any, tmp_path: Path
) -> None:
    """Three changes within FLEETDECK_STREAM_BATCH_SECONDS, each a stop and its
    replacement (the sandbox publishes every state change): each stop is in the mirror
    at once, and the replacements' describes and the service refreshes are made
    together (at most a leading round, then one per period), not once per event."""
    log = tmp_path / "follow.log"
    # A period long enough that the three changes (under 15 s, each stop waited for
    # below) fall into the leading round's period even on a slow machine.
    with follow_events_process(log, FLEETDECK_STREAM_BATCH_SECONDS="20"):
        sandbox.client.reset_request_counts()
        wait_until(lambda: sandbox.client.request_counts().get("sqs:ReceiveMessage"), 20)
        tasks = _running(3)
        for task in tasks:
            sandbox.client.stop_task(task.arn, exit_code=0, reason="batched")
            sandbox.client.tick(1)  # the service starts a replacement
            wait_until(lambda a=task.arn: _stopped_in_mirror(a), timeout=5, interval=0.05)
        aws = {
            t["taskArn"]: t["lastStatus"]
            for t in boto("ecs", sandbox.url).describe_tasks(
                cluster="edge",
                tasks=boto("ecs", sandbox.url).list_tasks(cluster="edge")["taskArns"],
            )["tasks"]
        }
        assert len(aws) == 6
        try:
            wait_until(
                lambda: (
                    dict(Task.objects.filter(arn__in=aws).values_list("arn", "last_status")) == aws
                ),
                timeout=10,
            )
            # the leading round (at the first stop) and one more, a period later
            wait_until(lambda: sandbox.client.request_counts().get("ecs:DescribeServices") == 2, 40)
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
        time.sleep(22)  # a further period: nothing is left to do
        calls = sandbox.client.request_counts()
    assert calls.get("ecs:DescribeServices") == 2, calls
    assert 1 <= calls.get("ecs:DescribeTasks", 0) <= 2, f"3 new tasks, 1 call a round: {calls}"
