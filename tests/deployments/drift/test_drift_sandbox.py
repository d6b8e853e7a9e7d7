"""Drift end to end with both real peers: the sandbox (AWS) runs an EXTERNAL
service whose task is a real container on the local engine; the mirror syncs
ECS, the Docker sync lists the engine, and a container killed from outside opens
finding 1, which resolves once ECS has stopped and replaced the task."""

from __future__ import annotations

import pytest

from clusters.docker_hosts import docker_host_create, docker_host_sync
from clusters.models import AwsAccount, ContainerInstance
from deployments.drift.evaluation import drift_evaluate
from deployments.models import DriftFinding, DriftKind, Task
from deployments.sync import account_sync
from tests.clusters.docker_helpers import DOCKER_URL
from tests.ecs_seed import boto
from tests.sandbox.helpers import external_task_definition

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox_cluster(sandbox, engine):
    name = f"dr{engine.run_id}"  # unique: other runs share the engine
    yield name
    for c in engine.client.containers.list(
        all=True, filters={"label": f"com.amazonaws.ecs.cluster={name}"}
    ):
        c.remove(force=True)


def _sync_all(account, host) -> None:
    run = account_sync(account_id=account.pk)
    assert run is not None and run.status == "succeeded", run.errors if run else None
    assert docker_host_sync(host_id=host.pk) is not None
    drift_evaluate()


@pytest.mark.slow
def test_killed_task_container_opens_and_resolves_drift(sandbox, aws_env, engine, sandbox_cluster):
    ecs, ssm = boto("ecs", sandbox.url), boto("ssm", sandbox.url)
    ecs.create_cluster(clusterName=sandbox_cluster)
    act = ssm.create_activation(IamRole="ecsAnywhereRole", RegistrationLimit=1)
    out = sandbox.client.register_instance(
        activation_id=act["ActivationId"],
        activation_code=act["ActivationCode"],
        cluster=sandbox_cluster,
        hostname="edge-0",
    )
    sandbox.client.link_docker_host(out["instanceId"], DOCKER_URL)
    external_task_definition(ecs)
    ecs.create_service(
        cluster=sandbox_cluster,
        serviceName="web",
        taskDefinition="web",
        desiredCount=1,
        launchType="EXTERNAL",
    )
    sandbox.client.tick(2)
    account = AwsAccount.objects.create(
        name="sandbox", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )
    host = docker_host_create(name="edge-0", endpoint=DOCKER_URL)
    _sync_all(account, host)

    (task,) = Task.objects.filter(cluster__name=sandbox_cluster, last_status="RUNNING")
    host.refresh_from_db()
    instance = ContainerInstance.objects.get(ec2_instance_id=out["instanceId"])
    assert host.container_instance == instance and host.link_source == "auto:task-arn"
    assert not DriftFinding.objects.filter(kind=DriftKind.TASK_WITHOUT_CONTAINER).exists()
    # The local engine runs no ecs-agent container: rule 3 on a real external instance.
    assert DriftFinding.objects.filter(
        kind=DriftKind.AGENT_CONTAINER, docker_host=host, resolved_at__isnull=True
    ).exists()

    (container,) = engine.client.containers.list(
        filters={"label": f"com.amazonaws.ecs.task-arn={task.arn}"}
    )
    container.kill()
    container.wait(timeout=120)
    _sync_all(account, host)  # ECS has not noticed yet (no tick): RUNNING, no container
    finding = DriftFinding.objects.get(kind=DriftKind.TASK_WITHOUT_CONTAINER, task=task)
    assert finding.is_open and finding.container_instance == instance

    sandbox.client.tick(2)  # the agent reports the exit; the service replaces the task
    _sync_all(account, host)
    finding.refresh_from_db()
    assert finding.resolved_at is not None
    replacement = Task.objects.get(cluster__name=sandbox_cluster, last_status="RUNNING")
    assert replacement.arn != task.arn
    assert not DriftFinding.objects.filter(
        kind=DriftKind.TASK_WITHOUT_CONTAINER, resolved_at__isnull=True
    ).exists()
