"""A sandbox service whose newest revision changes the image tag and crashes until
the circuit breaker fails its deployment (no automatic rollback), mirrored."""

from __future__ import annotations

from typing import Any

from deployments.sync import cluster_sync
from tests.deployments.redeploy_fleet import Fleet, fleet_create


def broken_release(sandbox: Any, *, rollback: bool = False) -> tuple[Fleet, str]:
    """``web`` on app:1 (example/app:1, COMPLETED), then app:2 (example/app:2) whose
    tasks exit at once until the breaker FAILS it. Returns the fleet and app:2's ARN."""
    fleet = fleet_create(sandbox, desired=2, instances=1, rollback=rollback)
    broken = fleet.ecs.register_task_definition(
        family="app",
        requiresCompatibilities=["EXTERNAL"],
        networkMode="bridge",
        containerDefinitions=[
            {"name": "app", "image": "example/app:2", "cpu": 128, "memory": 256, "essential": True}
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    sandbox.client.crash_task_definition(broken, exit_code=1)
    fleet.ecs.update_service(cluster="edge", service="web", taskDefinition=broken)
    for _ in range(10):
        sandbox.client.tick(1)
    cluster_sync(cluster_id=fleet.services["web"].cluster_id)
    return fleet, broken


def aws_primary(fleet: Fleet) -> dict[str, Any]:
    """The service's PRIMARY deployment as AWS (the sandbox) answers it."""
    svc = fleet.ecs.describe_services(cluster="edge", services=["web"])["services"][0]
    return next(d for d in svc["deployments"] if d["status"] == "PRIMARY")
