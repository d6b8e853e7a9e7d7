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

# How a page names each evidence key (the API keeps the keys).
LABELS = {
    "container": "Container",
    "memory_hard_mib": "Hard limit (memory), MiB",
    "memory_soft_mib": "Soft limit (memoryReservation), MiB",
    "task_memory_mib": "Task size (memory), MiB",
    "task_definition": "Task definition",
    "exit_code": "Exit code",
    "same_way": "Recent stops of the service that were OOM kills",
    "recent_tasks": "Recent stops read",
    "stop_timeout_seconds": "stopTimeout, seconds",
    "stop_timeout_set": "stopTimeout set in the definition",
    "image": "Image",
    "execution_role_arn": "Task execution role",
    "secrets": "Secrets (valueFrom)",
    "log_groups": "awslogs groups",
    "resource": "Resource",
    "requested": "The task asks for",
    "largest_free": "Largest free on any instance",
    "unit": "Unit",
    "closest_instance": "Closest instance",
    "closest_instance_pk": "",
    "event": "Service event",
    "tasks": "Tasks that stopped this way",
    "of": "Of the newest stopped tasks",
    "task_ids": "Those tasks",
    "agent_connected": "Agent connected",
    "disconnected_since": "Disconnected since",
    "agent_version": "Agent version",
    "running_tasks": "Tasks still running on it",
    "activation_id": "Activation",
    "hostname": "Hostname",
    "other_registrations": "Other registrations of this machine",
    "iam_role": "Activation IAM role",
    "registration_limit": "Registration limit",
    "registrations_count": "Registrations used",
    "expires_at": "Expires",
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
