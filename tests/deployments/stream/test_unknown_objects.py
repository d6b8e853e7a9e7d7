"""An event for a task the mirror does not know: written from its detail at once and
described in the batched follow-ups by default (only written with
FLEETDECK_STREAM_DESCRIBE_UNKNOWN=false); either way the row is what the sync would
write, and an event for a cluster the mirror does not know is dropped (the reconcile
discovers it)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from clusters.aws.ecs_events import ecs_event_parse
from clusters.mirror.sync import SyncLockBusy, account_reader, cluster_lock
from clusters.models import AwsAccount
from deployments.models import Service, Task
from deployments.stream.apply import events_apply
from deployments.stream.follow_ups import follow_ups_run
from tests.ecs_event_publish import TASK, _json_default
from tests.ecs_seed import boto

pytestmark = pytest.mark.django_db


def _forgotten_events(sandbox: Any, n: int) -> tuple[list[Any], list[tuple[Any, ...]]]:
    """Events for ``n`` tasks deleted from the mirror, and their rows as the sync wrote them."""
    rows = list(Task.objects.filter(last_status="RUNNING").order_by("arn")[:n])
    fields = ("arn", "last_status", "version", "group", "task_definition_id", "service_id")
    before = sorted(Task.objects.filter(pk__in=[r.pk for r in rows]).values_list(*fields))
    described = boto("ecs", sandbox.url).describe_tasks(
        cluster="edge", tasks=[r.arn for r in rows]
    )["tasks"]
    Task.objects.filter(pk__in=[r.pk for r in rows]).delete()
    events = [
        ecs_event_parse(
            json.dumps(
                {"source": "aws.ecs", "detail-type": TASK, "id": t["taskArn"], "detail": t},
                default=_json_default,
            )
        )
        for t in described
    ]
    return events, before


@pytest.mark.parametrize("describe", [True, False])
def test_an_unknown_task_is_described_or_written_from_its_event(
    streamed: AwsAccount, sandbox: Any, settings: Any, describe: bool
) -> None:
    settings.FLEETDECK_STREAM_DESCRIBE_UNKNOWN = describe
    events, before = _forgotten_events(sandbox, 3)
    reader = account_reader(account=streamed, region="us-east-1")
    sandbox.client.reset_request_counts()
    out = events_apply(account=streamed, region="us-east-1", reader=reader, events=events)
    assert sandbox.client.request_counts().get("ecs:DescribeTasks", 0) == 0, (
        "written, not described"
    )
    assert out.applied == 3 and out.described == (3 if describe else 0)
    wanted = Service.objects.filter(refresh_wanted_at__isnull=False)
    groups = {e.task.group.split(":", 1)[1] for e in events}
    assert set(wanted.values_list("name", flat=True)) == groups, "noted until it is made"
    assert not follow_ups_run(reader=reader, pending=out.follow_ups)
    assert not wanted.exists()
    calls = sandbox.client.request_counts()
    assert calls.get("ecs:DescribeTasks", 0) == (1 if describe else 0), calls
    assert calls.get("ecs:DescribeServices", 0) == 1, "their services in one call"
    fields = ("arn", "last_status", "version", "group", "task_definition_id", "service_id")
    assert (
        sorted(Task.objects.filter(arn__in=[e.task.arn for e in events]).values_list(*fields))
        == before
    )


def test_an_event_of_an_unmirrored_cluster_is_dropped(streamed: AwsAccount, sandbox: Any) -> None:
    events, _ = _forgotten_events(sandbox, 1)
    other = "arn:aws:ecs:us-east-1:123456789012:cluster/elsewhere"
    stray = replace(events[0], cluster_arn=other)
    reader = account_reader(account=streamed, region="us-east-1")
    out = events_apply(account=streamed, region="us-east-1", reader=reader, events=[stray])
    assert out.dropped == 1 and out.applied == 0


def test_events_wait_while_a_sync_of_their_cluster_writes(
    streamed: AwsAccount, sandbox: Any
) -> None:
    """A full sync holds a snapshot of the cluster's tasks and would insert a task the
    stream wrote meanwhile a second time: the stream writes under the cluster's lock,
    and while a sync holds it the events are not applied (nor, by the follower, deleted:
    they come back after the visibility timeout and apply then)."""
    events, _ = _forgotten_events(sandbox, 1)
    reader = account_reader(account=streamed, region="us-east-1")
    cluster_id = Task.objects.filter(cluster__name="edge").values_list("cluster_id", flat=True)[0]
    with cluster_lock(cluster_id=cluster_id), pytest.raises(SyncLockBusy):
        events_apply(account=streamed, region="us-east-1", reader=reader, events=events)
    assert not Task.objects.filter(arn=events[0].task.arn).exists()
    out = events_apply(account=streamed, region="us-east-1", reader=reader, events=events)
    assert out.applied == 1 and Task.objects.filter(arn=events[0].task.arn).exists()


def test_a_task_aws_no_longer_knows_is_gone_after_its_describe(
    streamed: AwsAccount, sandbox: Any, settings: Any
) -> None:
    """A late event of a task AWS has forgotten: written from its detail, then the
    follow-up's describe reports it MISSING and the row is marked gone."""
    settings.FLEETDECK_STREAM_DESCRIBE_UNKNOWN = True
    events, _ = _forgotten_events(sandbox, 1)
    ghost_arn = events[0].task.arn.rsplit("/", 1)[0] + "/0123456789abcdef0123456789abcdef"
    ghost = replace(events[0], task=replace(events[0].task, arn=ghost_arn))
    reader = account_reader(account=streamed, region="us-east-1")
    out = events_apply(account=streamed, region="us-east-1", reader=reader, events=[ghost])
    assert Task.objects.get(arn=ghost_arn).gone_at is None
    follow_ups_run(reader=reader, pending=out.follow_ups)
    assert Task.objects.get(arn=ghost_arn).gone_at is not None
