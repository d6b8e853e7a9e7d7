"""Alerts out: evaluate "needs attention", record fire/resolve deliveries, send them.

The same fact never notifies twice: ``AlertState.fire_seq`` numbers each time a
fingerprint starts firing, and ``NotificationDelivery`` is unique on (channel,
fingerprint, kind, fire_seq), so a second evaluation (or a second beat, or two
workers) finds the row already there and sends nothing.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from clusters.core.jobs import job_enqueue, job_refused
from console.dashboard import AttentionItem, needs_attention
from console.models import (
    Acknowledgement,
    AlertState,
    ChannelKind,
    DeliveryKind,
    DeliveryStatus,
    NotificationChannel,
    NotificationDelivery,
)

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10
MAX_ATTEMPTS = 6
DELIVER_TASK = "console.alerts.tasks.deliver"


class DeliveryTransientError(Exception):
    """5xx, timeouts, refused connections: worth retrying with backoff."""


class DeliveryPermanentError(Exception):
    """4xx, a bad URL, a rejected address: retrying will not help."""


class DeliveryClaimBusy(Exception):
    """Another worker claimed this delivery and may be sending it now. Its claim
    goes stale ``retry_in`` seconds from now (if that worker died)."""

    def __init__(self, retry_in: float) -> None:
        super().__init__(f"claimed by another worker; stale in {retry_in:.0f}s")
        self.retry_in = max(0.0, retry_in)


@dataclass(frozen=True)
class EvaluationResult:
    fired: int
    resolved: int
    deliveries: list[int]


def _base_url() -> str:
    return settings.FLEETDECK_BASE_URL.rstrip("/")


def _payload(
    *, kind: str, fingerprint: str, fire_seq: int, severity: str, source: str, title: str,
    detail: str, cluster_arn: str, url: str, at: str,
) -> dict[str, Any]:  # fmt: skip
    return {
        "kind": kind,
        "fingerprint": fingerprint,
        "fire_seq": fire_seq,
        "severity": severity,
        "source": source,
        "title": title,
        "detail": detail,
        "cluster_arn": cluster_arn,
        "url": (_base_url() + url) if url.startswith("/") else url,
        "at": at,
    }


def alerts_evaluate(
    *, items: list[AttentionItem] | None = None, enqueue: Callable[[int], None] | None = None
) -> EvaluationResult:
    """Compare what needs attention now with what was firing; record one delivery
    per matching channel for each new firing and each resolution, then enqueue
    them (through the outbox: sent after commit, resent after a broker outage).
    Idempotent: running it twice sends nothing new."""
    items = needs_attention() if items is None else items
    now = timezone.now()
    current = {i.fingerprint: i for i in items}
    channels = list(NotificationChannel.objects.filter(enabled=True))
    states = {s.fingerprint: s for s in AlertState.objects.all()}
    with transaction.atomic():
        fired, fire_deliveries = _alerts_fire(current, states, channels, now)
        resolved, resolve_deliveries = _alerts_resolve(current, states, channels, now)
        created = fire_deliveries + resolve_deliveries
        for pk in created:
            if enqueue is None:
                delivery_enqueue(pk)
            else:  # a caller's own sender (tests): still only after commit
                transaction.on_commit(lambda pk=pk: enqueue(pk))  # type: ignore[misc]
    return EvaluationResult(fired=fired, resolved=resolved, deliveries=created)


def _alerts_fire(
    current: dict[str, AttentionItem],
    states: dict[str, AlertState],
    channels: list[NotificationChannel],
    now: datetime,
) -> tuple[int, list[int]]:
    """Start firing what needs attention and was not firing; returns (fired, deliveries)."""
    fired, created = 0, []
    for fp, item in current.items():
        state = states.get(fp)
        if state is not None and state.firing:
            continue
        if state is None:
            state = AlertState(fingerprint=fp, fire_seq=1)
        else:
            state.fire_seq += 1
        state.firing = True
        state.severity, state.source = item.severity, item.source
        state.title, state.cluster_arn = item.title[:500], item.cluster_arn
        state.url, state.fired_at, state.resolved_at = item.url, now, None
        state.save()
        fired += 1
        payload = _payload(
            kind=DeliveryKind.FIRE, fingerprint=fp, fire_seq=state.fire_seq,
            severity=item.severity, source=item.source, title=item.title,
            detail=item.alert_detail, cluster_arn=item.cluster_arn, url=item.url,
            at=now.isoformat(),
        )  # fmt: skip
        for channel in channels:
            if channel.matches(
                severity=item.severity, source=item.source, cluster_arn=item.cluster_arn
            ):
                created += _delivery_create(channel, fp, DeliveryKind.FIRE, state, payload)
    return fired, created


def _alerts_resolve(
    current: dict[str, AttentionItem],
    states: dict[str, AlertState],
    channels: list[NotificationChannel],
    now: datetime,
) -> tuple[int, list[int]]:
    """Resolve what was firing and no longer needs attention; (resolved, deliveries)."""
    resolved, created = 0, []
    for fp, state in states.items():
        if not state.firing or fp in current:
            continue
        state.firing, state.resolved_at = False, now
        state.save(update_fields=["firing", "resolved_at"])
        resolved += 1
        payload = _payload(
            kind=DeliveryKind.RESOLVE, fingerprint=fp, fire_seq=state.fire_seq,
            severity=state.severity, source=state.source, title=state.title,
            detail="Resolved", cluster_arn=state.cluster_arn, url=state.url,
            at=now.isoformat(),
        )  # fmt: skip
        # A resolution goes to the channels that were told about the firing.
        told = set(
            NotificationDelivery.objects.filter(
                fingerprint=fp, kind=DeliveryKind.FIRE, fire_seq=state.fire_seq
            ).values_list("channel_id", flat=True)
        )
        for channel in channels:
            if channel.pk in told:
                created += _delivery_create(channel, fp, DeliveryKind.RESOLVE, state, payload)
    return resolved, created


def alerts_prune(*, now: Any = None) -> int:
    """Forget resolved alert states and delivery records past the retention period
    (firing states are kept whatever their age). Returns rows deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.FLEETDECK_RETENTION_DAYS)
    states, _ = AlertState.objects.filter(firing=False, resolved_at__lt=cutoff).delete()
    deliveries, _ = NotificationDelivery.objects.filter(created_at__lt=cutoff).delete()
    # The dashboard reads acknowledgements of the same period only.
    acks, _ = Acknowledgement.objects.filter(created_at__lt=cutoff).delete()
    return states + deliveries + acks


