"""Read-heavy queries for pages. Each selector runs a fixed number of SQL queries."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Max, Q, QuerySet

from clusters.core.inputs import db_id
from clusters.models import Event

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# A burst: at least this many similar events within this window collapse into one row.
GROUP_MIN = 5
GROUP_WINDOW = timedelta(minutes=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TimelineFilters:
    """What the timeline page, its embeds and its exports filter on.

    ``cluster``, ``service``, ``instance`` and ``task`` take a full ARN or the short
    name/id at its end; ``q`` is a case-insensitive substring of the message.
    """

    source: str = ""
    severity: str = ""
    cluster: str = ""
    service: str = ""
    instance: str = ""
    task: str = ""
    host: str = ""
    container: str = ""
    since: datetime | None = None
    until: datetime | None = None
    q: str = ""


@dataclass(frozen=True)
class Cursor:
    """A position in the timeline's order (occurred_at DESC, id DESC)."""

    occurred_at: datetime
    id: int

    def encode(self) -> str:
        micros = (self.occurred_at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}_{self.id}"

    @classmethod
    def decode(cls, raw: str) -> Cursor | None:
        """None for anything malformed: a bad cursor in a URL shows the first page."""
        micros, sep, pk = raw.partition("_")
        if not sep or not re.fullmatch(r"-?[0-9]{1,19}", micros) or db_id(pk) is None:
            return None
        try:
            when = _EPOCH + timedelta(microseconds=int(micros))
        except (OverflowError, ValueError):
            return None
        return cls(occurred_at=when, id=int(pk))


@dataclass
class TimelineRow:
    """One line of the feed: a single event, or a burst of similar ones."""

    event: Event  # the newest event of the row
    members: list[Event] = field(default_factory=list)

    @property
    def is_group(self) -> bool:
        return len(self.members) > 1

    @property
    def count(self) -> int:
        return len(self.members) or 1

    @property
    def oldest(self) -> Event:
        return self.members[-1] if self.members else self.event


@dataclass
class TimelinePage:
    rows: list[TimelineRow]
    events: list[Event]
    next_cursor: str | None  # older events exist past this page
    # For live polling (first page and live polls only): poll for ids above this.
    newest_id: int | None


def _subject_filter(field_name: str, value: str, separator: str) -> Q:
    """An ARN matches exactly; a short name matches the ARN's last path part."""
    if value.startswith("arn:"):
        return Q(**{field_name: value})
    return Q(**{f"{field_name}__endswith": f"{separator}{value}"})


def timeline_queryset(filters: TimelineFilters) -> QuerySet[Event]:
    """The filtered events, not yet ordered or sliced. Builds no query by itself."""
    qs = Event.objects.all()
    if filters.source:
        qs = qs.filter(source=filters.source)
    if filters.severity:
        qs = qs.filter(severity=filters.severity)
    if filters.cluster:
        qs = qs.filter(_subject_filter("cluster_arn", filters.cluster, "/"))
    if filters.service:
        qs = qs.filter(_subject_filter("service_arn", filters.service, "/"))
    if filters.instance:
        qs = qs.filter(_subject_filter("instance_arn", filters.instance, "/"))
    if filters.task:
        qs = qs.filter(_subject_filter("task_arn", filters.task, "/"))
    if filters.host:
        qs = qs.filter(docker_host=filters.host)
    if filters.container:
        qs = qs.filter(container_id__startswith=filters.container)
    if filters.since:
        qs = qs.filter(occurred_at__gte=filters.since)
    if filters.until:
        qs = qs.filter(occurred_at__lt=filters.until)
    if filters.q:
        qs = qs.filter(message__icontains=filters.q)
    return qs


