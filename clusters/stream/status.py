"""A stream's health and the mode it puts its account in.

The rule (docs/event-stream.md): an account is in *stream* mode, and its full sync
only reconciles every ``FLEETDECK_RECONCILE_SECONDS``, when every one of its regions
has a stream whose follower polled successfully within
``FLEETDECK_STREAM_STALE_SECONDS``, whose dead-letter queue is empty (a message there
is a change the mirror missed until the next full sync) and whose oldest waiting
message is younger than that same limit (the followers keep up). Anything else is
*polling* mode: today's interval, by itself, with the reason shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from clusters.aws.sqs_queues import queue_depth
from clusters.models import AwsAccount, EventStream

STREAM = "stream"
POLLING = "polling"


@dataclass(frozen=True)
class StreamMode:
    mode: str  # STREAM or POLLING
    reason: str

    @property
    def is_stream(self) -> bool:
        return self.mode == STREAM


def stream_mode(stream: EventStream | None, *, now: datetime | None = None) -> StreamMode:
    """The mode one region's stream allows, and why."""
    if stream is None:
        return StreamMode(POLLING, "no event stream (run setup_event_stream)")
    now = now or timezone.now()
    stale = timedelta(seconds=settings.FLEETDECK_STREAM_STALE_SECONDS)
    if stream.last_poll_at is None or now - stream.last_poll_at > stale:
        return StreamMode(POLLING, "follow_events is not polling this queue")
    if not stream.last_poll_ok:
        return StreamMode(POLLING, f"the last poll failed: {stream.last_poll_error[:200]}")
    if stream.dlq_depth:
        return StreamMode(POLLING, f"{stream.dlq_depth} message(s) in the dead-letter queue")
    age = stream.oldest_message_age_seconds
    if age is not None and age > stale.total_seconds():
        return StreamMode(POLLING, f"the followers lag: oldest message {age:.0f} s old")
    return StreamMode(STREAM, "stream healthy: the sync only reconciles")


def account_mode(
    account: AwsAccount, streams: list[EventStream], *, now: datetime | None = None
) -> StreamMode:
    """Stream mode only if every region of the account has a healthy stream."""
    by_region = {s.region: s for s in streams}
    for region in account.regions or ["us-east-1"]:
        mode = stream_mode(by_region.get(region), now=now)
        if not mode.is_stream:
            reason = mode.reason if len(by_region) <= 1 else f"{region}: {mode.reason}"
            return StreamMode(POLLING, reason)
    return StreamMode(STREAM, "stream healthy: the sync only reconciles")


def stream_depth_refresh(*, stream: EventStream) -> None:
    """Read both queues' depths from SQS (AWS calls: no transaction) and store them."""
    queue = queue_depth(account=stream.account, region=stream.region, url=stream.queue_url)
    dlq = queue_depth(account=stream.account, region=stream.region, url=stream.dlq_url)
    EventStream.objects.filter(pk=stream.pk).update(
        queue_visible=queue.visible,
        queue_in_flight=queue.in_flight,
        dlq_depth=dlq.visible + dlq.in_flight,
        checked_at=timezone.now(),
    )


def stream_poll_record(
    *,
    stream_id: int,
    error: str = "",
    applied: int = 0,
    dropped: int = 0,
    last_event_at: datetime | None = None,
    oldest_age: float | None = None,
) -> None:
    """What one long poll of a follower saw (a counter update: followers may be many)."""
    values: dict[str, object] = {
        "last_poll_at": timezone.now(),
        "last_poll_ok": not error,
        "last_poll_error": error[:2000],
        "events_applied": F("events_applied") + applied,
        "events_dropped": F("events_dropped") + dropped,
        "oldest_message_age_seconds": oldest_age,
    }
    if last_event_at is not None:
        values["last_event_at"] = last_event_at
    EventStream.objects.filter(pk=stream_id).update(**values)


def account_poll_due(account: AwsAccount, mode: StreamMode, *, now: datetime | None = None) -> bool:
    """Whether the periodic full sync should run for ``account`` now: always in
    polling mode; in stream mode once its least recently synced live cluster is
    ``FLEETDECK_RECONCILE_SECONDS`` old (or it has none mirrored yet)."""
    if not mode.is_stream:
        return True
    now = now or timezone.now()
    syncs = list(
        account.clusters.filter(gone_at__isnull=True).values_list("last_sync_at", flat=True)
    )
    if not syncs or any(at is None for at in syncs):
        return True
    oldest = min(at for at in syncs if at is not None)
    return now - oldest >= timedelta(seconds=settings.FLEETDECK_RECONCILE_SECONDS)
