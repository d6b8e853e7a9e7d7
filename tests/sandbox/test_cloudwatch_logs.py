"""The awslogs log driver: a task's container writes to CloudWatch Logs, group and
region from its logConfiguration, stream ``<awslogs-stream-prefix>/<container
name>/<task id>``; GetLogEvents pages back from the newest line with
nextBackwardToken; FilterLogEvents searches the stream; a crashing process's last
lines are the stream's last events.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html"""

from __future__ import annotations

from typing import Any

from tests.sandbox.helpers import activate_and_register

AWSLOGS = {
    "logDriver": "awslogs",
    "options": {
        "awslogs-group": "/ecs/edge-web",
        "awslogs-region": "us-east-1",
        "awslogs-stream-prefix": "ecs",
    },
}


def _run_one(aws: Any, sandbox: Any) -> str:
    activate_and_register(aws, sandbox, n=1)
    ecs = aws("ecs")
    ecs.register_task_definition(
        family="web",
        requiresCompatibilities=["EXTERNAL"],
        networkMode="bridge",
        containerDefinitions=[
            {
                "name": "app",
                "image": "nginx:1.27",
                "memory": 128,
                "essential": True,
                "logConfiguration": AWSLOGS,
            }
        ],
    )
    ecs.create_service(
        cluster="edge",
        serviceName="web",
        taskDefinition="web",
        desiredCount=1,
        launchType="EXTERNAL",
    )
    sandbox.client.tick(3)
    return str(ecs.list_tasks(cluster="edge", serviceName="web")["taskArns"][0])


def test_awslogs_stream_named_as_the_agent_names_it_and_last_words_before_an_oom(aws, sandbox):
    arn = _run_one(aws, sandbox)
    task_id = arn.rsplit("/", 1)[-1]
    logs = aws("logs")
    stream = f"ecs/app/{task_id}"
    names = [
        s["logStreamName"]
        for s in logs.describe_log_streams(logGroupName="/ecs/edge-web")["logStreams"]
    ]
    assert stream in names

    sandbox.client.stop_task(
        arn, exit_code=137, reason="OutOfMemoryError: Container killed due to memory usage"
    )
    newest = logs.get_log_events(
        logGroupName="/ecs/edge-web", logStreamName=stream, limit=2, startFromHead=False
    )
    messages = [e["message"] for e in newest["events"]]
    assert messages[-1] == "WARNING: memory use at 97% of the container limit"
    assert [e["timestamp"] for e in newest["events"]] == sorted(
        e["timestamp"] for e in newest["events"]
    )
    older = logs.get_log_events(
        logGroupName="/ecs/edge-web",
        logStreamName=stream,
        limit=2,
        startFromHead=False,
        nextToken=newest["nextBackwardToken"],
    )
    assert older["events"] and older["events"][-1]["timestamp"] <= newest["events"][0]["timestamp"]
    assert "app starting (nginx:1.27)" in [
        e["message"]
        for e in logs.get_log_events(
            logGroupName="/ecs/edge-web", logStreamName=stream, startFromHead=True
        )["events"]
    ]

    found = logs.filter_log_events(
        logGroupName="/ecs/edge-web", logStreamNames=[stream], filterPattern='"memory use"'
    )["events"]
    assert [e["message"] for e in found] == ["WARNING: memory use at 97% of the container limit"]


def test_a_container_without_awslogs_writes_no_stream(aws, sandbox):
    activate_and_register(aws, sandbox, n=1)
    ecs = aws("ecs")
    ecs.register_task_definition(
        family="plain",
        requiresCompatibilities=["EXTERNAL"],
        networkMode="bridge",
        containerDefinitions=[{"name": "app", "image": "busybox", "memory": 64, "essential": True}],
    )
    ecs.create_service(
        cluster="edge",
        serviceName="plain",
        taskDefinition="plain",
        desiredCount=1,
        launchType="EXTERNAL",
    )
    sandbox.client.tick(3)
    assert aws("logs").describe_log_groups()["logGroups"] == []
