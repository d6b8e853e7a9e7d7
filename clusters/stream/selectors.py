"""Reads of the event streams for pages, the API and /metrics (fixed query count)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
