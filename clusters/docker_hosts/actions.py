"""Operator actions on a container (restart, stop), audited whatever the outcome.

The web request records the action QUEUED, audits who asked and why, and queues a
worker; the worker claims it (QUEUED -> RUNNING by compare-and-set, so a message
delivered twice acts once), makes the Docker call outside any transaction and
records DONE or FAILED with the outcome, on the row and on the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clusters.core.audit import audit_record
from clusters.core.jobs import job_enqueue
from clusters.core.timeline import dedupe_key, event_record
from clusters.docker_hosts import engine as dockerhosts
from clusters.docker_hosts.events import container_refresh
from clusters.docker_hosts.hosts import host_endpoint
from clusters.models import Container, ContainerAction, EventSeverity, EventSource

ACTION_TASK = "clusters.docker_hosts.tasks.container_action"


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
) -> ContainerAction:
    """Accept a restart or stop of a container: QUEUED now, done by a worker."""
    if action not in CONTAINER_ACTIONS:
        raise ContainerActionError(f"Unknown action {action!r}.")
    reason = reason.strip()
    if not reason:
        raise ContainerActionError("A reason is required.")
    host = container.host
    with transaction.atomic():
        row = ContainerAction.objects.create(
            container=container,
            action=action,
            reason=reason,
            requested_by=actor if actor is not None and actor.is_authenticated else None,
        )
        audit_record(
            actor=actor,
            action=f"container.{action}",
            message=f"Asked to {action} {container.name} on {host.name}. Reason: {reason}",
            request=request,
            object_type="container",
            object_id=container.container_id,
            details={"reason": reason, "host": host.name, "container_action": row.pk},
            docker_host=host.name,
            container_id=container.container_id,
            task_arn=container.ecs_task_arn,
        )
        job_enqueue(ACTION_TASK, row.pk)
    return row


def _docker_call(row: ContainerAction) -> ActionResult:
    container = row.container
    host = container.host
    try:
        endpoint = host_endpoint(host)
        if row.action == ContainerAction.Kind.RESTART:
            dockerhosts.container_restart(endpoint, container.container_id)
        else:
            dockerhosts.container_stop(endpoint, container.container_id)
    except dockerhosts.DockerHostError as exc:
        return ActionResult(False, f"Could not {row.action} {container.name}: {exc}")
    verb = "Restarted" if row.action == ContainerAction.Kind.RESTART else "Stopped"
    return ActionResult(True, f"{verb} {container.name} on {host.name}.")


def container_action_run(*, action_pk: int) -> ContainerAction | None:
    """The worker's half: claim, call Docker, record. A missing action or one another
    run claimed returns None and does nothing."""
    claimed = ContainerAction.objects.filter(
        pk=action_pk, status=ContainerAction.Status.QUEUED
    ).update(status=ContainerAction.Status.RUNNING)
    if not claimed:
        return None
    row = ContainerAction.objects.select_related("container__host", "requested_by").get(
        pk=action_pk
    )
    result = _docker_call(row)
    row.status = ContainerAction.Status.DONE if result.ok else ContainerAction.Status.FAILED
    row.message = result.message
    row.finished_at = timezone.now()
    row.save(update_fields=["status", "message", "finished_at"])
    container = row.container
    event_record(
        source=EventSource.DOCKER,
        severity=EventSeverity.INFO if result.ok else EventSeverity.WARNING,
        message=f"{result.message} Reason: {row.reason}",
        dedupe_key=dedupe_key("container-action", row.pk),
        actor=row.requested_by,
        docker_host=container.host.name,
        container_id=container.container_id,
        task_arn=container.ecs_task_arn,
        details={"action": f"container.{row.action}", "ok": result.ok, "reason": row.reason},
    )
    if result.ok:
        container_refresh(host=container.host, container_id=container.container_id)
    return row
