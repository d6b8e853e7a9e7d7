"""End to end with the sandbox's own ECS events (sandbox/ecs_events.py): nothing is
published by the test. After setup_event_stream, with follow_events running and no
sync, a task stopped with boto3 is STOPPED in the mirror within 5 s, every time; a
reconcile afterwards changes nothing the stream wrote."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from clusters.models import AwsAccount, Event, SyncRun
from deployments.models import Task
from deployments.sync import account_sync
from tests.deployments.stream.conftest import follow_events_process
from tests.ecs_seed import boto
from tests.peers import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_stops_reach_the_mirror_through_the_sandboxs_own_events(
    streamed: AwsAccount, sandbox: Any, tmp_path: Path
) -> None:
    ecs = boto("ecs", sandbox.url)
    syncs = SyncRun.objects.count()
    log = tmp_path / "follow.log"
    victims = list(Task.objects.filter(last_status="RUNNING").order_by("arn")[:5])
    with follow_events_process(log):
        sandbox.client.reset_request_counts()
        wait_until(lambda: sandbox.client.request_counts().get("sqs:ReceiveMessage"), 20)
        for task in victims:
            started = time.monotonic()
            ecs.stop_task(cluster="edge", task=task.arn, reason="stopped by the test")
            sandbox.client.tick(1)
            try:
                wait_until(
                    lambda a=task.arn: Task.objects.filter(arn=a, last_status="STOPPED").exists(),
                    timeout=5,
                    interval=0.05,
                )
            except AssertionError:
                raise AssertionError(log.read_text()[-3000:]) from None
            assert time.monotonic() - started < 5
    assert SyncRun.objects.count() == syncs
    arns = [t.arn for t in victims]
    fields = ("arn", "version", "last_status", "stopped_at", "stop_code")
    before = set(Task.objects.filter(arn__in=arns).values_list(*fields))
    stops = Event.objects.filter(task_arn__in=arns, details__lastStatus="STOPPED")
    assert stops.count() == 5
    run = account_sync(account_id=streamed.pk)
    assert run is not None and run.status == "succeeded"
    assert set(Task.objects.filter(arn__in=arns).values_list(*fields)) == before
    assert stops.count() == 5
