"""/metrics: the fleet in Prometheus text exposition format (version 0.0.4).

Written by hand (no prometheus_client dependency): every label value goes
through ``_label`` which escapes backslash, double quote and newline as the
format requires.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone

from clusters.cost import cost_bill
from clusters.display import usd_cents
from clusters.health import HealthState
from clusters.models import AwsAccount, EventSeverity, SyncRun
from clusters.stream.selectors import StreamRow, account_modes, streams_by_account
from console.dashboard import (
    AttentionItem,
    FleetSnapshot,
    FleetSummary,
    _drift_model,
    dashboard_summary,
    fleet_snapshot,
    needs_attention,
)
from deployments.health import FLEET_EVALUATED_KEY

log = logging.getLogger(__name__)

# fleetdeck_services' states: every state but inactive (not counted on the dashboard).
SERVICE_STATES = [s for s in HealthState.values if s != HealthState.INACTIVE]


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: object) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


class Exposition:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, **labels: object) -> None:
        number = int(value) if float(value).is_integer() else round(float(value), 3)
        self.lines.append(f"{name}{_labels(**labels)} {number}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def celery_queue_depth(queue: str = "celery") -> int | None:
    """Messages waiting in the broker: LLEN on Redis, files in the filesystem broker."""
    broker = str(settings.CELERY_BROKER_URL)
    try:
        if broker.startswith("redis"):
            import redis

            client = redis.Redis.from_url(broker, socket_timeout=2, socket_connect_timeout=2)
            return int(client.llen(queue))  # type: ignore[arg-type]  # sync client
        if broker.startswith("filesystem"):
            folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
            return sum(1 for _ in folder.glob(f"*.{queue}.msg")) if folder.is_dir() else 0
    except Exception:  # an unreachable broker is reported as a missing sample
        log.warning("could not read the Celery queue depth", exc_info=True)
    return None


def metrics_text() -> str:
    now = timezone.now()
    snap = fleet_snapshot(now=now)
    summary = dashboard_summary(snapshot=snap)
    items = needs_attention(snapshot=snap, why=False)  # counted by severity only
    out = Exposition()
    _services_write(out, summary, snap)
    _instances_write(out, summary)
    _sync_write(out, summary, snap)
    _attention_write(out, items)
    _drift_write(out)
    _cost_write(out, now)
    _streams_write(out)
    depth = celery_queue_depth()
    out.family("fleetdeck_celery_queue_depth", "gauge", "Messages waiting in the Celery queue.")
    if depth is not None:
        out.sample("fleetdeck_celery_queue_depth", depth, queue="celery")
    return out.text()


def _services_write(out: Exposition, summary: FleetSummary, snap: FleetSnapshot) -> None:
    out.family("fleetdeck_services", "gauge", "Services by health state per cluster.")
    for row in summary.clusters:
        for state in SERVICE_STATES:
            out.sample(
                "fleetdeck_services",
                getattr(row, f"services_{state}"),
                account=row.account_name,
                region=row.region,
                cluster=row.name,
                state=state,
            )
    out.family("fleetdeck_service_desired_tasks", "gauge", "Desired task count per service.")
    out.family("fleetdeck_service_running_tasks", "gauge", "Running task count per service.")
    clusters = snap.cluster_by_id
    for svc in snap.services:
        c = clusters.get(svc["cluster_id"])
        if c is None:
            continue
        labels = {
            "region": c.region,
            "cluster": c.name,
            "service": svc["name"],
        }
        out.sample("fleetdeck_service_desired_tasks", svc["desired_count"], **labels)
        out.sample("fleetdeck_service_running_tasks", svc["running_count"], **labels)
    _service_health_write(out, snap)
    _health_age_write(out, snap)


def _health_age_write(out: Exposition, snap: FleetSnapshot) -> None:
    """Health states are stored; if the beat stops, they stop changing. Alert on
    this age (e.g. > 120) to know the states themselves are stale."""
    out.family(
        "fleetdeck_health_evaluation_age_seconds",
        "gauge",
        "Seconds since the whole fleet's health was last evaluated (absent: never).",
    )
    try:
        raw = cache.get(FLEET_EVALUATED_KEY)
    except Exception:  # the cache (Redis) is down: a missing sample says so
        log.warning("cache unreachable while reading the health evaluation time")
        return
    if raw:
        age = (snap.now - datetime.fromisoformat(raw)).total_seconds()
        out.sample("fleetdeck_health_evaluation_age_seconds", max(0.0, age))


def _service_health_write(out: Exposition, snap: FleetSnapshot) -> None:
    """One series per service and state, 1 for the state it is in (the stored
    health, as every page shows it), 0 for the others."""
    out.family(
        "fleetdeck_service_health",
        "gauge",
        "1 for the health state each service is in (healthy, degraded, failing, down, "
        "unknown, inactive), else 0.",
    )
    clusters = snap.cluster_by_id
    for svc in snap.services:
        c = clusters.get(svc["cluster_id"])
        if c is None:
            continue
        where = {"account": c.account.name, "region": c.region, "cluster": c.name}
        for state in HealthState.values:
            value = 1 if svc["health_state"] == state else 0
            out.sample("fleetdeck_service_health", value, service=svc["name"], state=state, **where)


def _instances_write(out: Exposition, summary: FleetSummary) -> None:
    out.family("fleetdeck_instances", "gauge", "Container instances by state per cluster.")
    for row in summary.clusters:
        for state in ("active", "draining", "disconnected", "waiting"):
            out.sample(
                "fleetdeck_instances",
                getattr(row, f"instances_{state}"),
                region=row.region,
                cluster=row.name,
                state=state,
            )
    out.family("fleetdeck_tasks_running", "gauge", "Running tasks per cluster.")
    for row in summary.clusters:
        out.sample(
            "fleetdeck_tasks_running", row.tasks_running, region=row.region, cluster=row.name
        )


def _sync_write(out: Exposition, summary: FleetSummary, snap: FleetSnapshot) -> None:
    out.family("fleetdeck_sync_age_seconds", "gauge", "Seconds since the last successful sync.")
    for row in summary.clusters:
        if row.sync_age_seconds is not None:
            out.sample(
                "fleetdeck_sync_age_seconds",
                row.sync_age_seconds,
                region=row.region,
                cluster=row.name,
            )
    out.family("fleetdeck_sync_failing", "gauge", "1 when the last sync failed.")
    for row in summary.clusters:
        failing = 1 if row.sync_error else 0
        out.sample("fleetdeck_sync_failing", failing, region=row.region, cluster=row.name)
    out.family("fleetdeck_account_sync_failing", "gauge", "1 when the account's last sync failed.")
    for account in snap.accounts:
        out.sample(
            "fleetdeck_account_sync_failing",
            1 if account.last_sync_status == "failed" else 0,
            account=account.name,
        )
    out.family("fleetdeck_sync_errors_24h", "gauge", "Failed sync runs in the last 24 hours.")
    failed = dict(
        SyncRun.objects.filter(status="failed", started_at__gte=snap.now - timedelta(hours=24))
        .values_list("account__name")
        .annotate(n=Count("id"))
        .order_by()
    )
    for account in snap.accounts:
        out.sample("fleetdeck_sync_errors_24h", failed.get(account.name, 0), account=account.name)


def _attention_write(out: Exposition, items: list[AttentionItem]) -> None:
    out.family("fleetdeck_attention_items", "gauge", "Open needs-attention items by severity.")
    severities = (EventSeverity.ERROR, EventSeverity.WARNING, EventSeverity.INFO)
    counts: dict[str, int] = {s.value: 0 for s in severities}
    for item in items:
        if not item.acknowledged:
            counts[item.severity] = counts.get(item.severity, 0) + 1
    for severity, n in counts.items():
        out.sample("fleetdeck_attention_items", n, severity=severity)


def _drift_write(out: Exposition) -> None:
    model = _drift_model()
    if model is None:
        return
    out.family("fleetdeck_drift_findings", "gauge", "Open drift findings by kind and severity.")
    for kind, severity, n in (
        model.objects.filter(resolved_at__isnull=True)
        .values_list("kind", "severity")
        .annotate(n=Count("id"))
        .order_by()
    ):
        out.sample("fleetdeck_drift_findings", n, kind=kind, severity=severity)


def _cost_write(out: Exposition, now: datetime) -> None:
    """The ECS Anywhere bill of the current month (docs/cost.md), per cluster."""
    # Totals only: a scrape must not build the month's per-day trend.
    bill = cost_bill(month=now.date().replace(day=1), now=now, daily=False)
    out.family(
        "fleetdeck_anywhere_cost_month_to_date_usd",
        "gauge",
        "ECS Anywhere cost of the registered external instances this month so far (USD).",
    )
    for c in bill.clusters:
        labels = {"account": c.account, "region": c.region, "cluster": c.cluster}
        out.sample("fleetdeck_anywhere_cost_month_to_date_usd", float(usd_cents(c.cost)), **labels)
    out.family(
        "fleetdeck_anywhere_cost_projected_usd",
        "gauge",
        "ECS Anywhere cost this month if every registered external instance stays (USD).",
    )
    for c in bill.clusters:
        labels = {"account": c.account, "region": c.region, "cluster": c.cluster}
        out.sample(
            "fleetdeck_anywhere_cost_projected_usd", float(usd_cents(c.projected_cost)), **labels
        )


def _streams_write(out: Exposition) -> None:
    """The ECS event streams (docs/event-stream.md) and the sync mode of each account."""
    names = dict(AwsAccount.objects.values_list("pk", "name"))
    out.family("fleetdeck_sync_mode", "gauge", "1 for the account's sync mode (stream|polling).")
    for pk, mode in sorted(account_modes().items()):
        for each in ("stream", "polling"):
            out.sample("fleetdeck_sync_mode", int(mode.mode == each), account=names[pk], mode=each)
    rows = [r for rs in streams_by_account().values() for r in rs]
    gauges: tuple[tuple[str, str, Callable[[StreamRow], float | None]], ...] = (
        ("healthy", "1 when the stream is healthy.", lambda r: int(r.mode.is_stream)),
        ("last_event_age_seconds", "Age of the last event applied.", _last_event_age),
        (
            "oldest_message_age_seconds",
            "Age of the oldest message the last poll received (SentTimestamp).",
            lambda r: r.stream.oldest_message_age_seconds,
        ),
        ("queue_messages", "Messages waiting in the queue.", lambda r: r.stream.queue_visible),
        ("dlq_messages", "Messages in the dead-letter queue.", lambda r: r.stream.dlq_depth),
        ("events_applied_total", "Events applied to the mirror.", _applied),
    )
    for suffix, help_text, value in gauges:
        name = f"fleetdeck_event_stream_{suffix}"
        kind = "counter" if name.endswith("_total") else "gauge"
        out.family(name, kind, help_text)
        for row in rows:
            got = value(row)
            if got is not None:
                out.sample(name, got, account=row.stream.account.name, region=row.stream.region)


def _last_event_age(row: StreamRow) -> float | None:
    return row.last_event_age_seconds


def _applied(row: StreamRow) -> float:
    return row.stream.events_applied
