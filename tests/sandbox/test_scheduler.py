"""The service scheduler, stepped with the manual clock (one tick = one step)."""

from __future__ import annotations

import re

from tests.sandbox.helpers import activate_and_register, external_task_definition, messages, service

TASK_IDS = r"(?: \(task [0-9a-f]{32}\))+"


def test_scripted_rolling_deployment(aws, sandbox):
    """Activation -> two instances -> EXTERNAL service of 4 -> forceNewDeployment -> ticks
    until COMPLETED. A new deployment (ecs-svc/ + 19 digits) becomes PRIMARY, the old one
    ACTIVE, old tasks are replaced within maximumPercent 200 / minimumHealthyPercent 100,
    with AWS's event texts, newest first.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-ecs.html
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-event-messages-list.html"""
    activate_and_register(aws, sandbox, n=2)
    ecs = aws("ecs")
    external_task_definition(ecs, cpu=256, memory=512)
    created = ecs.create_service(
        cluster="edge",
        serviceName="web",
        taskDefinition="web",
        desiredCount=4,
        launchType="EXTERNAL",
    )["service"]
    assert created["launchType"] == "EXTERNAL"
    first = created["deployments"][0]
    assert re.fullmatch(r"ecs-svc/\d{19}", first["id"])
    assert first["rolloutState"] == "IN_PROGRESS" and first["status"] == "PRIMARY"

    sandbox.client.tick(1)
    svc = service(ecs)
    assert (svc["runningCount"], svc["pendingCount"]) == (0, 4)
    assert re.fullmatch(
        r"\(service web\) has started 4 tasks:" + TASK_IDS + r"\.", messages(svc)[0]
    )

    sandbox.client.tick(1)
    svc = service(ecs)
    assert (svc["runningCount"], svc["pendingCount"]) == (4, 0)
    assert svc["deployments"][0]["rolloutState"] == "COMPLETED"
    assert messages(svc)[:2] == [
        "(service web) has reached a steady state.",
        f"(service web) (deployment {first['id']}) deployment completed.",
    ]
    tasks = ecs.describe_tasks(
        cluster="edge", tasks=ecs.list_tasks(cluster="edge", serviceName="web")["taskArns"]
    )["tasks"]
    assert {t["startedBy"] for t in tasks} == {first["id"]}
    assert {t["group"] for t in tasks} == {"service:web"}
    old_arns = {t["taskArn"] for t in tasks}
    # Spread over both instances.
    assert len({t["containerInstanceArn"] for t in tasks}) == 2

    updated = ecs.update_service(cluster="edge", service="web", forceNewDeployment=True)["service"]
    new, old = updated["deployments"]
    assert (
        new["status"] == "PRIMARY"
        and new["rolloutState"] == "IN_PROGRESS"
        and new["id"] != first["id"]
    )
    assert old["status"] == "ACTIVE" and old["id"] == first["id"]

    sandbox.client.tick(1)  # new tasks start alongside the old ones (maximumPercent 200)
    svc = service(ecs)
    new, old = svc["deployments"]
    assert (new["pendingCount"], new["runningCount"], old["runningCount"]) == (4, 0, 4)
    assert (svc["runningCount"], svc["pendingCount"]) == (4, 4)
    assert messages(svc)[0].startswith("(service web) has started 4 tasks:")

    sandbox.client.tick(1)  # new tasks RUNNING: 8 healthy, 4 may go
    svc = service(ecs)
    new, old = svc["deployments"]
    assert new["runningCount"] == 4 and new["rolloutState"] == "IN_PROGRESS"
    assert re.fullmatch(
        r"\(service web\) has stopped 4 running tasks:" + TASK_IDS + r"\.", messages(svc)[0]
    )
    stopping = ecs.describe_tasks(cluster="edge", tasks=list(old_arns))["tasks"]
    assert {t["desiredStatus"] for t in stopping} == {"STOPPED"}

    sandbox.client.tick(1)  # old tasks STOPPED, old deployment gone, rollout COMPLETED
    svc = service(ecs)
    assert len(svc["deployments"]) == 1
    assert svc["deployments"][0]["rolloutState"] == "COMPLETED"
    assert svc["deployments"][0]["rolloutStateReason"] == f"ECS deployment {new['id']} completed."
    assert messages(svc)[:2] == [
        "(service web) has reached a steady state.",
        f"(service web) (deployment {new['id']}) deployment completed.",
    ]
    assert (svc["runningCount"], svc["pendingCount"]) == (4, 0)
    stopped = ecs.describe_tasks(cluster="edge", tasks=list(old_arns))["tasks"]
    for t in stopped:
        assert t["lastStatus"] == "STOPPED"
        assert t["stopCode"] == "ServiceSchedulerInitiated"
        assert t["stoppedReason"] == f"Scaling activity initiated by (deployment {first['id']})"
    for e in svc["events"]:
        assert re.fullmatch(r"[0-9a-f-]{36}", e["id"]) and e["createdAt"]
    stamps = [e["createdAt"] for e in svc["events"]]
    assert stamps == sorted(stamps, reverse=True)


