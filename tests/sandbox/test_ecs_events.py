"""ECS events on EventBridge, delivered by a rule to SQS, as AWS sends them.

https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_cwe_events.html
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_container_instance_events.html
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_deployment_events.html
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_events.html
"""

from __future__ import annotations

import json
import time
from typing import Any

from tests.sandbox.helpers import activate_and_register, external_task_definition

DETAIL_TYPES = [
    "ECS Task State Change",
    "ECS Container Instance State Change",
    "ECS Deployment State Change",
    "ECS Service Action",
]


def _stream(aws: Any, name: str = "fleetdeck-ecs") -> tuple[Any, str]:
    sqs, events = aws("sqs"), aws("events")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    pattern = {"source": ["aws.ecs"], "detail-type": DETAIL_TYPES}
    events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])
    return sqs, url


_INSTANCE = "ECS Container Instance State Change"


def _drain(sqs: Any, url: str, wait: float = 0.0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + wait
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if not msgs and time.monotonic() >= deadline:
            return out
        if not msgs:
            time.sleep(0.1)


def _service(ecs: Any, desired: int = 1) -> None:
    external_task_definition(ecs)
    ecs.create_service(
        cluster="edge",
        serviceName="web",
        taskDefinition="web",
        desiredCount=desired,
        launchType="EXTERNAL",
    )


def test_task_state_change_envelope_and_rising_version(aws, sandbox):
    """A rule for source aws.ecs targeting a queue receives ECS Task State Change events in
    EventBridge's envelope, the detail being the task as DescribeTasks gives it (times as ISO
    strings, plus updatedAt); detail.version rises with every change: PENDING -> RUNNING ->
    desiredStatus STOPPED (StopTask) -> STOPPED with stopCode, stoppedReason and exit codes."""
    activate_and_register(aws, sandbox, n=1)
    sqs, url = _stream(aws)
    ecs = aws("ecs")
    external_task_definition(ecs)
    arn = ecs.run_task(cluster="edge", taskDefinition="web", launchType="EXTERNAL")["tasks"][0][
        "taskArn"
    ]
    sandbox.client.tick(1)
    ecs.stop_task(cluster="edge", task=arn, reason="by the test")
    sandbox.client.tick(1)
    events = [e for e in _drain(sqs, url) if e["detail-type"] == "ECS Task State Change"]
    first = events[0]
    assert set(first) >= {"version", "id", "detail-type", "source", "account", "time"}
    assert first["version"] == "0" and first["source"] == "aws.ecs"
    assert first["account"] == "123456789012" and first["region"] == "us-east-1"
    assert first["resources"] == [arn]
    assert first["time"].endswith("Z")
    states = [(e["detail"]["lastStatus"], e["detail"]["desiredStatus"]) for e in events]
    assert states == [
        ("PENDING", "RUNNING"),
        ("RUNNING", "RUNNING"),
        ("RUNNING", "STOPPED"),
        ("STOPPED", "STOPPED"),
    ]
    versions = [e["detail"]["version"] for e in events]
    assert versions == sorted(versions) and len(set(versions)) == 4
    last = events[-1]["detail"]
    described = ecs.describe_tasks(cluster="edge", tasks=[arn])["tasks"][0]
    assert last["version"] == described["version"]
    assert last["stopCode"] == "UserInitiated" and last["stoppedReason"] == "by the test"
    assert last["containers"][0]["exitCode"] == 0
    assert last["taskArn"] == arn and last["clusterArn"] == described["clusterArn"]
    assert last["createdAt"].endswith("Z") and last["updatedAt"].endswith("Z")


def test_crash_carries_exit_code_and_reason(aws, sandbox):
    """A task whose essential container exits: STOPPED, stopCode EssentialContainerExited,
    the container's exitCode and reason."""
    activate_and_register(aws, sandbox, n=1)
    sqs, url = _stream(aws)
    ecs = aws("ecs")
    external_task_definition(ecs)
    arn = ecs.run_task(cluster="edge", taskDefinition="web", launchType="EXTERNAL")["tasks"][0][
        "taskArn"
    ]
    sandbox.client.tick(1)
    sandbox.client.stop_task(arn, exit_code=137, reason="OutOfMemoryError")
    stopped = [
        e["detail"]
        for e in _drain(sqs, url)
        if e["detail-type"] == "ECS Task State Change" and e["detail"]["lastStatus"] == "STOPPED"
    ]
    assert len(stopped) == 1
    assert stopped[0]["stopCode"] == "EssentialContainerExited"
    assert stopped[0]["containers"][0]["exitCode"] == 137
    assert stopped[0]["containers"][0]["reason"] == "OutOfMemoryError"


def test_container_instance_agent_disconnect(aws, sandbox):
    """The agent's connection changing gives an ECS Container Instance State Change with
    agentConnected, status and a higher version, shaped as DescribeContainerInstances."""
    (inst,) = activate_and_register(aws, sandbox, n=1)
    sqs, url = _stream(aws)
    arn = inst["containerInstanceArn"]
    sandbox.client.set_agent_connected(False, container_instance_arn=arn)
    sandbox.client.set_agent_connected(True, container_instance_arn=arn)
    events = [
        e for e in _drain(sqs, url) if e["detail-type"] == "ECS Container Instance State Change"
    ]
    assert [e["detail"]["agentConnected"] for e in events] == [False, True]
    assert events[0]["resources"] == [arn]
    assert events[0]["detail"]["containerInstanceArn"] == arn
    assert events[0]["detail"]["status"] == "ACTIVE"
    assert events[1]["detail"]["version"] > events[0]["detail"]["version"]
    assert events[0]["detail"]["ec2InstanceId"].startswith("mi-")


def test_deployment_and_service_action_events(aws, sandbox):
    """A new service: SERVICE_DEPLOYMENT_IN_PROGRESS then SERVICE_DEPLOYMENT_COMPLETED (INFO,
    deploymentId, reason, updatedAt) and an ECS Service Action SERVICE_STEADY_STATE with the
    clusterArn; a task that cannot be placed: SERVICE_TASK_PLACEMENT_FAILURE (ERROR) with
    its reason."""
    activate_and_register(aws, sandbox, n=1, memory=1024)
    sqs, url = _stream(aws)
    ecs = aws("ecs")
    _service(ecs)
    sandbox.client.tick(3)
    events = _drain(sqs, url)
    deployments = [e for e in events if e["detail-type"] == "ECS Deployment State Change"]
    names = [e["detail"]["eventName"] for e in deployments]
    assert names == ["SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_COMPLETED"]
    dep = deployments[-1]["detail"]
    assert dep["eventType"] == "INFO" and dep["deploymentId"].startswith("ecs-svc/")
    assert dep["reason"] == f"ECS deployment {dep['deploymentId']} completed."
    svc_arn = ecs.describe_services(cluster="edge", services=["web"])["services"][0]
    assert deployments[0]["resources"] == [svc_arn["serviceArn"]]
    actions = [e["detail"] for e in events if e["detail-type"] == "ECS Service Action"]
    assert [a["eventName"] for a in actions] == ["SERVICE_STEADY_STATE"]
    assert actions[0]["clusterArn"] == svc_arn["clusterArn"] and actions[0]["eventType"] == "INFO"

    ecs.update_service(cluster="edge", service="web", desiredCount=3)
    sandbox.client.tick(1)
    failures = [
        e["detail"]
        for e in _drain(sqs, url)
        if e["detail"].get("eventName") == "SERVICE_TASK_PLACEMENT_FAILURE"
    ]
    assert failures and failures[0]["eventType"] == "ERROR"
    assert failures[0]["reasons"] == ["RESOURCE:MEMORY"]


def test_nothing_without_a_rule_and_no_replay(aws, sandbox):
    """With no rule for aws.ecs nothing is published; a rule made later receives changes
    from then on, not the history before it."""
    activate_and_register(aws, sandbox, n=1)
    ecs = aws("ecs")
    external_task_definition(ecs)
    ecs.run_task(cluster="edge", taskDefinition="web", launchType="EXTERNAL")
    sandbox.client.tick(1)
    sqs, url = _stream(aws)
    assert _drain(sqs, url) == []
    ecs.run_task(cluster="edge", taskDefinition="web", launchType="EXTERNAL")
    events = _drain(sqs, url)
    tasks = [e["detail"] for e in events if e["detail-type"] == "ECS Task State Change"]
    assert [t["lastStatus"] for t in tasks] == ["PENDING"]


def test_placing_a_task_changes_its_instance(aws, sandbox):
    """AWS sends a Container Instance State Change when a task is placed on or leaves an
    instance (its resources change), with the instance's ``version`` one higher."""
    activate_and_register(aws, sandbox, n=1, memory=2048)
    ecs = aws("ecs")
    external_task_definition(ecs)
    sqs, url = _stream(aws)
    before = ecs.describe_container_instances(
        cluster="edge",
        containerInstances=ecs.list_container_instances(cluster="edge")["containerInstanceArns"],
    )["containerInstances"][0]
    task = ecs.run_task(cluster="edge", taskDefinition="web", launchType="EXTERNAL")["tasks"][0]
    placed = [e["detail"] for e in _drain(sqs, url) if e["detail-type"] == _INSTANCE]
    assert len(placed) == 1 and placed[0]["version"] == before["version"] + 1
    assert placed[0]["pendingTasksCount"] == 1 and placed[0]["runningTasksCount"] == 0
    memory = {r["name"]: r["integerValue"] for r in placed[0]["remainingResources"]}["MEMORY"]
    assert memory < 2048
    ecs.stop_task(cluster="edge", task=task["taskArn"])
    sandbox.client.tick(1)
    left = [e["detail"] for e in _drain(sqs, url) if e["detail-type"] == _INSTANCE]
    assert left and left[-1]["pendingTasksCount"] == 0 and left[-1]["runningTasksCount"] == 0
    assert left[-1]["version"] > placed[0]["version"]


def test_delivery_fault_duplicates_delays_and_reorders(aws, sandbox):
    """The fault: every event delivered twice, late (1 to 2 s) and out of order; all of
    them arrive in the end."""
    activate_and_register(aws, sandbox, n=1)
    sqs, url = _stream(aws)
    ecs = aws("ecs")
    external_task_definition(ecs)
    sandbox.client.set_faults([], events={"duplicate": 1.0, "delay_seconds": 2.0, "reorder": True})
    for _ in range(3):
        ecs.run_task(cluster="edge", taskDefinition="web", launchType="EXTERNAL")
    assert _drain(sqs, url) == []  # nothing yet: all late
    events = [e for e in _drain(sqs, url, wait=3.0) if e["detail-type"] == "ECS Task State Change"]
    assert len(events) == 6
    assert len({e["id"] for e in events}) == 3  # each one twice, same id
    sandbox.client.clear_faults()
