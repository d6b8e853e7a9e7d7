"""What ECS says of a task definition revision, as a plain dataclass, and its parser.
Split from ``ecs_types``: a revision is what the diff engine, the diagnosis and the
service map read container by container, so its shape grows on its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class TaskDefinitionInfo:
    arn: str
    family: str
    revision: int
    status: str
    compatibilities: list[str]
    requires_compatibilities: list[str]
    network_mode: str
    cpu: str
    memory: str
    containers: list[dict[str, Any]]
    task_role_arn: str
    execution_role_arn: str
    registered_at: datetime | None
    # [{"name", "type": "host"|"docker"|"efs"|"fsx"|..., "config": {...}}]
    volumes: list[dict[str, Any]] = field(default_factory=list)


def _port_mappings(c: dict[str, Any]) -> list[dict[str, Any]]:
    """``name`` is what Service Connect's ``portName`` refers to. It is kept only when
    set, so a definition mirrored before names were kept reads the same as an unnamed
    one (the revision diff compares port, protocol and host port, not the name)."""
    return [
        {
            "containerPort": p.get("containerPort"),
            "hostPort": p.get("hostPort"),
            "protocol": p.get("protocol", "tcp"),
            **({"name": str(p["name"])} if p.get("name") else {}),
        }
        for p in c.get("portMappings", []) or []
    ]


def _log_configuration(c: dict[str, Any]) -> dict[str, Any] | None:
    conf = c.get("logConfiguration")
    if not conf:
        return None
    return {"logDriver": conf.get("logDriver", ""), "options": dict(conf.get("options") or {})}


def _container_definition(c: dict[str, Any]) -> dict[str, Any]:
    """What a diff between revisions needs of one container. Secrets keep their
    name and ``valueFrom`` (where the value lives) only: ECS never returns a
    resolved value, and neither does this. Every key is written, even when empty,
    so a definition mirrored before a key existed is told apart (it lacks it)."""
    return {
        "name": c.get("name", ""),
        "image": c.get("image", ""),
        "cpu": c.get("cpu", 0),
        "memory": c.get("memory"),
        "memoryReservation": c.get("memoryReservation"),
        "essential": c.get("essential", True),
        "portMappings": _port_mappings(c),
        "command": c.get("command"),
        "entryPoint": c.get("entryPoint"),
        "environment": [
            {"name": e.get("name", ""), "value": e.get("value", "")}
            for e in c.get("environment", []) or []
        ],
        "secrets": [
            {"name": e.get("name", ""), "valueFrom": e.get("valueFrom", "")}
            for e in c.get("secrets", []) or []
        ],
        "healthCheck": c.get("healthCheck"),
        "logConfiguration": _log_configuration(c),
        "stopTimeout": c.get("stopTimeout"),
        "workingDirectory": c.get("workingDirectory"),
        "user": c.get("user"),
        "ulimits": [
            {
                "name": u.get("name"),
                "softLimit": u.get("softLimit"),
                "hardLimit": u.get("hardLimit"),
            }
            for u in c.get("ulimits", []) or []
        ],
    }


def _task_definition(d: dict[str, Any]) -> TaskDefinitionInfo:
    containers = [_container_definition(c) for c in d.get("containerDefinitions", []) or []]
    return TaskDefinitionInfo(
        arn=d["taskDefinitionArn"],
        family=str(d.get("family") or ""),
        revision=int(d.get("revision") or 0),
        status=str(d.get("status") or ""),
        compatibilities=list(d.get("compatibilities") or []),
        requires_compatibilities=list(d.get("requiresCompatibilities") or []),
        network_mode=str(d.get("networkMode") or ""),
        cpu=str(d.get("cpu") or ""),
        memory=str(d.get("memory") or ""),
        containers=containers,
        task_role_arn=str(d.get("taskRoleArn") or ""),
        execution_role_arn=str(d.get("executionRoleArn") or ""),
        registered_at=d.get("registeredAt"),
        volumes=[_volume(v) for v in d.get("volumes") or []],
    )


_VOLUME_KINDS = {
    "efsVolumeConfiguration": "efs",
    "fsxWindowsFileServerVolumeConfiguration": "fsx",
    "dockerVolumeConfiguration": "docker",
    "host": "host",
}


def _volume(v: dict[str, Any]) -> dict[str, Any]:
    for key, kind in _VOLUME_KINDS.items():
        if key in v:
            return {"name": str(v.get("name") or ""), "type": kind, "config": v[key] or {}}
    configured = v.get("configuredAtLaunch")
    return {"name": str(v.get("name") or ""), "type": "launch" if configured else "task"}
