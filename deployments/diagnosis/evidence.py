"""What Fleetdeck pulls from the mirror for a diagnosis, by the catalogue entry's
``evidence`` kind. Facts the health model or the selectors already compute are read
from there (the service's stored ``cannot-place`` reason, ``service_recent_stops``),
never computed a second time."""

from __future__ import annotations

from typing import Any

from deployments.models import Task, TaskContainer

# ECS's default when a container sets no stopTimeout.
DEFAULT_STOP_TIMEOUT = 30


def container_definition(task: Task, name: str) -> dict[str, Any]:
    td = task.task_definition
    return next((c for c in (td.containers if td else []) or [] if c.get("name") == name), {})


def memory_evidence(task: Task, container: TaskContainer | None) -> dict[str, Any]:
    """The container's hard and soft limits (MiB) from the task definition."""
    name = container.name if container else ""
    spec = container_definition(task, name)
    td = task.task_definition
    return {
        "container": name,
        "memory_hard_mib": spec.get("memory"),
        "memory_soft_mib": spec.get("memoryReservation"),
        "task_memory_mib": (td.memory if td else task.memory) or None,
        "task_definition": str(td) if td else "",
    }


def memory_limit_words(evidence: dict[str, Any]) -> str:
    """'container web hits its 128 MiB limit' (hard, else the task's size)."""
    limit = evidence.get("memory_hard_mib") or evidence.get("task_memory_mib")
    soft = evidence.get("memory_soft_mib")
    name = evidence.get("container") or "?"
    if limit:
        return f"container {name} hits its {limit} MiB limit"
    if soft:
        return f"container {name} has only a soft limit of {soft} MiB (no hard limit set)"
    return f"container {name} runs out of memory"


def stop_timeout_evidence(task: Task, container: TaskContainer | None) -> dict[str, Any]:
    spec = container_definition(task, container.name if container else "")
    set_value = spec.get("stopTimeout")
    return {
        "container": container.name if container else "",
        "stop_timeout_seconds": set_value or DEFAULT_STOP_TIMEOUT,
        "stop_timeout_set": set_value is not None,
    }


def image_evidence(task: Task, container: TaskContainer | None) -> dict[str, Any]:
    spec = container_definition(task, container.name if container else "")
    td = task.task_definition
    return {
        "container": container.name if container else "",
        "image": (container.image if container else "") or spec.get("image", ""),
        "execution_role_arn": td.execution_role_arn if td else "",
    }


def execution_role_evidence(task: Task, container: TaskContainer | None) -> dict[str, Any]:
    td = task.task_definition
    specs = (td.containers if td else []) or []
    logs = [c.get("logConfiguration") or {} for c in specs]
    return {
        "execution_role_arn": td.execution_role_arn if td else "",
        "secrets": sorted(
            {s.get("valueFrom", "") for c in specs for s in c.get("secrets") or []} - {""}
        ),
        "log_groups": sorted(
            {(lc.get("options") or {}).get("awslogs-group", "") for lc in logs} - {""}
        ),
    }


TASK_EVIDENCE = {
    "memory": memory_evidence,
    "stop_timeout": stop_timeout_evidence,
    "image": image_evidence,
    "execution_role": execution_role_evidence,
}

# From the service's stored cannot-place reason (deployments.health.services).
PLACEMENT_KEYS = (
    "resource",
    "requested",
    "largest_free",
    "unit",
    "closest_instance",
    "closest_instance_pk",
    "event",
)
