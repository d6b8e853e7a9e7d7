"""One container's mirror row from what the engine says: the listing values, their
fingerprint, and what an inspect adds. Shared by the mirror and the event stream."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.utils import timezone

from clusters.docker_hosts import engine as dockerhosts
from clusters.docker_hosts.engine import ContainerDetail, ContainerFacts
from clusters.models import Container

# Not "status": its text ("Up 5 minutes") changes every sync by itself; it is
# rewritten when anything here changes.
_COMPARED = (
    "name",
    "image",
    "image_id",
    "command",
    "state",
    "health",
    "labels",
    "ports",
    "exit_code",
)


def _fingerprint(values: dict[str, Any]) -> str:
    """A digest of the listing fields that matter (not the status text)."""
    raw = json.dumps([values.get(k) for k in _COMPARED], sort_keys=True, default=str)
    return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def _listing_values(facts: ContainerFacts) -> dict[str, Any]:
    ecs = dockerhosts.ecs_fields(facts.labels)
    values: dict[str, Any] = {
        "name": facts.name,
        "image": facts.image,
        "image_id": facts.image_id,
        "command": facts.command,
        "state": facts.state,
        "status": facts.status,
        "health": facts.health,
        "labels": facts.labels,
        "ports": sorted(facts.ports, key=lambda p: sorted((k, str(v)) for k, v in p.items())),
        "created": facts.created,
        "ecs_cluster": ecs["cluster"],
        "ecs_task_arn": ecs["task_arn"],
        "ecs_container_name": ecs["container_name"],
        "ecs_family": ecs["family"],
        "ecs_revision": ecs["revision"],
    }
    if facts.exit_code is not None:
        values["exit_code"] = facts.exit_code
    return values


def _detail_apply(row: Container, detail: ContainerDetail) -> None:
    # The engine's OOMKilled can stay false when it handles the exit before the
    # OOM notice (the watcher then marks the row from the "oom" event): an inspect
    # of the same run must not clear that; a new run (new start time) does.
    same_run = row.started_at is not None and row.started_at == detail.started_at
    row.oom_killed = detail.oom_killed or (row.oom_killed and same_run)
    row.started_at = detail.started_at
    row.finished_at = detail.finished_at
    row.restart_count = detail.restart_count
    row.health_log = detail.health_log
    row.error = detail.error
    if detail.facts.health:
        row.health = detail.facts.health
    if detail.exit_code is not None:
        row.exit_code = detail.exit_code
    row.inspected_at = timezone.now()


def _listing_values_fields() -> list[str]:
    return [
        "name",
        "image",
        "image_id",
        "command",
        "state",
        "status",
        "health",
        "labels",
        "ports",
        "created",
        "ecs_cluster",
        "ecs_task_arn",
        "ecs_container_name",
        "ecs_family",
        "ecs_revision",
    ]


_CONTAINER_UPDATE_FIELDS = [
    "exit_code",
    "gone_at",
    "changed_at",
    "last_seen_at",
    "started_at",
    "finished_at",
    "oom_killed",
    "restart_count",
    "health_log",
    "error",
    "inspected_at",
    "fingerprint",
]
