"""ECS Anywhere: what AWS's install script does on an on-prem machine.

``register_instance`` plays the script: the SSM agent registers with the
activation id and code (consuming one registration, becoming an ``mi-``
managed instance), then the ECS agent registers that ``mi-`` id with the
cluster as an external container instance.
"""

from __future__ import annotations

from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.ecs.models import ecs_backends
from moto.ssm.models import ssm_backends

from sandbox import ecs_api, ssm_activations
from sandbox.ecs_model import SandboxContainerInstance
from sandbox.scheduler import iter_backends
from sandbox.state import ACCOUNT_ID, CLOCK


def register_instance(
    *,
    region: str,
    activation_id: str,
    activation_code: str,
    cluster: str,
    hostname: str | None = None,
    ip: str | None = None,
    cpu: int = 2048,
    memory: int = 4096,
) -> dict[str, Any]:
    ecs = ecs_backends[ACCOUNT_ID][region]
    # Check the cluster first so a typo does not burn one of the activation's
    # registrations (the real script would, but only after a confusing agent log).
    ecs._get_cluster(cluster)
    inst = ssm_activations.register_managed_instance(
        ssm_backends[ACCOUNT_ID][region],
        activation_id=activation_id,
        activation_code=activation_code,
        hostname=hostname,
        ip=ip,
    )
    ci = ecs_api.register_instance(
        ecs,
        cluster,
        inst.id,
        cpu=cpu,
        memory=memory,
        extra_attributes={"ecs.os-type": "linux"},
    )
    return {
        "instanceId": inst.id,
        "containerInstanceArn": ci.container_instance_arn,
        "cluster": ci.cluster_name,
        "region": region,
    }


def find_instances(ref: str) -> list[tuple[Any, SandboxContainerInstance]]:
    """Container instances (any region) matching an ARN, id or ec2InstanceId."""
    out: list[tuple[Any, SandboxContainerInstance]] = []
    for backend in iter_backends():
        for cis in backend.container_instances.values():
            for ci in cis.values():
                if isinstance(ci, SandboxContainerInstance) and ref in (
                    ci.container_instance_arn,
                    ci.id,
                    ci.ec2_instance_id,
                ):
                    out.append((backend, ci))
    return out


def set_agent_connected(ref: str, connected: bool) -> list[str]:
    found = find_instances(ref)
    if not found:
        raise JsonRESTError("NotFound", f"no container instance {ref}")
    for backend, ci in found:
        if ci.agent_connected != connected:
            ci.agent_connected = connected
            ci.version += 1
        # SSM's ping status follows the machine (same host, same network).
        ssm = ssm_backends[ACCOUNT_ID][backend.region_name]
        inst = ssm_activations.ext(ssm).instances.get(ci.ec2_instance_id)
        if inst is not None:
            inst.ping_status = "Online" if connected else "ConnectionLost"
            if connected:
                inst.last_ping = CLOCK.timestamp()
    return [ci.container_instance_arn for _, ci in found]


def on_managed_instance_deregistered(region: str, instance_id: str) -> None:
    backend = ecs_backends[ACCOUNT_ID][region]
    for cis in backend.container_instances.values():
        for ci in cis.values():
            if isinstance(ci, SandboxContainerInstance) and ci.ec2_instance_id == instance_id:
                ecs_api.deregister_instance(backend, ci)
