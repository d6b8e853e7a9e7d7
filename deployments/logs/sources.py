"""Where a task container's logs can be read, decided from the mirror alone.

``awslogs`` in the container's ``logConfiguration`` (group, region, stream prefix):
CloudWatch Logs, stream ``<prefix>/<container name>/<task id>`` as the ECS agent
names it (without a prefix the driver names the stream after the Docker container
id). Otherwise a container on a linked Docker host labelled with the task's ARN and
the container's name (the ECS agent's labels): the engine's own logs. Otherwise
nothing, with why and how to change that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clusters.models import Container
from deployments.models import Task

AWSLOGS_DOCS = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html"


@dataclass(frozen=True)
class LogTarget:
    kind: str  # "cloudwatch", "docker" or "" (none)
    group: str = ""
    region: str = ""
    stream: str = ""
    host_id: int | None = None
    container_id: str = ""
    why: str = ""  # when kind is "": why there are no logs, and how to get them

    @property
    def where(self) -> str:
        if self.kind == "cloudwatch":
            return f"CloudWatch Logs {self.group}, stream {self.stream} ({self.region})"
        if self.kind == "docker":
            return f"Docker container {self.container_id[:12]}"
        return ""


def _definition(task: Task, name: str) -> dict[str, Any]:
    td = task.task_definition
    for c in td.containers if td is not None else []:
        if c.get("name") == name:
            return dict(c)
    return {}


def _cloudwatch(task: Task, name: str, conf: dict[str, Any], runtime_id: str) -> LogTarget | None:
    options = conf.get("options") or {}
    group = str(options.get("awslogs-group") or "")
    if conf.get("logDriver") != "awslogs" or not group:
        return None
    prefix = str(options.get("awslogs-stream-prefix") or "")
    stream = f"{prefix}/{name}/{task.short_id}" if prefix else runtime_id
    if not stream:
        return None
    region = str(options.get("awslogs-region") or task.cluster.region)
    return LogTarget(kind="cloudwatch", group=group, region=region, stream=stream)


def _docker(task: Task, name: str, runtime_id: str) -> LogTarget | None:
    rows = Container.objects.filter(host__enabled=True, gone_at__isnull=True).select_related("host")
    row = rows.filter(ecs_task_arn=task.arn, ecs_container_name=name).first()
    if row is None and runtime_id:
        row = rows.filter(container_id=runtime_id).first()
    if row is None:
        return None
    return LogTarget(kind="docker", host_id=row.host_id, container_id=row.container_id)


def log_target(task: Task, name: str, runtime_id: str = "") -> LogTarget:
    conf = _definition(task, name).get("logConfiguration") or {}
    target = _cloudwatch(task, name, conf, runtime_id) or _docker(task, name, runtime_id)
    if target is not None:
        return target
    driver = conf.get("logDriver") or "the default json-file"
    return LogTarget(
        kind="",
        why=(
            f"This container logs through {driver}, which Fleetdeck cannot read, and it runs "
            "on no Docker host Fleetdeck knows. To see its logs here, give the container a "
            "logConfiguration with the awslogs driver (awslogs-group, awslogs-region, "
            "awslogs-stream-prefix) in a new task definition revision, or add the "
            "external instance's Docker engine as a Docker host linked to the instance."
        ),
    )
