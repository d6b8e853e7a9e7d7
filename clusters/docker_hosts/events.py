"""Docker engine events: onto the timeline (idempotent by dedupe key), and the one
container an event touched refreshed by one inspect."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from clusters.core.timeline import NewEvent, dedupe_key, events_record
from clusters.docker_hosts import engine as dockerhosts
from clusters.docker_hosts.container_rows import _detail_apply, _listing_values
from clusters.docker_hosts.engine import ContainerDetail, DockerEvent
from clusters.docker_hosts.hosts import host_endpoint
from clusters.models import Container, DockerHost, EventSeverity, EventSource

# Actions that go on the timeline; exec_* (health probes) and attach/resize are noise.
TIMELINE_ACTIONS = {
    "create",
    "start",
    "die",
    "oom",
    "kill",
    "restart",
    "stop",
    "pause",
    "unpause",
    "destroy",
    "rename",
    "health_status",
}


def _event_message(host: DockerHost, event: DockerEvent) -> tuple[str, str]:
    name = event.attributes.get("name", event.container_id[:12])
    action = event.action
    severity = EventSeverity.INFO
    if action == "die":
        code = event.attributes.get("exitCode", "?")
        text = f"Container {name} on {host.name} died (exit code {code})"
        if code not in {"0", "?"}:
            severity = EventSeverity.WARNING
    elif action == "oom":
        text = f"Container {name} on {host.name} ran out of memory (OOM)"
        severity = EventSeverity.ERROR
    elif action == "kill":
        text = (
            f"Container {name} on {host.name} was sent signal {event.attributes.get('signal', '?')}"
        )
    elif action.startswith("health_status"):
        status = action.split(":", 1)[1].strip() if ":" in action else "?"
        text = f"Container {name} on {host.name} is {status}"
        if status == "unhealthy":
            severity = EventSeverity.WARNING
    else:
        verb = {
            "create": "was created",
            "start": "started",
            "restart": "restarted",
            "stop": "stopped",
            "pause": "was paused",
            "unpause": "was unpaused",
            "destroy": "was removed",
            "rename": "was renamed",
        }.get(action, action)
        text = f"Container {name} on {host.name} {verb}"
    return text, severity


def docker_event_key(host: DockerHost, event: DockerEvent) -> str:
    return dedupe_key("docker", host.pk, event.container_id, event.action, event.time_nano)


def docker_events_record(*, host: DockerHost, events: list[DockerEvent]) -> int:
    """Write a batch of engine events to the timeline (idempotent by dedupe key),
    refresh the containers they touched, and advance the host's cursor."""
    if not events:
        return 0
    rows: list[NewEvent] = []
    for event in events:
        base = event.action.split(":", 1)[0]
        if base not in TIMELINE_ACTIONS:
            continue
        text, severity = _event_message(host, event)
        details: dict[str, Any] = {"action": event.action, "attributes": event.attributes}
        rows.append(
            NewEvent(
                source=EventSource.DOCKER,
                severity=severity,
                message=text,
                dedupe_key=docker_event_key(host, event),
                occurred_at=event.occurred_at,
                docker_host=host.name,
                container_id=event.container_id,
                task_arn=event.attributes.get(dockerhosts.ECS_LABELS["task_arn"], ""),
                details=details,
            )
        )
    written = events_record(rows)
    cursor = max(e.time_nano for e in events)
    if host.events_cursor_nanos is None or cursor > host.events_cursor_nanos:
        host.events_cursor_nanos = cursor
        DockerHost.objects.filter(pk=host.pk).update(events_cursor_nanos=cursor)
    return written


def container_refresh(*, host: DockerHost, container_id: str, removed: bool = False) -> None:
    """Bring one container row up to date after an event (one inspect)."""
    now = timezone.now()
    if removed:
        Container.objects.filter(host=host, container_id=container_id, gone_at__isnull=True).update(
            gone_at=now, changed_at=now
        )
        return
    try:
        detail = dockerhosts.container_inspect(host_endpoint(host), container_id)
    except dockerhosts.ContainerNotFound:
        Container.objects.filter(host=host, container_id=container_id, gone_at__isnull=True).update(
            gone_at=now, changed_at=now
        )
        return
    facts = detail.facts
    values = _listing_values(facts)
    values.pop("ports")  # inspect's port shape differs from the listing's; sync keeps them
    values["status"] = _status_text(detail)
    row = Container.objects.filter(host=host, container_id=container_id).first()
    if row is None:
        row = Container(host=host, container_id=container_id, first_seen_at=now)
    for k, v in values.items():
        setattr(row, k, v)
    _detail_apply(row, detail)
    row.fingerprint = ""  # the next listing rewrites the listing's own fields
    row.gone_at = None
    row.last_seen_at = now
    row.changed_at = now
    row.save()


def _status_text(detail: ContainerDetail) -> str:
    state = detail.facts.state
    if state in {"exited", "dead"}:
        return f"Exited ({detail.exit_code})"
    if state == "running" and detail.facts.health:
        return f"Up ({detail.facts.health})"
    return state.capitalize()
