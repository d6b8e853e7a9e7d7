"""The follower: long-polls every stream's queue and applies what arrives.

One thread per stream (an account's region), each looping: receive (20 s long poll,
10 messages), parse, apply (``deployments.stream.apply``), and only after that has
committed, delete the messages. The describes and service refreshes the events ask
for are gathered and made at most once every ``FLEETDECK_STREAM_BATCH_SECONDS``
(``deployments.stream.follow_ups``); while some wait, the long poll is cut short.
Unreadable messages and messages whose apply keeps failing are never deleted: SQS
hands them out again after the visibility timeout and, after
``FLEETDECK_STREAM_MAX_RECEIVES`` receives, moves them to the dead-letter queue
itself (the redrive policy ``setup_event_stream`` sets).

Several followers (on several machines) may poll the same queue: a received message
is invisible to the others for the visibility timeout, and applying one twice
changes nothing (versions and timeline dedupe keys), so at-least-once is enough.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from clusters.aws.ecs import EcsReader
from clusters.aws.ecs_events import EcsEvent, EventUnreadable, ecs_event_parse
from clusters.aws.errors import AwsError
from clusters.aws.session import aws_client
from clusters.aws.sqs_queues import QueueMessage, messages_delete, messages_receive
from clusters.mirror.sync import SyncLockBusy
from clusters.models import EventStream
from clusters.stream.status import stream_depth_refresh, stream_poll_record
from deployments.stream.apply import Applied, events_apply
from deployments.stream.follow_ups import FollowUps, follow_ups_run

log = logging.getLogger(__name__)
DEPTH_EVERY_SECONDS = 30.0  # how often a follower reads the queues' depths
RELOAD_EVERY_SECONDS = 30.0  # how often new streams are picked up
ERROR_PAUSE_SECONDS = 5.0
SHUTDOWN_GRACE_SECONDS = 5.0


@dataclass
class _Batch:
    events: list[EcsEvent]
    receipts: list[str]  # of the readable messages, in the same order
    unreadable: int


def _parse(messages: list[QueueMessage]) -> _Batch:
    batch = _Batch(events=[], receipts=[], unreadable=0)
    for m in messages:
        try:
            batch.events.append(ecs_event_parse(m.body))
            batch.receipts.append(m.receipt_handle)
        except EventUnreadable as exc:
            batch.unreadable += 1
            log.warning(
                "unreadable message %s (receive %s): %s", m.message_id, m.receive_count, exc
            )
    return batch


def batch_apply(*, stream: EventStream, reader: EcsReader, messages: list[QueueMessage]) -> Applied:
    """Apply one received batch and delete what was applied. If the batch fails, each
    message is tried alone so that one poison message does not hold back the rest."""
    batch = _parse(messages)
    account, region = stream.account, stream.region
    try:
        out = events_apply(account=account, region=region, reader=reader, events=batch.events)
        done = batch.receipts
    except SyncLockBusy:
        # A full sync of the cluster is writing: nothing deleted, the batch comes back
        # after the visibility timeout and applies then (what it already wrote is skipped).
        log.info("stream %s: a cluster is being synced; the batch waits for it", stream)
        out, done = Applied(), []
    except Exception:
        log.exception("stream %s: batch failed, applying its events one by one", stream)
        out, done = Applied(), []
        for event, receipt in zip(batch.events, batch.receipts, strict=True):
            try:
                one = events_apply(account=account, region=region, reader=reader, events=[event])
            except Exception:
                log.exception(
                    "stream %s: event %s failed (left for redrive)", stream, event.event_id
                )
                continue
            out.applied += one.applied
            out.dropped += one.dropped
            out.follow_ups.merge(one.follow_ups)
            out.last_event_at = max(
                filter(None, [out.last_event_at, one.last_event_at]), default=None
            )
            done.append(receipt)
    if done:
        messages_delete(account=account, region=region, url=stream.queue_url, receipts=done)
    return out


def _oldest_age(messages: list[QueueMessage]) -> float | None:
    sent = [m.sent_at for m in messages if m.sent_at is not None]
    return (timezone.now() - min(sent)).total_seconds() if sent else None


class StreamFollower:
    """Follows one stream until ``stop`` is set."""

    def __init__(self, stream_id: int, stop: threading.Event, wait_seconds: int = 20) -> None:
        self.stream_id = stream_id
        self.stop = stop
        self.wait_seconds = wait_seconds
        self._depth_at = 0.0
        self.pending = FollowUps()
        self._follow_ups_at = -float("inf")  # monotonic time of the last follow-ups

    def run(self) -> None:
        reader: EcsReader | None = None
        try:
            while not self.stop.is_set():
                stream = (
                    EventStream.objects.select_related("account").filter(pk=self.stream_id).first()
                )
                if stream is None or not stream.account.enabled:
                    return
                if reader is None:
                    client = aws_client(account=stream.account, region=stream.region, service="ecs")
                    reader = EcsReader(client, concurrency=1)
                self._once(stream, reader)
                self._follow_ups(reader)
                close_old_connections()
            if reader is not None:
                self._follow_ups(reader, now=True)  # best effort: else the reconcile
        finally:
            if reader is not None:
                reader.close()

    def _follow_ups_wait(self) -> float:
        """Seconds until the pending follow-ups are due (inf: none pending)."""
        if not self.pending:
            return float("inf")
        due = self._follow_ups_at + settings.FLEETDECK_STREAM_BATCH_SECONDS
        return max(0.0, due - time.monotonic())

    def _follow_ups(self, reader: EcsReader, *, now: bool = False) -> None:
        if not self.pending or (not now and self._follow_ups_wait() > 0):
            return
        pending, self.pending = self.pending, FollowUps()
        self._follow_ups_at = time.monotonic()
        try:
            self.pending.merge(follow_ups_run(reader=reader, pending=pending))
        except Exception:
            log.exception("stream %s: follow-ups failed (the reconcile catches up)", self.stream_id)

    def _once(self, stream: EventStream, reader: EcsReader) -> None:
        try:
            if time.monotonic() - self._depth_at > DEPTH_EVERY_SECONDS:
                stream_depth_refresh(stream=stream)
                self._depth_at = time.monotonic()
            messages = messages_receive(
                account=stream.account,
                region=stream.region,
                url=stream.queue_url,
                wait_seconds=min(self.wait_seconds, math.ceil(min(self._follow_ups_wait(), 20))),
            )
            age = _oldest_age(messages)
            out = (
                batch_apply(stream=stream, reader=reader, messages=messages)
                if messages
                else Applied()
            )
            self.pending.merge(out.follow_ups)
        except AwsError as exc:
            log.warning("stream %s: %s", stream, exc)
            stream_poll_record(stream_id=stream.pk, error=str(exc))
            self.stop.wait(ERROR_PAUSE_SECONDS)
            return
        stream_poll_record(
            stream_id=stream.pk,
            applied=out.applied,
            dropped=out.dropped,
            last_event_at=out.last_event_at,
            oldest_age=age,
        )


def follow(*, stop: threading.Event, wait_seconds: int = 20) -> None:
    """Follow every enabled account's streams until ``stop`` is set; new streams are
    picked up within ``RELOAD_EVERY_SECONDS``."""
    threads: dict[int, threading.Thread] = {}
    while not stop.is_set():
        ids = EventStream.objects.filter(account__enabled=True).values_list("pk", flat=True)
        for stream_id in ids:
            if stream_id not in threads or not threads[stream_id].is_alive():
                follower = StreamFollower(stream_id, stop, wait_seconds)
                thread = threading.Thread(
                    target=follower.run, name=f"stream-{stream_id}", daemon=True
                )
                threads[stream_id] = thread
                thread.start()
        close_old_connections()
        stop.wait(RELOAD_EVERY_SECONDS)
    # A follower between polls finishes its batch; one inside a 20 s long poll is not
    # waited for: whatever that poll receives stays invisible for the visibility
    # timeout, then comes back (nothing is lost, nothing deleted unapplied).
    deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS
    for thread in threads.values():
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