def test_circuit_breaker_fails_and_rolls_back(aws, sandbox):
    """With deploymentCircuitBreaker enable+rollback, a task definition whose tasks crash
    fails the deployment ("deployment failed: tasks failed to start.") and ECS rolls back
    to the last completed deployment.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html"""
    activate_and_register(aws, sandbox, n=2)
    ecs = aws("ecs")
    external_task_definition(ecs)
    ecs.create_service(
        cluster="edge",
        serviceName="web",
        taskDefinition="web",
        desiredCount=2,
        launchType="EXTERNAL",
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    sandbox.client.tick(2)
    good = service(ecs)["deployments"][0]["id"]
    bad_td = external_task_definition(ecs)["taskDefinitionArn"]
    sandbox.client.crash_task_definition(bad_td, exit_code=137)
    ecs.update_service(cluster="edge", service="web", taskDefinition=bad_td)
    failed_id = service(ecs)["deployments"][0]["id"]
    failed_msg = f"(service web) (deployment {failed_id}) deployment failed: tasks failed to start."
    for _ in range(12):
        sandbox.client.tick(1)
        svc = service(ecs)
        if failed_msg in messages(svc):
            break
    assert failed_msg in messages(svc)
    primary = svc["deployments"][0]
    assert primary["id"] != failed_id and primary["taskDefinition"].endswith("web:1")
    assert primary["rolloutState"] == "IN_PROGRESS"
    assert (
        primary["rolloutStateReason"]
        == f"ECS deployment circuit breaker: rolling back to deploymentId {good}."
    )
    # The failed deployment's tasks never started, so it is already drained away;
    # the good deployment's tasks keep serving until the rollback replaces them.
    assert [(d["id"], d["status"]) for d in svc["deployments"]] == [
        (primary["id"], "PRIMARY"),
        (good, "ACTIVE"),
    ]
    failed_tasks = ecs.list_tasks(cluster="edge", desiredStatus="STOPPED", startedBy=failed_id)[
        "taskArns"
    ]
    assert len(failed_tasks) >= 3
    crashed = ecs.describe_tasks(cluster="edge", tasks=failed_tasks[:1])["tasks"][0]
    assert crashed["stopCode"] == "EssentialContainerExited"
    assert crashed["containers"][0]["exitCode"] == 137
    assert (
        crashed["containers"][0]["reason"]
        == "OutOfMemoryError: Container killed due to memory usage"
    )
    sandbox.client.tick(3)
    svc = service(ecs)
    assert len(svc["deployments"]) == 1 and svc["deployments"][0]["rolloutState"] == "COMPLETED"
    assert svc["runningCount"] == 2


def test_circuit_breaker_without_rollback_stays_failed(aws, sandbox):
    """Circuit breaker without rollback: the deployment is FAILED and stays PRIMARY."""
    activate_and_register(aws, sandbox, n=1)
    ecs = aws("ecs")
    external_task_definition(ecs)
    sandbox.client.crash_task_definition("web", exit_code=1, reason="boom")
    ecs.create_service(
        cluster="edge",
        serviceName="web",
        taskDefinition="web",
        desiredCount=1,
        launchType="EXTERNAL",
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": False}},
    )
    sandbox.client.tick(10)
    svc = service(ecs)
    d = svc["deployments"][0]
    assert d["status"] == "PRIMARY" and d["rolloutState"] == "FAILED" and d["failedTasks"] == 3
    assert svc["runningCount"] == 0


def test_draining_instance_tasks_move_elsewhere(aws, sandbox):
    """Tasks on a DRAINING instance are replaced on other ACTIVE instances.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/container-instance-draining.html"""
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
    sandbox.client.tick(2)
    drain = outs[0]["containerInstanceArn"]
    ecs.update_container_instances_state(
        cluster="edge", containerInstances=[drain], status="DRAINING"
    )
    sandbox.client.tick(4)
    tasks = ecs.describe_tasks(
        cluster="edge", tasks=ecs.list_tasks(cluster="edge", serviceName="web")["taskArns"]
    )["tasks"]
    assert len(tasks) == 2
    assert {t["containerInstanceArn"] for t in tasks} == {outs[1]["containerInstanceArn"]}
    ci = ecs.describe_container_instances(cluster="edge", containerInstances=[drain])[
        "containerInstances"
    ][0]
    assert ci["runningTasksCount"] == 0
    assert service(ecs)["runningCount"] == 2


def test_unplaceable_task_event_and_disconnected_agent(aws, sandbox):
    """No room: "(service web) was unable to place a task because no container instance
    met all of its requirements. ..." once (not repeated every step). Tasks are never
    placed on an instance whose agent is disconnected."""
    (out,) = activate_and_register(aws, sandbox, n=1, cpu=1024, memory=1024)
    ecs = aws("ecs")
    external_task_definition(ecs, cpu=256, memory=512)
    sandbox.client.set_agent_connected(False, ec2_instance_id=out["instanceId"])
    ecs.create_service(
        cluster="edge",
        serviceName="web",
        taskDefinition="web",
        desiredCount=3,
        launchType="EXTERNAL",
    )
    sandbox.client.tick(3)
    svc = service(ecs)
    assert svc["pendingCount"] == 0 and svc["runningCount"] == 0
    assert messages(svc) == [
        "(service web) was unable to place a task because no container instance met all of its "
        "requirements. Reason: No Container Instances were found in your cluster. For more "
        "information, see the Troubleshooting section of the Amazon ECS Developer Guide."
    ]
    sandbox.client.set_agent_connected(True, ec2_instance_id=out["instanceId"])
    sandbox.client.tick(2)
    svc = service(ecs)
    assert svc["runningCount"] == 2
    assert "has insufficient memory available" in messages(svc)[0]


def test_scale_to_zero_and_delete(aws, sandbox):
    """desiredCount 0 stops every task; DeleteService needs desiredCount 0 (or force)."""
    activate_and_register(aws, sandbox, n=1)
    ecs = aws("ecs")
    external_task_definition(ecs)
    ecs.create_service(
        cluster="edge",
        serviceName="web",
        taskDefinition="web",
        desiredCount=2,
        launchType="EXTERNAL",
    )
    sandbox.client.tick(2)
    ecs.update_service(cluster="edge", service="web", desiredCount=0)
    sandbox.client.tick(2)
    svc = service(ecs)
    assert (svc["desiredCount"], svc["runningCount"]) == (0, 0)
    assert messages(svc)[0] == "(service web) has reached a steady state."
    assert messages(svc)[1].startswith("(service web) has stopped 2 running tasks:")
    ecs.delete_service(cluster="edge", service="web")
    sandbox.client.tick(1)
    assert service(ecs)["status"] == "INACTIVE"
    assert ecs.list_services(cluster="edge")["serviceArns"] == []


def test_crash_loop_events_are_capped_at_100(aws, sandbox):
    """Without a circuit breaker a crashing task is replaced forever; the service keeps
    only its 100 newest events (DescribeServices: "the last 100 events").
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Service.html"""
    activate_and_register(aws, sandbox, n=1)
    ecs = aws("ecs")
    external_task_definition(ecs)
    sandbox.client.crash_task_definition("web:1", exit_code=2, reason="bad config")
    ecs.create_service(
        cluster="edge",
        serviceName="web",
        taskDefinition="web",
        desiredCount=1,
        launchType="EXTERNAL",
    )
    sandbox.client.tick(110)
    svc = service(ecs)
    assert len(svc["events"]) == 100
    assert svc["deployments"][0]["failedTasks"] >= 50
    assert svc["deployments"][0]["rolloutState"] == "IN_PROGRESS"
