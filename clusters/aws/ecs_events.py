"""ECS events as EventBridge delivers them (the SQS message body is the JSON of the
envelope), parsed into plain dataclasses. A task event's detail is the task as
DescribeTasks returns it, an instance event's the DescribeContainerInstances shape:
both go through the same parsers as the describes (``ecs_types``), after their
ISO-8601 timestamps are read as datetimes, so the mirror writes them the same way."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clusters.aws.ecs_types import (
    ContainerInstanceInfo,
    TaskInfo,
    _container_instance,
    _task,
)

TASK = "ECS Task State Change"
INSTANCE = "ECS Container Instance State Change"
DEPLOYMENT = "ECS Deployment State Change"
SERVICE_ACTION = "ECS Service Action"
_TIMES = frozenset(
    {
        "createdAt",
        "startedAt",
        "stoppingAt",
        "stoppedAt",
        "pullStartedAt",
        "pullStoppedAt",
        "executionStoppedAt",
        "connectivityAt",
        "registeredAt",
        "updatedAt",
    }
)


class EventUnreadable(ValueError):
    """A message body that is not an ECS event Fleetdeck understands."""


@dataclass(frozen=True)
class EcsEvent:
    event_id: str
    kind: str  # the detail-type
    region: str
    at: datetime | None
    resources: list[str]
    cluster_arn: str
    version: int = 0
    task: TaskInfo | None = None
    instance: ContainerInstanceInfo | None = None
    event_name: str = ""  # deployment and service-action events
    detail: dict[str, Any] = field(default_factory=dict)


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _times(value: Any) -> Any:
    """The detail with its timestamp fields as datetimes (containers included)."""
    if isinstance(value, list):
        return [_times(v) for v in value]
    if isinstance(value, dict):
        return {k: _when(v) if k in _TIMES else _times(v) for k, v in value.items()}
    return value


def ecs_event_parse(body: str) -> EcsEvent:
    """The event in an SQS message body; ``EventUnreadable`` for anything else."""
    try:
        envelope = json.loads(body)
        kind = str(envelope["detail-type"])
        detail = _times(envelope.get("detail") or {})
        if envelope.get("source") != "aws.ecs" or not isinstance(detail, dict):
            raise EventUnreadable(f"not an aws.ecs event: {envelope.get('source')!r}")
        base: dict[str, Any] = {
            "event_id": str(envelope.get("id") or ""),
            "kind": kind,
            "region": str(envelope.get("region") or ""),
            "at": _when(envelope.get("time")),
            "resources": [str(r) for r in envelope.get("resources") or []],
            "cluster_arn": str(detail.get("clusterArn") or ""),
            "detail": detail,
        }
        if kind == TASK:
            task = _task(detail)
            return EcsEvent(**base, version=task.version, task=task)
        if kind == INSTANCE:
            instance = _container_instance(detail)
            return EcsEvent(**base, version=instance.version, instance=instance)
        if kind in (DEPLOYMENT, SERVICE_ACTION):
            return EcsEvent(**base, event_name=str(detail.get("eventName") or ""))
    except EventUnreadable:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise EventUnreadable(f"{type(exc).__name__}: {exc}") from exc
    raise EventUnreadable(f"unknown detail-type {kind!r}")
