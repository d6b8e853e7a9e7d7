"""Seeding ECS fleets into the sandbox (or plain moto) for mirror tests and the bench."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config


def boto(service: str, url: str, region: str = "us-east-1") -> Any:
    # service is a runtime string; boto3-stubs only types literal names.
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name=region,
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=20),
    )


def seed_external_fleet(
    sandbox: Any,
    *,
    cluster: str = "big",
    instances: int = 150,
    services: int = 25,
    tasks_per_service: int = 42,
    region: str = "us-east-1",
    cpu: int = 4096,
    memory: int = 8192,
) -> None:
    """``instances`` external (mi-) instances and ``services`` EXTERNAL services whose
    tasks are all RUNNING when this returns."""
    ecs = boto("ecs", sandbox.url, region)
    ssm = boto("ssm", sandbox.url, region)
    ecs.create_cluster(clusterName=cluster)
    act = ssm.create_activation(IamRole="ecsAnywhereRole", RegistrationLimit=max(instances, 1))
    for i in range(instances):
        sandbox.client.register_instance(
            activation_id=act["ActivationId"],
            activation_code=act["ActivationCode"],
            cluster=cluster,
            region=region,
            hostname=f"edge-{i:03d}",
            cpu=cpu,
            memory=memory,
        )
    families = max(1, min(services, 5))
    for f in range(families):
        ecs.register_task_definition(
            family=f"app{f}",
            requiresCompatibilities=["EXTERNAL"],
            networkMode="bridge",
            containerDefinitions=[
                {
                    "name": f"app{f}",
                    "image": f"example/app{f}:1.0",
                    "cpu": 128,
                    "memory": 128,
                    "essential": True,
                    "portMappings": [{"containerPort": 8080, "hostPort": 0}],
                },
                {"name": "sidecar", "image": "example/sidecar:2", "cpu": 0, "memory": 32},
            ],
        )
    for s in range(services):
        ecs.create_service(
            cluster=cluster,
            serviceName=f"svc{s:02d}",
            taskDefinition=f"app{s % families}",
            desiredCount=tasks_per_service,
            launchType="EXTERNAL",
            deploymentConfiguration={
                "maximumPercent": 200,
                "minimumHealthyPercent": 100,
                "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            },
        )
    # The sandbox's placement is O(tasks x instances x tasks); put the service tasks
    # on instances ourselves with StartTask (10 per call), as the service's own
    # scheduler would (group service:NAME, startedBy the primary deployment), then
    # one tick takes them PENDING -> RUNNING and the scheduler sees nothing to do.
    ci_arns = _list_all(ecs, "list_container_instances", "containerInstanceArns", cluster=cluster)
    slot = 0
    for s in range(services):
        svc = ecs.describe_services(cluster=cluster, services=[f"svc{s:02d}"])["services"][0]
        primary = next(d for d in svc["deployments"] if d["status"] == "PRIMARY")
        left = tasks_per_service
        while left:
            n = min(10, left)
            targets = [ci_arns[(slot + k) % len(ci_arns)] for k in range(n)]
            slot += n
            ecs.start_task(
                cluster=cluster,
                taskDefinition=svc["taskDefinition"],
                containerInstances=targets,
                group=f"service:{svc['serviceName']}",
                startedBy=primary["id"],
            )
            left -= n
    sandbox.client.tick(1)


def _list_all(client: Any, method: str, key: str, **kwargs: Any) -> list[str]:
    out: list[str] = []
    token = None
    while True:
        page = getattr(client, method)(**kwargs, **({"nextToken": token} if token else {}))
        out.extend(page[key])
        token = page.get("nextToken")
        if not token:
            return out
