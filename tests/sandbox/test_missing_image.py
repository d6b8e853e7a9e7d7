"""A task whose image the registry does not have fails to start: AWS stops it with
stop code TaskFailedToStart and "CannotPullContainerError: ..." as the task's
stopped reason and its container's reason, with no exit code (the container never
ran), and the deployment counts it as a failed task.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_cannot_pull_image.html
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html"""

from __future__ import annotations

from tests.sandbox.helpers import activate_and_register, external_task_definition, service


def test_missing_image_fails_the_pull(aws, sandbox):
    activate_and_register(aws, sandbox, n=1)
    ecs = aws("ecs")
    external_task_definition(ecs)
    sandbox.client.missing_image("nginx:1.27")
    ecs.create_service(
        cluster="edge", serviceName="web", taskDefinition="web", desiredCount=1,
        launchType="EXTERNAL",
    )  # fmt: skip
    sandbox.client.tick(2)
    arns = ecs.list_tasks(cluster="edge", desiredStatus="STOPPED")["taskArns"]
    assert arns
    task = ecs.describe_tasks(cluster="edge", tasks=arns)["tasks"][0]
    assert task["lastStatus"] == "STOPPED"
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotPullContainerError: ")
    assert "nginx:1.27: not found" in task["stoppedReason"]
    container = task["containers"][0]
    assert container["reason"] == task["stoppedReason"]
    assert container.get("exitCode") is None
    assert service(ecs)["deployments"][0]["failedTasks"] >= 1
    assert service(ecs)["runningCount"] == 0

    # The image is pushed: the next task starts.
    sandbox.client.missing_image("nginx:1.27", missing=False)
    sandbox.client.tick(3)
    assert service(ecs)["runningCount"] == 1
