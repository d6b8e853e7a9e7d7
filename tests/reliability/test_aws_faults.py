"""AWS misbehaving on a schedule (throttling, HTTP 500, stalls) across consecutive
syncs: the mirror ends exactly equal to what boto3 sees without faults, nothing is
marked gone by mistake, no task event is lost or doubled, and the failures are
visible on the SyncRun rows.

`make test` runs a 200-task fleet for 5 syncs; `make soak` runs the issue's
1,000-task fleet for 20 syncs with 5 s stalls."""

from __future__ import annotations

from typing import Any

import pytest

from clusters.aws.errors import AwsTransientError
from clusters.aws.session import clients_forget
from clusters.models import AwsAccount, ContainerInstance, SyncRun
from clusters.models.timeline import Event
from deployments.models import Service, Task
from deployments.sync import account_sync
from tests.ecs_seed import boto, seed_external_fleet

CLUSTER = "faulty"


def _truth(url: str) -> dict[str, set[str]]:
    """The sandbox's view through plain boto3 (faults are cleared while reading)."""
    ecs = boto("ecs", url)
    out: dict[str, set[str]] = {"instances": set(), "services": set(), "running": set()}
    for page in ecs.get_paginator("list_container_instances").paginate(cluster=CLUSTER):
        out["instances"] |= set(page["containerInstanceArns"])
    for page in ecs.get_paginator("list_services").paginate(cluster=CLUSTER):
        out["services"] |= set(page["serviceArns"])
    arns: list[str] = []
    for page in ecs.get_paginator("list_tasks").paginate(cluster=CLUSTER):
        arns += page["taskArns"]
    for i in range(0, len(arns), 100):
        for t in ecs.describe_tasks(cluster=CLUSTER, tasks=arns[i : i + 100])["tasks"]:
            if t["lastStatus"] == "RUNNING":
                out["running"].add(t["taskArn"])
    return out


def _mirror() -> dict[str, set[str]]:
    return {
        "instances": set(
            ContainerInstance.objects.filter(gone_at__isnull=True).values_list("arn", flat=True)
        ),
        "services": set(Service.objects.filter(gone_at__isnull=True).values_list("arn", flat=True)),
        "running": set(
            Task.objects.filter(gone_at__isnull=True, last_status="RUNNING").values_list(
                "arn", flat=True
            )
        ),
    }


def _fault_rules(round_no: int, stall_seconds: float) -> list[dict[str, Any]]:
    """A different mix each round; odd rounds break one call past every retry."""
    rules: list[dict[str, Any]] = [
        {"service": "ecs", "operation": "DescribeTasks", "fault": "throttle", "rate": 0.3},
        {
            "service": "ecs",
            "operation": "DescribeServices",
            "fault": "stall",
            "count": 1,
            "stall_seconds": stall_seconds,
        },
        {
            "service": "ecs",
            "operation": "ListContainerInstances",
            "fault": "error500",
            "schedule": [True, False, True],
        },
    ]
    if round_no % 2 == 1:
        # Ten 500s outlast the five attempts of both (parallel) ListTasks listings: this sync fails.
        rules.insert(
            0, {"service": "ecs", "operation": "ListTasks", "fault": "error500", "count": 10}
        )
    return rules