def timeline_events(
    filters: TimelineFilters,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    *,
    after: int | None = None,
) -> TimelinePage:
    """One page of the timeline, newest first, in a fixed number of SQL queries
    whatever the filters: two for the first page (the page and the newest id for
    the live poller), one for an older page (``cursor``) or a live poll (``after``).

    ``cursor`` (from ``next_cursor``) continues with older events by keyset on
    (occurred_at, id), so pages never skip or repeat a row while new events arrive.
    ``after`` (from ``newest_id``) returns what was *recorded* since, for the live
    poller: an event imported late with an older timestamp still shows up.
    """
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    qs = timeline_queryset(filters).select_related("actor")
    if after is not None:
        # By id, so the database walks the primary key from ``after`` instead of
        # the time index; the (small) batch is then put in timeline order here.
        events = list(qs.filter(id__gt=after).order_by("id")[:limit])
        events.sort(key=lambda e: (e.occurred_at, e.pk), reverse=True)
        has_more = False
        newest_id = max((e.pk for e in events), default=None)
    else:
        position = Cursor.decode(cursor) if cursor else None
        newest_id = None
        if position is None:
            # The live poller continues from the newest id in the whole table (the
            # max id of the page would not do: an older event imported late can
            # have a higher id). Read first and bound the page by it, so an event
            # written in between arrives once, through the poller.
            newest_id = Event.objects.aggregate(newest=Max("id"))["newest"] or 0
            qs = qs.filter(id__lte=newest_id)
        if position is not None:
            qs = qs.filter(
                Q(occurred_at__lt=position.occurred_at)
                | Q(occurred_at=position.occurred_at, id__lt=position.id)
            )
        events = list(qs.order_by("-occurred_at", "-id")[: limit + 1])
        has_more = len(events) > limit
        events = events[:limit]
    next_cursor = (
        Cursor(occurred_at=events[-1].occurred_at, id=events[-1].pk).encode() if has_more else None
    )
    return TimelinePage(
        rows=timeline_group(events), events=events, next_cursor=next_cursor, newest_id=newest_id
    )


_TEMPLATE_RULES = [
    (re.compile(r"arn:[^\s,;()]+"), "<arn>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<id>"),
    (re.compile(r"\b(?=[0-9a-f]*[0-9])[0-9a-f]{8,}\b"), "<id>"),
    (re.compile(r"\bmi-[0-9a-f]+\b"), "<id>"),
    (re.compile(r"\d+"), "<n>"),
]


def message_template(message: str) -> str:
    """The message with its variable parts (ARNs, ids, numbers) blanked out."""
    for pattern, placeholder in _TEMPLATE_RULES:
        message = pattern.sub(placeholder, message)
    return message


def _burst_key(event: Event) -> tuple[str, ...]:
    return (
        event.source,
        event.severity,
        event.cluster_arn,
        event.service_arn,
        event.instance_arn,
        event.docker_host,
        message_template(event.message),
    )


def timeline_group(events: list[Event]) -> list[TimelineRow]:
    """Collapse bursts in a newest-first list: ``GROUP_MIN`` or more events with the
    same source, severity, subject and message template within ``GROUP_WINDOW`` of
    the burst's newest event become one row, placed where its newest event was.
    Pure Python over the fetched page (no queries)."""
    open_bursts: dict[tuple[str, ...], list[Event]] = {}
    burst_of: dict[int, list[Event]] = {}
    for event in events:
        key = _burst_key(event)
        burst = open_bursts.get(key)
        if burst is None or burst[0].occurred_at - event.occurred_at > GROUP_WINDOW:
            burst = []
            open_bursts[key] = burst
        burst.append(event)
        burst_of[id(event)] = burst
    rows: list[TimelineRow] = []
    for event in events:
        burst = burst_of[id(event)]
        if len(burst) < GROUP_MIN:
            rows.append(TimelineRow(event=event))
        elif burst[0] is event:
            rows.append(TimelineRow(event=event, members=burst))
    return rows


def timeline_export_iter(
    filters: TimelineFilters, *, cap: int, batch_size: int = 2000
) -> Iterator[Event]:
    """Every event of the filtered view, newest first, at most ``cap``, fetched in
    keyset batches so an export of 100,000 rows never holds them all in memory."""
    sent = 0
    position: Cursor | None = None
    base = timeline_queryset(filters).select_related("actor")
    while sent < cap:
        qs = base
        if position is not None:
            qs = qs.filter(
                Q(occurred_at__lt=position.occurred_at)
                | Q(occurred_at=position.occurred_at, id__lt=position.id)
            )
        batch = list(qs.order_by("-occurred_at", "-id")[: min(batch_size, cap - sent)])
        if not batch:
            return
        yield from batch
        sent += len(batch)
        position = Cursor(occurred_at=batch[-1].occurred_at, id=batch[-1].pk)
