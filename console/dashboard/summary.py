"""The fleet summary: services and sync classified per cluster, grouped by account
and region, with totals."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from clusters.health import HealthState, is_unhealthy, worst
from clusters.models import Cluster
from clusters.stream.selectors import mirror_fresh_at
from console.dashboard.extension_rules import ensure_extensions_loaded
from console.dashboard.snapshot import (
    ClusterSummary,
    FleetSnapshot,
    FleetSummary,
    SummaryGroup,
    fleet_snapshot,
)
from deployments.health import stale_after as health_stale_after


def stale_sync_after() -> timedelta:
    """The health model's staleness threshold (shown as "STALE" next to the age)."""
    return health_stale_after()


def _last_success(cluster: Cluster, account_ok: dict[int, datetime | None]) -> datetime | None:
    candidates = [getattr(cluster, "last_ok_run", None)]
    if cluster.last_sync_ok:
        candidates.append(cluster.last_sync_at)
    found = [c for c in candidates if c is not None]
    synced = max(found) if found else account_ok.get(cluster.account_id)
    return mirror_fresh_at(synced, cluster)


def _waiting_instance_ids(snapshot: FleetSnapshot) -> set[int]:
    """Instances in the registration waiting room (filled by an extension)."""
    return set(snapshot.extra.get("waiting_instance_ids", set()))


def dashboard_summary(*, snapshot: FleetSnapshot | None = None) -> FleetSummary:
    snap = snapshot or fleet_snapshot()
    ensure_extensions_loaded(snap)  # the waiting room comes from an extension
    rows = _cluster_rows(snap)
    _services_count(rows, snap)
    _instances_count(rows, snap)
    # The fleet is as bad as its worst cluster, Docker host or account.
    others = [r["health_state"] for r in snap.unhealthy if r["kind"] in ("host", "account")]
    groups: dict[tuple[str, str], list[ClusterSummary]] = defaultdict(list)
    for row in rows.values():
        groups[(row.account_name, row.region)].append(row)
    return FleetSummary(
        groups=[SummaryGroup(a, r, cl) for (a, r), cl in groups.items()],
        totals=_totals(list(rows.values()), others),
        accounts_failing=[a.name for a in snap.accounts if a.last_sync_status == "failed"],
        generated_at=snap.now,
    )


def _cluster_rows(snap: FleetSnapshot) -> dict[int, ClusterSummary]:
    """One summary per cluster, by id, with its sync freshness (no counts yet)."""
    now = snap.now
    account_ok = {a.pk: getattr(a, "last_ok_run", None) for a in snap.accounts}
    rows: dict[int, ClusterSummary] = {}
    for c in snap.clusters:
        last_ok = _last_success(c, account_ok)
        age = (now - last_ok).total_seconds() if last_ok else None
        rows[c.pk] = ClusterSummary(
            id=c.pk,
            arn=c.arn,
            name=c.name,
            region=c.region,
            account_name=c.account.name,
            state=c.health_state,
            reasons=c.health_reasons,
            tasks_running=c.running_tasks_count,
            last_success_at=last_ok,
            sync_age_seconds=age,
            stale=last_ok is None or (now - last_ok) > stale_sync_after(),
            sync_error="" if c.last_sync_ok is not False else (c.last_sync_error or "failed"),
        )
    return rows


def _services_count(rows: dict[int, ClusterSummary], snap: FleetSnapshot) -> None:
    """Counts of the services' stored health (inactive services are not counted)."""
    for svc in snap.services:
        row = rows.get(svc["cluster_id"])
        state = svc["health_state"]
        if row is None or state == HealthState.INACTIVE:
            continue
        attr = f"services_{state}"
        setattr(row, attr, getattr(row, attr) + 1)


def _instances_count(rows: dict[int, ClusterSummary], snap: FleetSnapshot) -> None:
    waiting = _waiting_instance_ids(snap)
    for inst in snap.instances:
        row = rows.get(inst["cluster_id"])
        if row is None:
            continue
        if is_unhealthy(inst["health_state"]):
            row.instances_unhealthy += 1
        if inst["id"] in waiting:
            row.instances_waiting += 1
        elif not inst["agent_connected"] and inst["status"] in ("ACTIVE", "DRAINING"):
            row.instances_disconnected += 1
        elif inst["status"] == "DRAINING":
            row.instances_draining += 1
        elif inst["status"] == "ACTIVE":
            row.instances_active += 1


_SUMMED = (
    "services_healthy",
    "services_degraded",
    "services_failing",
    "services_down",
    "services_unknown",
    "instances_unhealthy",
    "instances_active",
    "instances_draining",
    "instances_disconnected",
    "instances_waiting",
    "tasks_running",
)


def _totals(rows: list[ClusterSummary], others: list[str]) -> ClusterSummary:
    totals = ClusterSummary(id=0, arn="", name="All clusters", region="", account_name="")
    for row in rows:
        for attr in _SUMMED:
            setattr(totals, attr, getattr(totals, attr) + getattr(row, attr))
    ages = [r.sync_age_seconds for r in rows if r.sync_age_seconds is not None]
    totals.sync_age_seconds = max(ages) if ages else None
    totals.stale = any(r.stale for r in rows)
    states = [r.state for r in rows] + others
    totals.state = worst(states, default=HealthState.UNKNOWN)
    return totals