def _run(sandbox: Any, *, services: int, per_service: int, rounds: int, stall: float) -> None:
    seed_external_fleet(
        sandbox, cluster=CLUSTER, instances=20, services=services, tasks_per_service=per_service
    )
    clients_forget()
    account = AwsAccount.objects.create(
        name="faulty", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )
    stopped: list[str] = []
    failed_rounds = 0
    for round_no in range(rounds):
        # The fleet changes between syncs: two tasks die, the scheduler replaces them.
        truth_before = sorted(_truth(sandbox.url)["running"])
        for arn in truth_before[round_no * 2 : round_no * 2 + 2]:
            sandbox.client.stop_task(arn, exit_code=1, reason="killed by the fault test")
            stopped.append(arn)
        sandbox.client.tick(2)
        sandbox.client.set_faults(_fault_rules(round_no, stall), seed=round_no)
        try:
            run = account_sync(account_id=account.pk)
        except AwsTransientError:
            run = SyncRun.objects.filter(account=account, cluster=None).first()
        sandbox.client.clear_faults()
        assert run is not None
        run.refresh_from_db()
        assert run.is_finished
        truth = _truth(sandbox.url)
        mirror = _mirror()
        # Never gone by mistake: whatever is gone in the mirror is gone in AWS too.
        gone_running = (
            set(Task.objects.filter(gone_at__isnull=False).values_list("arn", flat=True))
            & truth["running"]
        )
        assert not gone_running, f"round {round_no}: live tasks marked gone"
        assert not (
            set(Service.objects.filter(gone_at__isnull=False).values_list("arn", flat=True))
            & truth["services"]
        )
        assert not (
            set(
                ContainerInstance.objects.filter(gone_at__isnull=False).values_list(
                    "arn", flat=True
                )
            )
            & truth["instances"]
        )
        if round_no % 2 == 1:
            failed_rounds += 1
            assert run.status == "failed"
            # The failure is on the run, in words an operator can act on.
            assert run.errors and any("ServerException" in e or "500" in e for e in run.errors), (
                run.errors
            )
        else:
            assert run.status == "succeeded", run.errors
            assert mirror == truth, f"round {round_no}: mirror differs from AWS"
    # The series ends with a faulted sync too (the last round is even when rounds is odd;
    # otherwise one more faulted-but-recoverable sync closes it).
    if rounds % 2 == 0:
        sandbox.client.set_faults(_fault_rules(0, stall), seed=99)
        run = account_sync(account_id=account.pk)
        sandbox.client.clear_faults()
        assert run is not None and run.status == "succeeded", run.errors if run else None
    assert _mirror() == _truth(sandbox.url)
    assert failed_rounds >= 1
    assert SyncRun.objects.filter(status="failed").exists()
    # No event lost or doubled: every task the test killed has exactly one "stopped" event.
    for arn in stopped:
        n = Event.objects.filter(task_arn=arn, dedupe_key__endswith="STOPPED").count()
        assert n == 1, f"{arn}: {n} stop events"
    assert Task.objects.filter(arn__in=stopped, last_status="STOPPED").count() == len(stopped)
    keys = list(Event.objects.values_list("dedupe_key", flat=True))
    assert len(keys) == len(set(keys))


@pytest.mark.slow
@pytest.mark.django_db
def test_five_faulted_syncs_of_200_tasks_end_equal_to_aws(sandbox) -> None:
    _run(sandbox, services=5, per_service=40, rounds=5, stall=1.0)


@pytest.mark.soak
@pytest.mark.django_db
@pytest.mark.timeout(1800)
def test_twenty_faulted_syncs_of_1000_tasks_end_equal_to_aws(sandbox) -> None:
    _run(sandbox, services=25, per_service=40, rounds=20, stall=5.0)


@pytest.mark.django_db
def test_a_sync_after_an_outage_still_retries(sandbox) -> None:
    """botocore's retry quota (standard/adaptive modes) is spent by retries that end in
    failure and comes back one token per clean call. Exhaust it the way a long outage
    does, then check that the next sync's reader still retries a single 500: each sync
    gets its own client (clusters.aws.session), so an old outage cannot leave a later
    sync without retries. Before that change the soak variant failed on round 10."""
    from clusters.mirror.sync import account_reader

    boto("ecs", sandbox.url).create_cluster(clusterName=CLUSTER)
    clients_forget()
    account = AwsAccount.objects.create(
        name="outage", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )
    outage = [{"service": "ecs", "operation": "ListTasks", "fault": "error500", "count": 10}]
    for round_no in range(8):
        sandbox.client.set_faults(outage, seed=round_no)
        reader = account_reader(account=account, region="us-east-1")
        for _ in range(2):
            with pytest.raises(AwsTransientError):
                reader.task_arns(CLUSTER)
    one_blip = [{"service": "ecs", "operation": "ListTasks", "fault": "error500", "count": 1}]
    sandbox.client.set_faults(one_blip, seed=100)
    sandbox.client.reset_request_counts()
    try:
        reader = account_reader(account=account, region="us-east-1")
        assert reader.task_arns(CLUSTER) == []
    finally:
        sandbox.client.clear_faults()
    # The 500 and the retry that succeeded: two requests reached AWS.
    counts = sandbox.client.request_counts()
    assert sum(n for op, n in counts.items() if op.endswith("ListTasks")) == 2, counts
