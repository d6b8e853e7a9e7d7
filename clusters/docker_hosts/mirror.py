"""The container mirror: one host's containers from one listing call (plus a few
inspects), written incrementally; an unreachable host is marked, never forgotten."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from clusters.core.timeline import dedupe_key, event_record
from clusters.docker_hosts import engine as dockerhosts
from clusters.docker_hosts.engine import CallCounter, ContainerDetail, ContainerFacts
from clusters.docker_hosts.hosts import _info_apply, docker_host_autolink, host_endpoint
from clusters.docker_hosts.signals import docker_host_synced
from clusters.models import Container, DockerHost, EventSeverity, EventSource

log = logging.getLogger(__name__)

INFO_REFRESH = timedelta(minutes=10)
# An inspect fills what a listing lacks (start/finish times, OOM flag, health
# log) for containers whose state changed; bounded so one sync stays cheap.
MAX_INSPECTS_PER_SYNC = 25
LOCK_TTL = 300
LAST_SEEN_REFRESH = timedelta(minutes=5)


@dataclass
class HostSyncResult:
    host_id: int
    ok: bool
    calls: int = 0
    created: int = 0
    updated: int = 0
    gone: int = 0
    inspected: int = 0
    error: str = ""
    call_log: list[str] = field(default_factory=list)
    recovered: bool = False  # reachable again after being unreachable


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


_HOST_SYNC_FIELDS = [
    "containers_total",
    "containers_running",
    "containers_paused",
    "containers_stopped",
    "reachable",
    "last_ok_at",
    "unreachable_since",
    "last_sync_at",
    "last_sync_ms",
]
_HOST_INFO_FIELDS = [
    "hostname",
    "engine_version",
    "os",
    "arch",
    "kernel",
    "cpus",
    "memory_bytes",
    "info_at",
    "engine_labels",
    "api_version",
]


def _lock(key: str) -> bool:
    return bool(cache.add(key, "1", timeout=LOCK_TTL))


def docker_host_sync(*, host_id: int) -> HostSyncResult | None:
    """Mirror one host's containers from one listing call.

    New and changed rows are written, vanished ones marked gone (only after a
    complete listing); an unreachable host is marked so and keeps its data.
    Returns None when the host does not exist or another sync holds its lock.
    """
    host = DockerHost.objects.filter(pk=host_id).first()
    if host is None:
        return None
    lock_key = f"fleetdeck:lock:docker-host-sync:{host_id}"
    if not _lock(lock_key):
        return None
    try:
        result = _sync(host)
    finally:
        cache.delete(lock_key)
    docker_host_synced.send(sender=DockerHost, host=host, result=result)
    return result


def _sync(host: DockerHost) -> HostSyncResult:
    counter = CallCounter()
    started = time.monotonic()
    now = timezone.now()
    try:
        endpoint = host_endpoint(host)
        info_refreshed = linked = False
        if host.info_at is None or now - host.info_at > INFO_REFRESH:
            _info_apply(host, dockerhosts.engine_info(endpoint, counter))
            info_refreshed = True
            endpoint = host_endpoint(host)
            linked = (
                host.container_instance_id is None and docker_host_autolink(host=host) is not None
            )
        listing = dockerhosts.containers_list(endpoint, counter)
    except dockerhosts.DockerHostError as exc:
        docker_host_mark_unreachable(host=host, error=str(exc))
        return HostSyncResult(
            host.pk, ok=False, calls=counter.count, error=str(exc), call_log=counter.calls
        )

    result = HostSyncResult(host.pk, ok=True)
    # Compare fingerprints, not rows: building 300 model instances per sync would
    # cost more than the listing itself. Full rows are loaded only for changes.
    existing = {
        cid: (pk, fingerprint, gone_at, inspected_at)
        for cid, pk, fingerprint, gone_at, inspected_at in Container.objects.filter(
            host=host
        ).values_list("container_id", "pk", "fingerprint", "gone_at", "inspected_at")
    }
    seen: set[str] = set()
    to_create: list[Container] = []
    to_inspect: list[Container] = []
    changed: dict[int, tuple[ContainerFacts, dict[str, Any], str]] = {}
    stale: dict[int, ContainerFacts] = {}
    for facts in listing:
        seen.add(facts.id)
        values = _listing_values(facts)
        fingerprint = _fingerprint(values)
        known = existing.get(facts.id)
        if known is None:
            row = Container(
                host=host,
                container_id=facts.id,
                first_seen_at=now,
                fingerprint=fingerprint,
                **values,
            )
            row.last_seen_at = now
            row.changed_at = now
            to_create.append(row)
            if facts.state != "created":
                to_inspect.append(row)
            continue
        pk, old_fingerprint, gone_at, inspected_at = known
        if gone_at is not None or old_fingerprint != fingerprint:
            changed[pk] = (facts, values, fingerprint)
        elif inspected_at is None and facts.state != "created":
            # Written before any inspect could run: fill it in when there is room.
            stale[pk] = facts

    to_update: list[Container] = []
    if changed or stale:
        rows = Container.objects.in_bulk([*changed, *stale])
        for pk, (facts, values, fingerprint) in changed.items():
            row = rows[pk]
            state_changed = row.state != facts.state
            for k, v in values.items():
                setattr(row, k, v)
            row.fingerprint = fingerprint
            row.gone_at = None
            row.changed_at = now
            row.last_seen_at = now
            to_update.append(row)
            if (state_changed or row.inspected_at is None) and facts.state != "created":
                to_inspect.append(row)
        for pk in stale:
            to_update.append(rows[pk])
            to_inspect.append(rows[pk])

    for row in to_inspect[:MAX_INSPECTS_PER_SYNC]:
        try:
            _detail_apply(row, dockerhosts.container_inspect(endpoint, row.container_id, counter))
            result.inspected += 1
        except dockerhosts.ContainerNotFound:
            continue
        except dockerhosts.DockerHostError as exc:
            log.warning("inspect of %s on %s failed: %s", row.container_id, host.name, exc)
            break

    gone_ids = [cid for cid, known in existing.items() if cid not in seen and known[2] is None]
    update_fields = [
        *_listing_values_fields(),
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
    with transaction.atomic():
        Container.objects.bulk_create(to_create, batch_size=500)
        if to_update:
            Container.objects.bulk_update(to_update, update_fields, batch_size=200)
        if gone_ids:
            Container.objects.filter(host=host, container_id__in=gone_ids).update(
                gone_at=now, changed_at=now
            )
        # last_seen_at is refreshed in one statement at most every few minutes:
        # rewriting every row on every sync would cost more than the listing.
        # Between refreshes, host.last_ok_at is when all live rows were last seen.
        Container.objects.filter(
            host=host, gone_at__isnull=True, last_seen_at__lt=now - LAST_SEEN_REFRESH
        ).update(last_seen_at=now)
        was_unreachable = not host.reachable and host.last_ok_at is not None
        states = [f.state for f in listing]
        host.containers_total = len(listing)
        host.containers_running = states.count("running")
        host.containers_paused = states.count("paused")
        host.containers_stopped = len(states) - host.containers_running - host.containers_paused
        host.reachable = True
        host.last_ok_at = now
        host.unreachable_since = None
        host.last_sync_at = now
        host.last_sync_ms = int((time.monotonic() - started) * 1000)
        # Only the fields a sync owns: an operator's (or drift's) link written
        # meanwhile must not be overwritten with what this sync loaded.
        fields = [*_HOST_SYNC_FIELDS, *(_HOST_INFO_FIELDS if info_refreshed else [])]
        if linked:
            fields += ["container_instance", "link_source"]
        host.save(update_fields=fields)
        if was_unreachable:
            event_record(
                source=EventSource.DOCKER,
                message=f"Docker host {host.name} is reachable again",
                dedupe_key=dedupe_key("docker-host-reachable", host.pk, now.isoformat()),
                docker_host=host.name,
            )
    result.recovered = was_unreachable
    result.created = len(to_create)
    result.updated = len(to_update)
    result.gone = len(gone_ids)
    result.calls = counter.count
    result.call_log = counter.calls
    return result


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


def docker_host_mark_unreachable(*, host: DockerHost, error: str) -> None:
    """Record a failed contact; containers are kept as they were last seen."""
    now = timezone.now()
    first = host.reachable or host.unreachable_since is None
    host.reachable = False
    host.last_error = error[:2000]
    host.last_error_at = now
    host.last_sync_at = now
    if host.unreachable_since is None:
        host.unreachable_since = now
    host.save(
        update_fields=[
            "reachable",
            "last_error",
            "last_error_at",
            "last_sync_at",
            "unreachable_since",
        ]
    )
    if first:
        event_record(
            source=EventSource.DOCKER,
            severity=EventSeverity.WARNING,
            message=f"Docker host {host.name} is unreachable: {error[:300]}",
            dedupe_key=dedupe_key("docker-host-unreachable", host.pk, host.unreachable_since),
            docker_host=host.name,
        )


def docker_hosts_sync_all() -> list[HostSyncResult]:
    """Sync every enabled host in turn; one host's failure never stops the others."""
    results = []
    for host_id in DockerHost.objects.filter(enabled=True).values_list("pk", flat=True):
        try:
            r = docker_host_sync(host_id=host_id)
        except Exception:
            log.exception("docker sync of host %s failed", host_id)
            continue
        if r is not None:
            results.append(r)
    return results