def _delivery_create(
    channel: NotificationChannel, fp: str, kind: str, state: AlertState, payload: dict[str, Any]
) -> list[int]:
    try:
        with transaction.atomic():
            d = NotificationDelivery.objects.create(
                channel=channel, fingerprint=fp, kind=kind, fire_seq=state.fire_seq, payload=payload
            )
    except IntegrityError:
        return []  # already recorded by an earlier (or concurrent) evaluation
    return [d.pk]


def delivery_enqueue(delivery_id: int) -> None:
    """Queue the sending of one delivery by task name (the outbox: after commit, and
    resent by the sweep if the broker refuses it)."""
    job_enqueue(DELIVER_TASK, delivery_id)


def delivery_waiting(delivery_id: int) -> bool:
    """The delivery is recorded but the broker has not taken it yet."""
    return job_refused(DELIVER_TASK, delivery_id)


def channel_test_send(*, channel: NotificationChannel, actor_name: str) -> NotificationDelivery:
    """Record a test delivery (its own fingerprint, never deduplicated) and enqueue it."""
    now = timezone.now()
    fp = f"test:{channel.pk}:{now.timestamp():.6f}"
    payload = _payload(
        kind=DeliveryKind.TEST,
        fingerprint=fp,
        fire_seq=1,
        severity="info",
        source="test",
        title=f"Fleetdeck test notification from {actor_name}",
        detail="If you can read this, the channel works.",
        cluster_arn="",
        url="/",
        at=now.isoformat(),
    )
    with transaction.atomic():  # the delivery and its job are kept together
        delivery = NotificationDelivery.objects.create(
            channel=channel, fingerprint=fp, kind=DeliveryKind.TEST, fire_seq=1, payload=payload
        )
        delivery_enqueue(delivery.pk)
    return delivery


# --- sending -----------------------------------------------------------------
def _slack_body(payload: dict[str, Any]) -> dict[str, Any]:
    icon = {"fire": ":rotating_light:", "resolve": ":white_check_mark:"}.get(
        payload["kind"], ":information_source:"
    )
    verb = {"fire": "FIRING", "resolve": "RESOLVED"}.get(payload["kind"], "TEST")
    text = f"{icon} *{verb}* [{payload['severity']}] {payload['title']}"
    if payload.get("detail"):
        text += f"\n{payload['detail']}"
    if payload.get("url"):
        text += f"\n<{payload['url']}|Open in Fleetdeck>"
    return {"text": text}


