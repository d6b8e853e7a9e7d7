"""ECS calls for the waiting room and decommissioning of container instances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from clusters.aws.errors import AwsPermanentError
from clusters.aws.errors import translate as _translate
from clusters.aws.session import aws_client

PENDING_ATTRIBUTE = "fleetdeck.pending"
APPROVED_ATTRIBUTE = "fleetdeck.approved"


@dataclass(frozen=True)
class ExternalInstanceInfo:
    arn: str
    ec2_instance_id: str
    status: str
    agent_connected: bool
    agent_version: str
    docker_version: str
    running_tasks_count: int
    pending_tasks_count: int
    registered_at: datetime | None
    attributes: dict[str, str | None]


def _client(account: Any, region: str) -> Any:
    return aws_client(account=account, region=region, service="ecs")


def _call(fn: Any, **params: Any) -> Any:
    try:
        return fn(**params)
    except (ClientError, BotoCoreError) as exc:
        raise _translate(exc) from None


def _raise_failures(out: dict[str, Any]) -> None:
    failures = out.get("failures") or []
    if failures:
        first = failures[0]
        raise AwsPermanentError(
            code=str(first.get("reason") or "Failure"),
            message=f"{first.get('arn', '')}: {first.get('reason', '')} {first.get('detail', '')}",
        )


def set_container_instance_state(
    *, account: Any, region: str, cluster_arn: str, container_instance_arn: str, status: str
) -> None:
    """ACTIVE or DRAINING."""
    if status not in ("ACTIVE", "DRAINING"):
        raise ValueError(status)
    out = _call(
        _client(account, region).update_container_instances_state,
        cluster=cluster_arn,
        containerInstances=[container_instance_arn],
        status=status,
    )
    _raise_failures(out)


def put_attributes(
    *,
    account: Any,
    region: str,
    cluster_arn: str,
    container_instance_arn: str,
    attributes: dict[str, str],
) -> None:
    _call(
        _client(account, region).put_attributes,
        cluster=cluster_arn,
        attributes=[
            {"name": k, "value": v, "targetId": container_instance_arn}
            for k, v in attributes.items()
        ],
    )


def delete_attributes(
    *,
    account: Any,
    region: str,
    cluster_arn: str,
    container_instance_arn: str,
    attributes: dict[str, str],
) -> None:
    _call(
        _client(account, region).delete_attributes,
        cluster=cluster_arn,
        attributes=[
            {"name": k, "value": v, "targetId": container_instance_arn}
            for k, v in attributes.items()
        ],
    )


def deregister_container_instance(
    *, account: Any, region: str, cluster_arn: str, container_instance_arn: str
) -> bool:
    """Deregister with force (its tasks are stopped). False when already gone."""
    try:
        _client(account, region).deregister_container_instance(
            cluster=cluster_arn, containerInstance=container_instance_arn, force=True
        )
    except ClientError as exc:
        message = str(exc.response.get("Error", {}).get("Message") or "")
        if "not found" in message.lower():
            return False
        raise _translate(exc) from None
    except BotoCoreError as exc:
        raise _translate(exc) from None
    return True


def _instance(raw: dict[str, Any]) -> ExternalInstanceInfo:
    version = raw.get("versionInfo") or {}
    return ExternalInstanceInfo(
        arn=raw["containerInstanceArn"],
        ec2_instance_id=raw.get("ec2InstanceId") or "",
        status=raw.get("status") or "",
        agent_connected=bool(raw.get("agentConnected")),
        agent_version=version.get("agentVersion") or "",
        # ECS reports "DockerVersion: 25.0.8".
        docker_version=(version.get("dockerVersion") or "").removeprefix("DockerVersion: "),
        running_tasks_count=int(raw.get("runningTasksCount") or 0),
        pending_tasks_count=int(raw.get("pendingTasksCount") or 0),
        registered_at=raw.get("registeredAt"),
        attributes={a["name"]: a.get("value") for a in raw.get("attributes") or []},
    )


def list_external_instances(
    *, account: Any, region: str, cluster_arn: str, skip_arns: set[str] | None = None
) -> list[ExternalInstanceInfo]:
    """Registered external (mi-) container instances of a cluster, described in
    batches of 100 (DescribeContainerInstances' limit). ``skip_arns`` are listed but
    not described (already known), so a steady-state scan costs one call."""
    client = _client(account, region)
    arns: list[str] = []
    params: dict[str, Any] = {
        "cluster": cluster_arn,
        "filter": "attribute:ecs.capability.external",
        "maxResults": 100,
    }
    while True:
        out = _call(client.list_container_instances, **params)
        arns.extend(out.get("containerInstanceArns", []))
        token = out.get("nextToken")
        if not token:
            break
        params["nextToken"] = token
    arns = [a for a in arns if a not in (skip_arns or set())]
    found: list[ExternalInstanceInfo] = []
    for start in range(0, len(arns), 100):
        out = _call(
            client.describe_container_instances,
            cluster=cluster_arn,
            containerInstances=arns[start : start + 100],
        )
        found.extend(
            _instance(raw)
            for raw in out.get("containerInstances", [])
            if str(raw.get("ec2InstanceId") or "").startswith("mi-")
        )
    return found
