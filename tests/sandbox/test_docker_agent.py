"""The Docker-backed agent, against the machine's real Docker engine."""

from __future__ import annotations

import docker
import pytest

from tests.peers import peer_missing
from tests.sandbox.helpers import activate_and_register, external_task_definition

DOCKER_URL = "unix:///var/run/docker.sock"


@pytest.fixture
def engine():
    try:
        client = docker.DockerClient(base_url=DOCKER_URL)
        client.ping()
        client.images.get("fleetdeck-busybox:latest")
    except Exception as exc:
        peer_missing(f"the Docker engine or the test image (scripts/busybox-image.sh): {exc}")
    yield client
    for c in client.containers.list(all=True, filters={"label": "com.amazonaws.ecs.cluster=edge"}):
        c.remove(force=True)


def _containers(engine, task_arn):
    return engine.containers.list(
        all=True, filters={"label": f"com.amazonaws.ecs.task-arn={task_arn}"}
    )


def test_tasks_run_as_labelled_containers(aws, sandbox, engine):
    """A task placed on a linked external instance runs as a real container named
    ecs-<family>-<revision>-<container>-<random> with the ECS agent's labels; it is
    removed when the task stops, and a container that dies by itself stops the task
    (EssentialContainerExited, its exit code) and the service replaces it.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-anywhere.html"""
    (out,) = activate_and_register(aws, sandbox, n=1)
    sandbox.client.link_docker_host(out["instanceId"], DOCKER_URL)
    ecs = aws("ecs")
    external_task_definition(ecs)
    ecs.create_service(
        cluster="edge",
        serviceName="web",
        taskDefinition="web",
        desiredCount=1,
        launchType="EXTERNAL",
    )
    sandbox.client.tick(2)
    (arn,) = ecs.list_tasks(cluster="edge", serviceName="web")["taskArns"]
    (container,) = _containers(engine, arn)
    assert container.status == "running"
    assert container.name.startswith("ecs-web-1-web-")
    labels = container.labels
    assert labels["com.amazonaws.ecs.cluster"] == "edge"
    assert labels["com.amazonaws.ecs.container-name"] == "web"
    assert labels["com.amazonaws.ecs.task-definition-family"] == "web"
    assert labels["com.amazonaws.ecs.task-definition-version"] == "1"
    task = ecs.describe_tasks(cluster="edge", tasks=[arn])["tasks"][0]
    assert task["containers"][0]["runtimeId"] == container.id

    container.kill()  # SIGKILL: exit code 137
    sandbox.client.tick(1)
    task = ecs.describe_tasks(cluster="edge", tasks=[arn])["tasks"][0]
    assert task["lastStatus"] == "STOPPED" and task["stopCode"] == "EssentialContainerExited"
    assert task["containers"][0]["exitCode"] == 137
    assert _containers(engine, arn) == []
    sandbox.client.tick(1)
    (replacement,) = ecs.list_tasks(cluster="edge", serviceName="web")["taskArns"]
    assert replacement != arn and len(_containers(engine, replacement)) == 1

    ecs.stop_task(cluster="edge", task=replacement)
    sandbox.client.tick(1)
    assert _containers(engine, replacement) == []
