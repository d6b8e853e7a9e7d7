from __future__ import annotations

from typing import Any


def activate_and_register(
    aws: Any, sandbox: Any, cluster: str = "edge", n: int = 2, region: str = "us-east-1", **kw: Any
) -> list[dict[str, Any]]:
    ssm = aws("ssm", region)
    ecs = aws("ecs", region)
    ecs.create_cluster(clusterName=cluster)
    act = ssm.create_activation(IamRole="ecsAnywhereRole", RegistrationLimit=max(n, 1))
    return [
        sandbox.client.register_instance(
            activation_id=act["ActivationId"],
            activation_code=act["ActivationCode"],
            cluster=cluster,
            region=region,
            hostname=f"edge-{i}",
            **kw,
        )
        for i in range(n)
    ]


def external_task_definition(
    ecs: Any, family: str = "web", cpu: int = 256, memory: int = 512, network_mode: str = "bridge"
) -> dict[str, Any]:
    return ecs.register_task_definition(
        family=family,
        requiresCompatibilities=["EXTERNAL"],
        networkMode=network_mode,
        containerDefinitions=[
            {"name": family, "image": "nginx:1.27", "cpu": cpu, "memory": memory, "essential": True}
        ],
    )["taskDefinition"]


def service(ecs: Any, name: str = "web", cluster: str = "edge") -> dict[str, Any]:
    return ecs.describe_services(cluster=cluster, services=[name])["services"][0]


def messages(svc: dict[str, Any]) -> list[str]:
    return [e["message"] for e in svc["events"]]
