"""Operator actions on a container (restart, stop), audited whatever the outcome."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from clusters.core.audit import audit_record
from clusters.docker_hosts import engine as dockerhosts
from clusters.docker_hosts.events import container_refresh
from clusters.docker_hosts.hosts import host_endpoint
from clusters.models import Container, EventSeverity


class ContainerActionError(Exception):
    pass


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    message: str


CONTAINER_ACTIONS = {"restart", "stop"}


def container_act(
    *,
    container: Container,
    action: str,
    reason: str,
    actor: Any,
    request: HttpRequest | None = None,
) -> ActionResult:
    """Restart or stop a container on its host, audited whatever the outcome."""
    if action not in CONTAINER_ACTIONS:
        raise ContainerActionError(f"Unknown action {action!r}.")
    reason = reason.strip()
    if not reason:
        raise ContainerActionError("A reason is required.")
    host = container.host
    try:
        endpoint = host_endpoint(host)
        if action == "restart":
            dockerhosts.container_restart(endpoint, container.container_id)
        else:
            dockerhosts.container_stop(endpoint, container.container_id)
    except dockerhosts.DockerHostError as exc:
        result = ActionResult(False, f"Could not {action} {container.name}: {exc}")
    else:
        verb = "Restarted" if action == "restart" else "Stopped"
        result = ActionResult(True, f"{verb} {container.name} on {host.name}.")
    audit_record(
        actor=actor,
        action=f"container.{action}",
        message=f"{result.message} Reason: {reason}",
        request=request,
        object_type="container",
        object_id=container.container_id,
        details={"reason": reason, "ok": result.ok, "host": host.name},
        severity=EventSeverity.INFO if result.ok else EventSeverity.WARNING,
        docker_host=host.name,
        container_id=container.container_id,
        task_arn=container.ecs_task_arn,
    )
    if result.ok:
        container_refresh(host=host, container_id=container.container_id)
    return result
