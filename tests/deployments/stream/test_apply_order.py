"""Duplicated, delayed and reordered deliveries of a sequence of task events leave
the same mirror as in-order delivery (a hypothesis property test), and a reconcile
afterwards changes nothing the events wrote.

The events are applied with ``events_apply`` in-process (the follower's own apply),
built from the tasks as the sandbox describes them, with rising ``version``s."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clusters.aws.ecs import ContainerInfo, TaskInfo
from clusters.aws.ecs_events import TASK, EcsEvent
from clusters.mirror.sync import account_reader
from clusters.models import AwsAccount, Event
from deployments.models import Task, TaskContainer
from deployments.stream.apply import events_apply
from deployments.sync import account_sync

pytestmark = pytest.mark.django_db

TASK_FIELDS = (
    "last_status",
    "desired_status",
    "version",
    "stop_code",
    "stopped_reason",
    "stopping_at",
    "stopped_at",
    "gone_at",
)


def _event(info: TaskInfo, version: int, status: str, n: int) -> EcsEvent:
    now = timezone.now()
    stopped = status == "STOPPED"
    task = replace(
        info,
        version=version,
        last_status=status,
        desired_status="STOPPED",
        stop_code="EssentialContainerExited",
        stopped_reason="Essential container in task exited",
        stopping_at=now - timedelta(seconds=5),
        stopped_at=now if stopped else None,
        containers=[
            ContainerInfo(
                name=c.name,
                image=c.image,
                last_status="STOPPED" if stopped else c.last_status,
                exit_code=137 if stopped else None,
                reason="OutOfMemoryError" if stopped else "",
                health_status=c.health_status,
                runtime_id=c.runtime_id,
            )
            for c in info.containers
        ],
    )
    return EcsEvent(
        event_id=f"{info.arn}-{version}-{n}",
        kind=TASK,
        region="us-east-1",
        at=now,
        resources=[info.arn],
        cluster_arn=info.cluster_arn,
        version=version,
        task=task,
    )


class _Fleet:
    """Three mirrored tasks, their in-order events, and a way back to the start."""

    def __init__(self, account: AwsAccount) -> None:
        self.account = account
        self.reader = account_reader(account=account, region="us-east-1")
        rows = list(Task.objects.filter(last_status="RUNNING").order_by("arn")[:3])
        self.arns = [t.arn for t in rows]
        infos, _ = self.reader.tasks(rows[0].cluster.arn, self.arns)
        self.start = {t.pk: {f: getattr(t, f) for f in TASK_FIELDS} for t in rows}
        self.containers = {
            c.pk: (c.last_status, c.exit_code, c.reason)
            for c in TaskContainer.objects.filter(task__in=rows)
        }
        self.events: list[EcsEvent] = []
        for info in infos:
            v = info.version
            for i, status in enumerate(("RUNNING", "DEPROVISIONING", "STOPPED"), start=1):
                self.events.append(_event(info, v + i, status, i))

    def reset(self) -> None:
        for pk, values in self.start.items():
            Task.objects.filter(pk=pk).update(**values)
        for pk, (status, code, reason) in self.containers.items():
            TaskContainer.objects.filter(pk=pk).update(
                last_status=status, exit_code=code, reason=reason
            )
        Event.objects.filter(task_arn__in=self.arns).delete()

    def deliver(self, batches: list[list[EcsEvent]]) -> None:
        for batch in batches:
            events_apply(account=self.account, region="us-east-1", reader=self.reader, events=batch)

    def mirror(self) -> tuple[Any, ...]:
        tasks = sorted(Task.objects.filter(arn__in=self.arns).values_list("arn", *TASK_FIELDS))
        containers = sorted(
            TaskContainer.objects.filter(task__arn__in=self.arns).values_list(
                "task__arn", "name", "last_status", "exit_code", "reason"
            )
        )
        return tuple(tasks), tuple(containers)

    def timeline(self) -> list[str]:
        return list(
            Event.objects.filter(task_arn__in=self.arns).values_list("dedupe_key", flat=True)
        )


@pytest.fixture
def fleet(streamed: AwsAccount) -> _Fleet:
    return _Fleet(streamed)


@st.composite
def deliveries(draw: Any, n: int) -> tuple[list[int], list[int]]:
    """An at-least-once delivery of events 0..n-1: every event, some twice or more,
    in any order, cut into batches of 1 to 10."""
    order = draw(st.permutations(range(n)))
    dups = draw(st.lists(st.integers(0, n - 1), max_size=n))
    for d in dups:
        order.insert(draw(st.integers(0, len(order))), d)
    sizes = draw(st.lists(st.integers(1, 10), min_size=len(order), max_size=len(order)))
    return order, sizes


def _batches(events: list[EcsEvent], order: list[int], sizes: list[int]) -> list[list[EcsEvent]]:
    out, i = [], 0
    for size in sizes:
        if i >= len(order):
            break
        out.append([events[j] for j in order[i : i + size]])
        i += size
    return out


def test_duplicated_delayed_reordered_deliveries_leave_the_in_order_mirror(fleet: _Fleet) -> None:
    fleet.deliver([[e] for e in fleet.events])
    expected, in_order_timeline = fleet.mirror(), set(fleet.timeline())
    assert {row[1] for row in expected[0]} == {"STOPPED"}

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(deliveries(len(fleet.events)))
    def check(delivery: tuple[list[int], list[int]]) -> None:
        fleet.reset()
        fleet.deliver(_batches(fleet.events, *delivery))
        assert fleet.mirror() == expected
        timeline = fleet.timeline()
        assert len(timeline) == len(set(timeline)), "an entry was written twice"
        assert set(timeline) <= in_order_timeline
        stops = Event.objects.filter(task_arn__in=fleet.arns, details__lastStatus="STOPPED")
        assert stops.count() == len(fleet.arns), timeline

    check()


def test_a_reconcile_after_the_events_changes_nothing_they_wrote(
    fleet: _Fleet, streamed: AwsAccount
) -> None:
    fleet.deliver([fleet.events[::-1], fleet.events])
    before, timeline = fleet.mirror(), sorted(fleet.timeline())
    run = account_sync(account_id=streamed.pk)
    assert run is not None and run.status == "succeeded"
    # AWS still has these tasks RUNNING (the events were made up), but at a lower
    # version than the mirror: the reconcile's describe is older and is not written.
    assert fleet.mirror() == before
    assert sorted(fleet.timeline()) == timeline