def _post_json(url: str, body: dict[str, Any]) -> int:
    if not url.startswith(("http://", "https://")):
        raise DeliveryPermanentError(f"not an http(s) URL: {url[:80]}")
    data = json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "fleetdeck-alerts/1"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code == 429:
            raise DeliveryTransientError(f"HTTP {exc.code}") from exc
        raise DeliveryPermanentError(f"HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        raise DeliveryTransientError(f"connection failed: {exc}") from exc


def _send(channel: NotificationChannel, payload: dict[str, Any]) -> int | None:
    if channel.kind == ChannelKind.WEBHOOK:
        return _post_json(channel.target, payload)
    if channel.kind == ChannelKind.SLACK:
        return _post_json(channel.target, _slack_body(payload))
    if channel.kind == ChannelKind.EMAIL:
        recipients = [a.strip() for a in channel.target.split(",") if a.strip()]
        verb = {"fire": "FIRING", "resolve": "RESOLVED"}.get(payload["kind"], "TEST")
        try:
            send_mail(
                subject=f"[Fleetdeck] {verb} {payload['title']}"[:200],
                message=json.dumps(payload, indent=2),
                from_email=None,
                recipient_list=recipients,
            )
        except (ConnectionError, OSError) as exc:
            raise DeliveryTransientError(f"mail: {exc}") from exc
        return None
    raise DeliveryPermanentError(f"unknown channel kind {channel.kind}")


def claim_stale_after() -> timedelta:
    """Celery's hard time limit kills any task older than that: a claim this old
    belongs to a worker that died mid-send (SIGKILL, OOM, a lost node)."""
    return timedelta(seconds=int(settings.CELERY_TASK_TIME_LIMIT) + 60)


def _delivery_claim(delivery_id: int, token: str) -> bool:
    """Compare-and-set: move a sendable delivery to SENDING under ``token``. Exactly
    one concurrent caller gets True (the UPDATE's row lock decides)."""
    now = timezone.now()
    sendable = Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]) | Q(
        status=DeliveryStatus.SENDING, claimed_at__lt=now - claim_stale_after()
    )
    claimed = NotificationDelivery.objects.filter(sendable, pk=delivery_id).update(
        status=DeliveryStatus.SENDING,
        claim_token=token,
        claimed_at=now,
        attempts=F("attempts") + 1,
        last_attempt_at=now,
    )
    return claimed == 1


def _delivery_finish(delivery: NotificationDelivery, token: str, **values: Any) -> None:
    """Record an attempt's outcome. A worker whose claim went stale and was taken
    over records nothing: the new claimant records its own."""
    for name, value in values.items():
        setattr(delivery, name, value)
    NotificationDelivery.objects.filter(pk=delivery.pk, claim_token=token).update(**values)


def delivery_attempt(*, delivery_id: int, final: bool = False) -> NotificationDelivery | None:
    """One attempt at sending a delivery; records the attempt. Raises
    DeliveryTransientError when worth retrying (status "retrying", or "failed"
    when ``final``). Only the caller that claims the delivery sends it: a delivery
    already sent or failed is left alone, and one another worker is sending
    raises DeliveryClaimBusy (until that claim is stale)."""
    token = uuid.uuid4().hex
    if not _delivery_claim(delivery_id, token):
        delivery = NotificationDelivery.objects.filter(pk=delivery_id).first()
        if delivery is not None and delivery.status == DeliveryStatus.SENDING:
            stale_at = (delivery.claimed_at or timezone.now()) + claim_stale_after()
            raise DeliveryClaimBusy(retry_in=(stale_at - timezone.now()).total_seconds())
        return delivery
    delivery = NotificationDelivery.objects.select_related("channel").filter(pk=delivery_id).first()
    if delivery is None:
        return None  # pruned in between
    try:
        code = _send(delivery.channel, delivery.payload)
    except DeliveryTransientError as exc:
        status = DeliveryStatus.FAILED if final else DeliveryStatus.RETRYING
        _delivery_finish(delivery, token, status=status, last_error=str(exc)[:2000])
        raise
    except DeliveryPermanentError as exc:
        _delivery_finish(delivery, token, status=DeliveryStatus.FAILED, last_error=str(exc)[:2000])
        return delivery
    _delivery_finish(
        delivery,
        token,
        status=DeliveryStatus.SENT,
        last_status_code=code,
        sent_at=timezone.now(),
        last_error="",
    )
    return delivery
