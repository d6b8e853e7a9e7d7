"""The demo fleet logs as a real one would: its task definitions use the awslogs
driver (group ``/ecs/<family>``, region, prefix ``ecs``), their containers' lines are
in CloudWatch Logs under ``ecs/<container>/<task id>``, an OOM-killed worker's
stream ends with what the process printed before the kill; edge-metrics logs to the
machine's Docker instead (no logConfiguration), and with a Docker engine the first
edge machine runs its tasks there.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html"""

from __future__ import annotations

from typing import Any

from sandbox.seed import _link_docker_host
from sandbox.state import SETTINGS
from tests.clusters.docker_helpers import DOCKER_URL


def test_demo_task_definitions_log_through_awslogs_and_crashes_leave_last_lines(
    aws: Any, sandbox: Any
) -> None:
    sandbox.client.seed("demo")
    ecs, logs = aws("ecs"), aws("logs")
    worker = ecs.describe_task_definition(taskDefinition="worker")["taskDefinition"]
    conf = worker["containerDefinitions"][0]["logConfiguration"]
    assert conf == {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": "/ecs/worker",
            "awslogs-region": "us-east-1",
            "awslogs-stream-prefix": "ecs",
        },
    }
    metrics = ecs.describe_task_definition(taskDefinition="edge-metrics")["taskDefinition"]
    assert "logConfiguration" not in metrics["containerDefinitions"][0]

    stopped = ecs.list_tasks(cluster="prod-ec2", serviceName="worker", desiredStatus="STOPPED")
    tasks = ecs.describe_tasks(cluster="prod-ec2", tasks=stopped["taskArns"])["tasks"]
    oom = [t for t in tasks if "OutOfMemory" in (t["containers"][0].get("reason") or "")]
    assert oom, "the demo's worker was OOM-killed twice"
    task_id = oom[0]["taskArn"].rsplit("/", 1)[-1]
    events = logs.get_log_events(
        logGroupName="/ecs/worker", logStreamName=f"ecs/worker/{task_id}", startFromHead=False
    )["events"]
    assert events[0]["message"].startswith("worker starting (ghcr.io/acme/worker:2.4.1)")
    assert events[-1]["message"] == "WARNING: memory use at 97% of the container limit"

    api = ecs.list_tasks(cluster="prod-ec2", serviceName="api", desiredStatus="STOPPED")
    crashed = ecs.describe_tasks(cluster="prod-ec2", tasks=api["taskArns"])["tasks"]
    failed = [t for t in crashed if t["containers"][0].get("exitCode") == 1]
    assert failed
    task_id = failed[0]["taskArn"].rsplit("/", 1)[-1]
    last = logs.get_log_events(
        logGroupName="/ecs/api", logStreamName=f"ecs/api/{task_id}", limit=2, startFromHead=False
    )["events"]
    assert [e["message"] for e in last] == [
        "FATAL: Error: missing env DATABASE_URL",
        "exiting with status 1",
    ]


def test_with_a_docker_engine_the_first_edge_machine_is_linked(engine: Any) -> None:
    saved = (SETTINGS.docker_host, dict(SETTINGS.docker_links))
    try:
        SETTINGS.docker_host = None
        _link_docker_host("mi-0123456789abcdef0")
        assert SETTINGS.docker_links == saved[1]  # no engine given: nothing linked
        SETTINGS.docker_host = DOCKER_URL
        _link_docker_host("mi-0123456789abcdef0")
        assert SETTINGS.docker_links["mi-0123456789abcdef0"] == DOCKER_URL
    finally:
        SETTINGS.docker_host = saved[0]
        SETTINGS.docker_links.clear()
        SETTINGS.docker_links.update(saved[1])
