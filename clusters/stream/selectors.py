"""Reads of the event streams for pages, the API and /metrics (fixed query count)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from clusters.models import AwsAccount, EventStream
from clusters.stream.status import StreamMode, account_mode, stream_mode


@dataclass(frozen=True)
class StreamRow:
    stream: EventStream
    mode: StreamMode

    @property
    def last_event_age_seconds(self) -> float | None:
        at = self.stream.last_event_at
        return None if at is None else (timezone.now() - at).total_seconds()


def streams_by_account(*, now: datetime | None = None) -> dict[int, list[StreamRow]]:
    """Every stream, with its own mode, by account id (one query)."""
    now = now or timezone.now()
    out: dict[int, list[StreamRow]] = {}
    for stream in EventStream.objects.select_related("account"):
        out.setdefault(stream.account_id, []).append(
            StreamRow(stream=stream, mode=stream_mode(stream, now=now))
        )
    return out


def account_modes(*, now: datetime | None = None) -> dict[int, StreamMode]:
    """Each enabled account's mode (stream or polling) with its reason (two queries)."""
    now = now or timezone.now()
    rows = streams_by_account(now=now)
    return {
        account.pk: account_mode(account, [r.stream for r in rows.get(account.pk, [])], now=now)
        for account in AwsAccount.objects.filter(enabled=True)
    }


def stream_ok_at() -> Subquery:
    """For a Cluster queryset's ``annotate``: when the follower of the cluster's
    account and region last polled successfully with an empty dead-letter queue.
    Until then every event AWS sent is in the mirror, so the data is that fresh."""
    return Subquery(
        EventStream.objects.filter(
            account=OuterRef("account_id"),
            region=OuterRef("region"),
            last_poll_ok=True,
            dlq_depth=0,
        ).values("last_poll_at")[:1]
    )


def mirror_fresh_at(synced_ok_at: datetime | None, cluster: Any) -> datetime | None:
    """A cluster's data freshness: its newest successful sync, or, once it has one,
    the stream's last good poll if that is newer (annotated by ``stream_ok_at``)."""
    streamed = getattr(cluster, "stream_ok_at", None)
    if synced_ok_at is None or streamed is None:
        return synced_ok_at
    return max(synced_ok_at, streamed)
