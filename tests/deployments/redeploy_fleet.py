"""A small EXTERNAL fleet in the sandbox, mirrored, for the redeploy tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clusters.aws.session import clients_forget
from clusters.models import AwsAccount
from deployments.models import Service
from deployments.sync import account_sync
from tests.ecs_seed import boto


@dataclass
class Fleet:
    account: AwsAccount
    ecs: Any
    services: dict[str, Service]
    task_definition_arn: str


def fleet_create(
    sandbox: Any,
    *,
    services: tuple[str, ...] = ("web",),
    desired: int = 4,
    instances: int = 2,
    rollback: bool = True,
    cluster: str = "edge",
    docker_url: str = "",
) -> Fleet:
    """``instances`` external instances in ``cluster`` and EXTERNAL services of
    ``desired`` tasks each (circuit breaker on), steady, then mirrored. With
    ``docker_url`` every instance is linked to that engine before any task is
    placed (the sandbox's Docker-backed agent), so each task is a real container."""
    ecs = boto("ecs", sandbox.url)
    ssm = boto("ssm", sandbox.url)
    ecs.create_cluster(clusterName=cluster)
    act = ssm.create_activation(IamRole="ecsAnywhereRole", RegistrationLimit=instances)
    for i in range(instances):
        out = sandbox.client.register_instance(
            activation_id=act["ActivationId"],
            activation_code=act["ActivationCode"],
            cluster=cluster,
            hostname=f"edge-{i}",
            cpu=4096,
            memory=8192,
        )
        if docker_url:
            sandbox.client.link_docker_host(out["instanceId"], docker_url)
    td = ecs.register_task_definition(
        family="app",
        requiresCompatibilities=["EXTERNAL"],
        networkMode="bridge",
        containerDefinitions=[
            {"name": "app", "image": "example/app:1", "cpu": 128, "memory": 256, "essential": True}
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    for name in services:
        ecs.create_service(
            cluster=cluster,
            serviceName=name,
            taskDefinition=td,
            desiredCount=desired,
            launchType="EXTERNAL",
            deploymentConfiguration={
                "maximumPercent": 200,
                "minimumHealthyPercent": 100,
                "deploymentCircuitBreaker": {"enable": True, "rollback": rollback},
            },
        )
    sandbox.client.tick(2)
    clients_forget()
    account = AwsAccount.objects.create(
        name="sandbox", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )
    account_sync(account_id=account.pk)
    mirrored = {s.name: s for s in Service.objects.filter(name__in=services)}
    assert set(mirrored) == set(services)
    return Fleet(account=account, ecs=ecs, services=mirrored, task_definition_arn=td)
