"""ECS API shape: paging, batch limits, failures, filters, task lifecycle fields."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.helpers import activate_and_register, external_task_definition


def _drain_pages(call, key, **kw):
    out, token, pages = [], None, 0
    while True:
        resp = call(**kw, **({"nextToken": token} if token else {}))
        out += resp[key]
        pages += 1
        token = resp.get("nextToken")
        if not token:
            return out, pages


def test_list_calls_page_with_next_token(aws, sandbox):
    """ListClusters / ListServices (default 10, max 100) / ListTaskDefinitions /
    ListTasks / ListContainerInstances return nextToken pages.
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListServices.html"""
    ecs = aws("ecs")
    for i in range(12):
        ecs.create_cluster(clusterName=f"c{i:02d}")
    arns, pages = _drain_pages(ecs.list_clusters, "clusterArns", maxResults=5)
    assert len(arns) == 12 and pages == 3
    activate_and_register(aws, sandbox, n=3, cpu=8192, memory=16384)
    external_task_definition(ecs, cpu=16, memory=16)
    for i in range(12):
        ecs.create_service(
            cluster="edge",
            serviceName=f"s{i:02d}",
            taskDefinition="web",
            desiredCount=1,
            launchType="EXTERNAL",
        )
    first = ecs.list_services(cluster="edge")
    assert len(first["serviceArns"]) == 10 and first["nextToken"]
    arns, pages = _drain_pages(ecs.list_services, "serviceArns", cluster="edge")
    assert len(arns) == 12 and pages == 2
    with pytest.raises(ClientError) as err:
        ecs.list_services(cluster="edge", maxResults=101)
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    sandbox.client.tick(1)
    arns, pages = _drain_pages(ecs.list_tasks, "taskArns", cluster="edge", maxResults=5)
    assert len(arns) == 12 and pages == 3
    arns, pages = _drain_pages(
        ecs.list_container_instances, "containerInstanceArns", cluster="edge", maxResults=2
    )
    assert len(arns) == 3 and pages == 2
    for _ in range(3):
        external_task_definition(ecs)
    arns, pages = _drain_pages(ecs.list_task_definitions, "taskDefinitionArns", maxResults=3)
    assert len(arns) == 4 and pages == 2


def test_batch_limits_and_missing_failures(aws, sandbox):
    """DescribeTasks and DescribeContainerInstances take at most 100 ids and
    DescribeServices 10 (InvalidParameterException); unknown ids come back as
    failures with reason MISSING.
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTasks.html"""
    ecs = aws("ecs")
    ecs.create_cluster(clusterName="edge")
    for call, key, n in (
        (ecs.describe_tasks, "tasks", 101),
        (ecs.describe_container_instances, "containerInstances", 101),
        (ecs.describe_services, "services", 11),
    ):
        with pytest.raises(ClientError) as err:
            call(cluster="edge", **{key: [f"id{i}" for i in range(n)]})
        assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    resp = ecs.describe_tasks(cluster="edge", tasks=["0123456789abcdef0123456789abcdef"])
    assert resp["tasks"] == []
    assert resp["failures"][0]["reason"] == "MISSING"
    assert resp["failures"][0]["arn"].endswith("task/edge/0123456789abcdef0123456789abcdef")
    resp = ecs.describe_services(cluster="edge", services=["nope"])
    assert resp["failures"] == [
        {"arn": "arn:aws:ecs:us-east-1:123456789012:service/edge/nope", "reason": "MISSING"}
    ]
    resp = ecs.describe_container_instances(cluster="edge", containerInstances=["nope"])
    assert resp["failures"][0]["reason"] == "MISSING"


def test_list_tasks_filters(aws, sandbox):
    """ListTasks filters by serviceName, desiredStatus (default RUNNING), containerInstance."""
    outs = activate_and_register(aws, sandbox, n=2)
    ecs = aws("ecs")
    external_task_definition(ecs)
    ecs.create_service(
        cluster="edge",
        serviceName="web",
        taskDefinition="web",
        desiredCount=2,
        launchType="EXTERNAL",
    )
    solo = ecs.run_task(cluster="edge", taskDefinition="web", launchType="EXTERNAL")["tasks"][0]
    sandbox.client.tick(2)
    assert len(ecs.list_tasks(cluster="edge")["taskArns"]) == 3
    svc_tasks = ecs.list_tasks(cluster="edge", serviceName="web")["taskArns"]
    assert len(svc_tasks) == 2 and solo["taskArn"] not in svc_tasks
    on_first = ecs.list_tasks(cluster="edge", containerInstance=outs[0]["containerInstanceArn"])[
        "taskArns"
    ]
    on_second = ecs.list_tasks(cluster="edge", containerInstance=outs[1]["containerInstanceArn"])[
        "taskArns"
    ]
    assert len(on_first) + len(on_second) == 3 and on_first and on_second
    ecs.stop_task(cluster="edge", task=solo["taskArn"], reason="done")
    assert ecs.list_tasks(cluster="edge", desiredStatus="STOPPED")["taskArns"] == [solo["taskArn"]]
    assert solo["taskArn"] not in ecs.list_tasks(cluster="edge")["taskArns"]


def test_task_lifecycle_fields_and_stop_reasons(aws, sandbox):
    """Tasks carry createdAt/pullStartedAt/startedAt/stoppingAt/stoppedAt; StopTask gives
    stopCode UserInitiated; tasks never drift to STOPPED just by being described.
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Task.html"""
    activate_and_register(aws, sandbox, n=1)
    ecs = aws("ecs")
    external_task_definition(ecs)
    arn = ecs.run_task(cluster="edge", taskDefinition="web", launchType="EXTERNAL")["tasks"][0][
        "taskArn"
    ]
    sandbox.client.tick(1)
    for _ in range(5):
        t = ecs.describe_tasks(cluster="edge", tasks=[arn])["tasks"][0]
        assert t["lastStatus"] == "RUNNING"
    for key in ("createdAt", "pullStartedAt", "pullStoppedAt", "startedAt"):
        assert key in t
    ecs.stop_task(cluster="edge", task=arn, reason="maintenance")
    t = ecs.describe_tasks(cluster="edge", tasks=[arn])["tasks"][0]
    assert t["desiredStatus"] == "STOPPED" and "stoppingAt" in t
    sandbox.client.tick(1)
    t = ecs.describe_tasks(cluster="edge", tasks=[arn])["tasks"][0]
    assert t["lastStatus"] == "STOPPED"
    assert t["stopCode"] == "UserInitiated" and t["stoppedReason"] == "maintenance"
    assert t["stoppedAt"] >= t["startedAt"]
    assert t["containers"][0]["exitCode"] == 0


def test_control_stop_task_and_forget_after(aws, sandbox):
    """A task that dies by itself: EssentialContainerExited with the container's exit
    code and reason. Stopped tasks disappear from list/describe after forget_after
    (AWS keeps them about an hour)."""
    activate_and_register(aws, sandbox, n=1)
    ecs = aws("ecs")
    external_task_definition(ecs)
    arn = ecs.run_task(cluster="edge", taskDefinition="web", launchType="EXTERNAL")["tasks"][0][
        "taskArn"
    ]
    sandbox.client.tick(1)
    sandbox.client.forget_after(5)
    sandbox.client.stop_task(
        arn, exit_code=137, reason="OutOfMemoryError: Container killed due to memory usage"
    )
    t = ecs.describe_tasks(cluster="edge", tasks=[arn])["tasks"][0]
    assert t["lastStatus"] == "STOPPED" and t["stopCode"] == "EssentialContainerExited"
    assert t["stoppedReason"] == "Essential container in task exited"
    assert t["containers"][0]["exitCode"] == 137
    assert t["containers"][0]["reason"].startswith("OutOfMemoryError")
    sandbox.client.tick(3)
    assert ecs.list_tasks(cluster="edge", desiredStatus="STOPPED")["taskArns"] == []
    assert ecs.describe_tasks(cluster="edge", tasks=[arn])["failures"][0]["reason"] == "MISSING"
