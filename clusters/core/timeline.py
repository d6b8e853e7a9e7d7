"""Writing to the fleet timeline. Every writer goes through ``event_record``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from clusters.models import Event, EventSeverity, EventSource


@dataclass(frozen=True)
class NewEvent:
    """An event to write; ``dedupe_key`` names the fact, not the write."""

    source: str
    message: str
    dedupe_key: str
    severity: str = EventSeverity.INFO
    occurred_at: datetime | None = None
    account: str = ""
    region: str = ""
    cluster_arn: str = ""
    service_arn: str = ""
    task_arn: str = ""
    instance_arn: str = ""
    docker_host: str = ""
    container_id: str = ""
    actor_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def dedupe_key(*parts: object) -> str:
    """A stable key of at most 255 characters from the parts that name a fact."""
    raw = "|".join(str(p) for p in parts)
    if len(raw) <= 200:
        return raw
    return raw[:150] + "#" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def events_record(events: Iterable[NewEvent]) -> int:
    """Write events, skipping any whose dedupe key is already stored.

    Returns how many were new. Safe to call twice with the same events.
    """
    pending = list(events)
    if not pending:
        return 0
    keys = [e.dedupe_key for e in pending]
    existing = set(Event.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
    rows: dict[str, Event] = {}
    now = timezone.now()
    for e in pending:
        if e.dedupe_key in existing or e.dedupe_key in rows:
            continue
        rows[e.dedupe_key] = Event(
            occurred_at=e.occurred_at or now,
            source=e.source,
            severity=e.severity,
            account=e.account,
            region=e.region,
            cluster_arn=e.cluster_arn,
            service_arn=e.service_arn,
            task_arn=e.task_arn,
            instance_arn=e.instance_arn,
            docker_host=e.docker_host,
            container_id=e.container_id,
            actor_id=e.actor_id,
            message=e.message,
            details=e.details,
            dedupe_key=e.dedupe_key,
        )
    # ignore_conflicts covers the race where another process wrote the same key
    # between our read and this insert.
    Event.objects.bulk_create(rows.values(), ignore_conflicts=True)
    return len(rows)


def event_record(
    *,
    source: EventSource | str,
    message: str,
    dedupe_key: str,
    severity: EventSeverity | str = EventSeverity.INFO,
    actor: Any = None,
    **subjects: Any,
) -> bool:
    """Write one event; returns False when the same fact was already recorded."""
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    return (
        events_record(
            [
                NewEvent(
                    source=str(source),
                    severity=str(severity),
                    message=message,
                    dedupe_key=dedupe_key,
                    actor_id=actor_id,
                    **subjects,
                )
            ]
        )
        == 1
    )


def event_retention_days(source: str) -> int:
    """How many days events of ``source`` are kept (per-source override or default)."""
    from django.conf import settings

    overrides: dict[str, int] = settings.FLEETDECK_EVENT_RETENTION_OVERRIDES
    return int(overrides.get(source, settings.FLEETDECK_EVENT_RETENTION_DAYS))


def events_prune(*, now: datetime | None = None, batch_size: int = 5000) -> dict[str, int]:
    """Delete events older than their source's retention; returns deletions per source.

    Deletes in batches of primary keys so a large backlog never holds one long
    write transaction (SQLite has a single writer; PostgreSQL bloats on huge deletes).
    Running it twice deletes nothing the second time.
    """
    now = now or timezone.now()
    deleted: dict[str, int] = {}
    for source in EventSource.values:
        cutoff = now - timedelta(days=event_retention_days(source))
        total = 0
        while True:
            ids = list(
                Event.objects.filter(source=source, occurred_at__lt=cutoff).values_list(
                    "pk", flat=True
                )[:batch_size]
            )
            if not ids:
                break
            total += Event.objects.filter(pk__in=ids).delete()[0]
        if total:
            deleted[source] = total
    return deleted
