"""The core attention rules (rollouts, services below desired, failed tasks,
disconnected agents, sync) and ``needs_attention``, which runs them and the
extension rules."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TypedDict

from django.conf import settings

from clusters.display import timestamp_text
from console.dashboard.acknowledgements import acknowledgements_attach
from console.dashboard.extension_rules import EXTENSION_RULES, ensure_extensions_loaded
from console.dashboard.links import _url, detail_url, timeline_url
from console.dashboard.snapshot import (
    ERROR,
    WARNING,
    AttentionItem,
    ClusterFields,
    FleetSnapshot,
    Rule,
    _cluster_fields,
    fleet_snapshot,
)
from console.dashboard.summary import _last_success, _waiting_instance_ids, stale_sync_after

# How long an agent may be disconnected before it needs attention (the ECS agent
# reconnects on its own after short network blips).
AGENT_DISCONNECTED_AFTER = timedelta(minutes=5)
DISCONNECTED_LIMIT = 500


def stuck_rollout_after() -> timedelta:
    return timedelta(minutes=settings.FLEETDECK_STUCK_ROLLOUT_MINUTES)


class Links(TypedDict):
    url: str
    timeline_url: str


def rule_rollouts(snap: FleetSnapshot) -> Iterable[AttentionItem]:
    """Failed rollouts, and rollouts IN_PROGRESS for longer than the threshold."""
    clusters = snap.cluster_by_id
    for svc in snap.services:
        if svc["status"] != "ACTIVE" or not svc["dep_id"] or svc["cluster_id"] not in clusters:
            continue
        created = svc["dep_created"] or snap.now
        if svc["dep_rollout"] not in ("FAILED", "IN_PROGRESS"):
            continue
        links: Links = {
            "url": detail_url("deployments:service", svc["id"]),
            "timeline_url": timeline_url(service=svc["arn"]),
        }
        if svc["dep_rollout"] == "FAILED":
            yield AttentionItem(
                fingerprint=f"rollout-failed:{svc['dep_id']}",
                severity=ERROR,
                source="deployment",
                title=f"Deployment of {svc['name']} failed",
                detail=svc["dep_reason"] or "Rollout state FAILED",
                since=svc["dep_updated"] or created,
                state="FAILED",
                **_cluster_fields(snap, svc["cluster_id"]),
                **links,
            )
        elif svc["dep_rollout"] == "IN_PROGRESS" and snap.now - created > stuck_rollout_after():
            minutes = int((snap.now - created).total_seconds() // 60)
            yield AttentionItem(
                fingerprint=f"rollout-stuck:{svc['dep_id']}",
                severity=WARNING,
                source="deployment",
                title=f"Deployment of {svc['name']} stuck for {minutes} min",
                detail=(
                    f"IN_PROGRESS since {timestamp_text(created)}; "
                    f"{svc['running_count']}/{svc['desired_count']} running"
                ),
                since=created,
                state="IN_PROGRESS",
                **_cluster_fields(snap, svc["cluster_id"]),
                **links,
            )


def rule_services_below_desired(snap: FleetSnapshot) -> Iterable[AttentionItem]:
    clusters = snap.cluster_by_id
    for svc in snap.services:
        if svc["status"] != "ACTIVE" or svc["cluster_id"] not in clusters:
            continue
        running, desired = svc["running_count"], svc["desired_count"]
        if running >= desired:
            continue
        created = svc["dep_created"]
        converging = (
            svc["dep_rollout"] == "IN_PROGRESS"
            and created is not None
            and snap.now - created <= stuck_rollout_after()
        )
        if converging:
            continue  # a rollout in progress is expected to be short for a while
        yield AttentionItem(
            fingerprint=f"service-below-desired:{svc['arn']}",
            severity=ERROR if running == 0 else WARNING,
            source="service",
            title=f"{svc['name']}: {running} of {desired} tasks running",
            detail=f"{svc['pending_count']} pending",
            since=svc["dep_updated"] or created or snap.now,
            state=f"{running}/{desired}",
            url=detail_url("deployments:service", svc["id"]),
            timeline_url=timeline_url(service=svc["arn"]),
            **_cluster_fields(snap, svc["cluster_id"]),
        )


def rule_failed_tasks(snap: FleetSnapshot) -> Iterable[AttentionItem]:
    """Tasks that stopped with a non-zero exit or OOM in the last hour, per service."""
    services = {s["id"]: s for s in snap.services}
    for row in snap.failed_stops:
        svc = services.get(row["task__service_id"])
        cluster = _cluster_fields(snap, row["task__cluster_id"])
        if not cluster:
            continue
        name = svc["name"] if svc else "standalone tasks"
        owner = svc["arn"] if svc else f"{cluster['cluster_arn']}#standalone"
        oom = f", {row['oom']} out of memory" if row["oom"] else ""
        yield AttentionItem(
            fingerprint=f"task-failures:{owner}",
            severity=ERROR if row["tasks"] >= 5 else WARNING,
            source="task",
            title=f"{name}: {row['tasks']} task(s) failed in the last hour",
            detail=f"Stopped with a non-zero exit code{oom}",
            since=row["last_stopped"],
            # A new failure changes the newest task; older ones ageing out do not.
            state=row["last_stopped"].isoformat(),
            url=detail_url("deployments:service", svc["id"]) if svc else "",
            timeline_url=(
                timeline_url(service=svc["arn"])
                if svc
                else timeline_url(cluster=cluster["cluster_arn"])
            ),
            **cluster,
        )


def rule_disconnected_agents(snap: FleetSnapshot) -> Iterable[AttentionItem]:
    waiting = _waiting_instance_ids(snap)
    for inst in snap.instances:
        if inst["agent_connected"] or inst["status"] not in ("ACTIVE", "DRAINING"):
            continue
        if inst["id"] in waiting:
            continue
        since = inst["since"]
        if snap.now - since < AGENT_DISCONNECTED_AFTER:
            continue
        name = inst["ec2_instance_id"] or inst["arn"].rsplit("/", 1)[-1]
        minutes = int((snap.now - since).total_seconds() // 60)
        yield AttentionItem(
            fingerprint=f"agent-disconnected:{inst['arn']}",
            severity=ERROR,
            source="container-instance",
            title=f"Agent on {name} disconnected for {minutes} min",
            detail=("External instance" if inst["is_external"] else "EC2 instance")
            + f", status {inst['status']}",
            since=since,
            state="disconnected",
            url=detail_url("deployments:instance", inst["id"]),
            timeline_url=timeline_url(instance=inst["arn"]),
            **_cluster_fields(snap, inst["cluster_id"]),
        )


def rule_sync(snap: FleetSnapshot) -> Iterable[AttentionItem]:
    """Sync errors (AccessDenied, throttling that never recovered) and stale data."""
    account_ok = {a.pk: getattr(a, "last_ok_run", None) for a in snap.accounts}
    for account in snap.accounts:
        if account.enabled and account.last_sync_status == "failed":
            yield AttentionItem(
                fingerprint=f"sync-error:account:{account.pk}",
                severity=ERROR,
                source="sync",
                title=f"Sync of account {account.name} is failing",
                detail=(account.last_sync_error or "failed")[:300],
                since=account.last_sync_at or snap.now,
                state="failed",
                url=_url("deployments:clusters"),
                timeline_url=timeline_url(source="sync"),
            )
    for c in snap.clusters:
        links: Links = {
            "url": detail_url("deployments:cluster", c.pk),
            "timeline_url": timeline_url(cluster=c.arn),
        }
        fields: ClusterFields = {"cluster_arn": c.arn, "cluster_name": c.name, "region": c.region}
        if c.last_sync_ok is False:
            yield AttentionItem(
                fingerprint=f"sync-error:cluster:{c.arn}",
                severity=ERROR,
                source="sync",
                title=f"Sync of cluster {c.name} is failing",
                detail=(c.last_sync_error or "failed")[:300],
                since=c.last_sync_at or snap.now,
                state="failed",
                **fields,
                **links,
            )
            continue
        last_ok = _last_success(c, account_ok)
        since = last_ok or c.first_seen_at
        if snap.now - since > stale_sync_after():
            yield AttentionItem(
                fingerprint=f"sync-stale:cluster:{c.arn}",
                severity=WARNING,
                source="sync",
                title=f"Data for {c.name} is stale",
                detail="No successful sync since "
                + (timestamp_text(last_ok) if last_ok else "it was first seen"),
                since=since,
                state="stale",
                **fields,
                **links,
            )


CORE_RULES: list[Rule] = [
    rule_rollouts,
    rule_services_below_desired,
    rule_failed_tasks,
    rule_disconnected_agents,
    rule_sync,
]


def needs_attention(*, snapshot: FleetSnapshot | None = None) -> list[AttentionItem]:
    """Every item that needs attention: unacknowledged first, then by severity, then
    newest first. Acknowledged items sink to the bottom until their state changes."""
    snap = snapshot or fleet_snapshot()
    ensure_extensions_loaded(snap)
    items: list[AttentionItem] = []
    for rule in CORE_RULES:
        items.extend(rule(snap))
    for _, rule in EXTENSION_RULES:
        items.extend(rule(snap))
    acknowledgements_attach(items)
    items.sort(key=lambda i: (i.acknowledged, -i.severity_rank, -i.since.timestamp()))
    return items
