"""The container mirror: one host's containers from one listing call (plus a few
inspects), written incrementally; an unreachable host is marked, never forgotten."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from clusters.core.locks import Lock
from clusters.core.timeline import dedupe_key, event_record
from clusters.docker_hosts import engine as dockerhosts
from clusters.docker_hosts.container_rows import (
    _CONTAINER_UPDATE_FIELDS,
    _detail_apply,
    _fingerprint,
    _listing_values,
    _listing_values_fields,
)
from clusters.docker_hosts.engine import CallCounter, ContainerFacts
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


def docker_host_sync(*, host_id: int) -> HostSyncResult | None:
    """Mirror one host's containers from one listing call.

    New and changed rows are written, vanished ones marked gone (only after a
    complete listing); an unreachable host is marked so and keeps its data.
    Returns None when the host does not exist or another sync holds its lock.
    """
    host = DockerHost.objects.filter(pk=host_id).first()
    if host is None:
        return None
    with Lock(f"docker-host-sync:{host_id}", ttl=LOCK_TTL).held() as got:
        if not got:
            return None
        result = _sync(host)
    docker_host_synced.send(sender=DockerHost, host=host, result=result)
    return result


@dataclass
class _Plan:
    """What one listing changes in the mirror."""

    to_create: list[Container] = field(default_factory=list)
    to_update: list[Container] = field(default_factory=list)
    to_inspect: list[Container] = field(default_factory=list)
    gone_ids: list[str] = field(default_factory=list)


def _sync(host: DockerHost) -> HostSyncResult:
    counter = CallCounter()
    started = time.monotonic()
    now = timezone.now()
    try:
        endpoint, info_refreshed, linked = _contact(host, counter, now)
        listing = dockerhosts.containers_list(endpoint, counter)
    except dockerhosts.DockerHostError as exc:
        docker_host_mark_unreachable(host=host, error=str(exc))
        return HostSyncResult(
            host.pk, ok=False, calls=counter.count, error=str(exc), call_log=counter.calls
        )
    result = HostSyncResult(host.pk, ok=True)
    plan = _plan(host, listing, now)
    result.inspected = _inspect(host, endpoint, plan.to_inspect, counter)
    fields = [*_HOST_SYNC_FIELDS, *(_HOST_INFO_FIELDS if info_refreshed else [])]
    if linked:
        fields += ["container_instance", "link_source"]
    with transaction.atomic():
        _plan_write(host, plan, now)
        result.recovered = _host_write(host, listing, now, started, fields)
    result.created = len(plan.to_create)
    result.updated = len(plan.to_update)
    result.gone = len(plan.gone_ids)
    result.calls = counter.count
    result.call_log = counter.calls
    return result


def _contact(
    host: DockerHost, counter: CallCounter, now: datetime
) -> tuple[dockerhosts.Endpoint, bool, bool]:
    """The host's endpoint, after refreshing its engine info (and maybe its link to an
    instance) when that is older than INFO_REFRESH; whether each happened."""
    endpoint = host_endpoint(host)
    if host.info_at is not None and now - host.info_at <= INFO_REFRESH:
        return endpoint, False, False
    _info_apply(host, dockerhosts.engine_info(endpoint, counter))
    endpoint = host_endpoint(host)
    linked = host.container_instance_id is None and docker_host_autolink(host=host) is not None
    return endpoint, True, linked


def _plan(host: DockerHost, listing: list[ContainerFacts], now: datetime) -> _Plan:
    # Compare fingerprints, not rows: building 300 model instances per sync would
    # cost more than the listing itself. Full rows are loaded only for changes.
    existing = {
        cid: (pk, fingerprint, gone_at, inspected_at)
        for cid, pk, fingerprint, gone_at, inspected_at in Container.objects.filter(
            host=host
        ).values_list("container_id", "pk", "fingerprint", "gone_at", "inspected_at")
    }
    plan = _Plan()
    changed: dict[int, tuple[ContainerFacts, dict[str, Any], str]] = {}
    stale: dict[int, ContainerFacts] = {}
    for facts in listing:
        values = _listing_values(facts)
        fingerprint = _fingerprint(values)
        known = existing.get(facts.id)
        if known is None:
            _new_row_plan(plan, host, facts, values, fingerprint, now)
            continue
        pk, old_fingerprint, gone_at, inspected_at = known
        if gone_at is not None or old_fingerprint != fingerprint:
            changed[pk] = (facts, values, fingerprint)
        elif inspected_at is None and facts.state != "created":
            # Written before any inspect could run: fill it in when there is room.
            stale[pk] = facts
    if changed or stale:
        _changed_rows_plan(plan, changed, stale, now)
    seen = {facts.id for facts in listing}
    plan.gone_ids = [cid for cid, k in existing.items() if cid not in seen and k[2] is None]
    return plan


def _new_row_plan(
    plan: _Plan,
    host: DockerHost,
    facts: ContainerFacts,
    values: dict[str, Any],
    fingerprint: str,
    now: datetime,
) -> None:
    row = Container(
        host=host,
        container_id=facts.id,
        first_seen_at=now,
        fingerprint=fingerprint,
        **values,
    )
    row.last_seen_at = now
    row.changed_at = now
    plan.to_create.append(row)
    if facts.state != "created":
        plan.to_inspect.append(row)


def _changed_rows_plan(
    plan: _Plan,
    changed: dict[int, tuple[ContainerFacts, dict[str, Any], str]],
    stale: dict[int, ContainerFacts],
    now: datetime,
) -> None:
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
        plan.to_update.append(row)
        if (state_changed or row.inspected_at is None) and facts.state != "created":
            plan.to_inspect.append(row)
    for pk in stale:
        plan.to_update.append(rows[pk])
        plan.to_inspect.append(rows[pk])


def _inspect(
    host: DockerHost,
    endpoint: dockerhosts.Endpoint,
    rows: list[Container],
    counter: CallCounter,
) -> int:
    """Inspect up to MAX_INSPECTS_PER_SYNC rows in place; how many were inspected."""
    inspected = 0
    for row in rows[:MAX_INSPECTS_PER_SYNC]:
        try:
            _detail_apply(row, dockerhosts.container_inspect(endpoint, row.container_id, counter))
            inspected += 1
        except dockerhosts.ContainerNotFound:
            continue
        except dockerhosts.DockerHostError as exc:
            log.warning("inspect of %s on %s failed: %s", row.container_id, host.name, exc)
            break
    return inspected


def _plan_write(host: DockerHost, plan: _Plan, now: datetime) -> None:
    Container.objects.bulk_create(plan.to_create, batch_size=500)
    if plan.to_update:
        fields = [*_listing_values_fields(), *_CONTAINER_UPDATE_FIELDS]
        Container.objects.bulk_update(plan.to_update, fields, batch_size=200)
    if plan.gone_ids:
        Container.objects.filter(host=host, container_id__in=plan.gone_ids).update(
            gone_at=now, changed_at=now
        )
    # last_seen_at is refreshed in one statement at most every few minutes:
    # rewriting every row on every sync would cost more than the listing.
    # Between refreshes, host.last_ok_at is when all live rows were last seen.
    Container.objects.filter(
        host=host, gone_at__isnull=True, last_seen_at__lt=now - LAST_SEEN_REFRESH
    ).update(last_seen_at=now)


def _host_write(
    host: DockerHost,
    listing: list[ContainerFacts],
    now: datetime,
    started: float,
    fields: list[str],
) -> bool:
    """Save the host's counts and reachability; whether it was unreachable before."""
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
    host.save(update_fields=fields)
    if was_unreachable:
        event_record(
            source=EventSource.DOCKER,
            message=f"Docker host {host.name} is reachable again",
            dedupe_key=dedupe_key("docker-host-reachable", host.pk, now.isoformat()),
            docker_host=host.name,
        )
    return was_unreachable


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
