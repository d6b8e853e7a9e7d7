"""Selectors for the on-call dashboard: the fleet summary and "needs attention".

Everything here reads a fixed number of SQL queries whatever the fleet size:
one ``FleetSnapshot`` is loaded with a handful of flat ``values()`` queries (and
aggregates), then the summary and every attention rule are computed from it in
Python. Rules for models that come from other capabilities (drift findings,
Docker hosts, registrations) are registered in ``EXTENSION_RULES`` and each costs
one query.
"""

from __future__ import annotations

import functools
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Count, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from clusters.models import AwsAccount, Cluster, ContainerInstance, SyncRun
from deployments.models import Deployment, Service, TaskContainer

from .models import SEVERITY_RANK, Acknowledgement, AlertState

ERROR, WARNING, INFO = "error", "warning", "info"

# How long an agent may be disconnected before it needs attention (the ECS agent
# reconnects on its own after short network blips).
AGENT_DISCONNECTED_AFTER = timedelta(minutes=5)
FAILED_TASKS_WINDOW = timedelta(hours=1)
DISCONNECTED_LIMIT = 500


def stuck_rollout_after() -> timedelta:
    return timedelta(minutes=int(getattr(settings, "FLEETDECK_STUCK_ROLLOUT_MINUTES", 30)))


def stale_sync_after() -> timedelta:
    """Data older than a few missed sync intervals is shown as stale."""
    interval = int(getattr(settings, "FLEETDECK_SYNC_INTERVAL_SECONDS", 30))
    return timedelta(seconds=max(5 * interval, 300))


# --- links -----------------------------------------------------------------
# reverse() costs ~0.1 ms; hundreds of items would spend more time there than in
# SQL, so each route is reversed once per process and filled in by string.
_PK_MARK = 987654321


@functools.cache
def _route(name: str, with_pk: bool) -> str:
    try:
        return reverse(name, args=[_PK_MARK] if with_pk else None)
    except NoReverseMatch:
        return ""


def _url(name: str, **query: str) -> str:
    base = _route(name, False)
    if not base:
        return ""
    return f"{base}?{urlencode(query)}" if query else base


def detail_url(name: str, pk: int | None) -> str:
    """The object's own page (the mirror's detail pages, by primary key)."""
    route = _route(name, True) if pk is not None else ""
    return route.replace(str(_PK_MARK), str(pk)) if route else ""


def timeline_url(**subject: str) -> str:
    """``/timeline/?service=<arn>`` and friends: the timeline filtered to one subject."""
    return _url("timeline", **subject)


# --- data ------------------------------------------------------------------
@dataclass
class AttentionItem:
    fingerprint: str
    severity: str
    source: str
    title: str
    detail: str
    since: datetime
    # What the item looks like now; an acknowledgement holds for this state only.
    state: str = ""
    cluster_arn: str = ""
    cluster_name: str = ""
    region: str = ""
    url: str = ""
    timeline_url: str = ""
    acknowledgement: Acknowledgement | None = None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledgement is not None

    @property
    def severity_rank(self) -> int:
        return SEVERITY_RANK.get(self.severity, 0)

    @property
    def dom_id(self) -> str:
        return (
            "att-" + hashlib.sha1(self.fingerprint.encode(), usedforsecurity=False).hexdigest()[:12]
        )

    @property
    def badge(self) -> str:
        return {ERROR: "badge-error", WARNING: "badge-warning"}.get(self.severity, "badge-info")


@dataclass
class ClusterSummary:
    id: int
    arn: str
    name: str
    region: str
    account_name: str
    services_healthy: int = 0
    services_degraded: int = 0
    services_failing: int = 0
    instances_active: int = 0
    instances_draining: int = 0
    instances_disconnected: int = 0
    instances_waiting: int = 0
    tasks_running: int = 0
    last_success_at: datetime | None = None
    sync_age_seconds: float | None = None
    stale: bool = False
    sync_error: str = ""

    @property
    def services_total(self) -> int:
        return self.services_healthy + self.services_degraded + self.services_failing

    @property
    def health(self) -> str:
        if self.services_failing or self.sync_error or self.instances_disconnected:
            return ERROR
        if self.services_degraded or self.stale:
            return WARNING
        return "ok"


@dataclass
class SummaryGroup:
    account_name: str
    region: str
    clusters: list[ClusterSummary]


@dataclass
class FleetSummary:
    groups: list[SummaryGroup]
    totals: ClusterSummary
    accounts_failing: list[str]
    generated_at: datetime

    @property
    def clusters(self) -> list[ClusterSummary]:
        return [c for g in self.groups for c in g.clusters]


@dataclass
class FleetSnapshot:
    """Everything the summary and the rules read, loaded once."""

    now: datetime
    clusters: Sequence[Cluster]
    accounts: list[Any]  # AwsAccount rows annotated with last_ok_run
    services: list[Any]  # values() dicts
    instances: list[Any]
    failed_stops: list[Any]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cluster_by_id(self) -> dict[int, Cluster]:
        return {c.pk: c for c in self.clusters}


def fleet_snapshot(*, now: datetime | None = None) -> FleetSnapshot:
    """Six queries, whatever the fleet size."""
    now = now or timezone.now()
    clusters = list(
        Cluster.objects.filter(gone_at__isnull=True)
        .select_related("account")
        .annotate(last_ok_run=_newest_success(cluster=OuterRef("pk")))
        .order_by("account__name", "region", "name")
    )
    accounts = list(
        AwsAccount.objects.annotate(last_ok_run=_newest_success(account=OuterRef("pk"))).order_by(
            "name"
        )
    )
    services = list(
        Service.objects.filter(gone_at__isnull=True, cluster__gone_at__isnull=True).values(
            "id",
            "arn",
            "name",
            "cluster_id",
            "status",
            "desired_count",
            "running_count",
            "pending_count",
        )
    )
    _attach_newest_deployments(services)
    instances = list(
        ContainerInstance.objects.filter(gone_at__isnull=True, cluster__gone_at__isnull=True)
        # One timestamp per row (parsing 600 datetimes shows in the profile).
        .annotate(since=Coalesce("agent_connected_changed_at", "first_seen_at"))
        .values(
            "id",
            "arn",
            "ec2_instance_id",
            "cluster_id",
            "status",
            "agent_connected",
            "since",
            "is_external",
        )
        .order_by()
    )
    failure = Q(exit_code__isnull=False) & ~Q(exit_code=0) | Q(reason__icontains="OutOfMemory")
    failed_stops = list(
        TaskContainer.objects.filter(
            failure,
            task__stopped_at__gte=now - FAILED_TASKS_WINDOW,
            task__cluster__gone_at__isnull=True,
        )
        .values("task__service_id", "task__cluster_id")
        .annotate(
            tasks=Count("task_id", distinct=True),
            oom=Count("task_id", distinct=True, filter=Q(reason__icontains="OutOfMemory")),
            last_stopped=Max("task__stopped_at"),
        )
        .order_by()
    )
    return FleetSnapshot(
        now=now,
        clusters=clusters,
        accounts=accounts,
        services=services,
        instances=instances,
        failed_stops=failed_stops,
    )


def _newest_success(**owner: Any) -> Subquery:
    """When the owner's newest successful sync run finished: one probe of
    ``syncrun_*_success_idx`` per cluster or account. A ``Max()`` over the join read
    every run kept instead (7 days of a sync every 30 s: 20,000 per cluster), and the
    dashboard recomputes every few seconds while syncs add more."""
    return Subquery(
        SyncRun.objects.filter(status="succeeded", finished_at__isnull=False, **owner)
        .order_by("-finished_at")
        .values("finished_at")[:1]
    )


def _attach_newest_deployments(services: list[Any]) -> None:
    """One flat query: the PRIMARY deployments (the newest one of a service is
    always PRIMARY in ECS); the newest per service is picked here, which is much
    cheaper than a correlated subquery per service."""
    epoch = datetime.min.replace(tzinfo=UTC)
    newest: dict[int, Any] = {}
    d: Any
    for d in Deployment.objects.filter(status="PRIMARY", service__gone_at__isnull=True).values(
        "id",
        "service_id",
        "deployment_id",
        "rollout_state",
        "rollout_state_reason",
        "created_at_aws",
        "updated_at_aws",
    ):
        seen = newest.get(d["service_id"])
        key = (d["created_at_aws"] or epoch, d["id"])
        if seen is None or key > (seen["created_at_aws"] or epoch, seen["id"]):
            newest[d["service_id"]] = d
    for svc in services:
        d = newest.get(svc["id"], {})
        svc["dep_id"] = d.get("deployment_id")
        svc["dep_rollout"] = d.get("rollout_state")
        svc["dep_reason"] = d.get("rollout_state_reason")
        svc["dep_created"] = d.get("created_at_aws")
        svc["dep_updated"] = d.get("updated_at_aws")


# --- service and sync classification ---------------------------------------
def service_state(svc: dict[str, Any], now: datetime) -> str:
    """healthy (steady: running = desired, nothing pending, no rollout), degraded, failing."""
    if svc["status"] != "ACTIVE":
        return "inactive"
    if svc["dep_rollout"] == "FAILED":
        return "failing"
    if svc["desired_count"] > 0 and svc["running_count"] == 0:
        return "failing"
    if (
        svc["running_count"] < svc["desired_count"]
        or svc["pending_count"] > 0
        or svc["dep_rollout"] == "IN_PROGRESS"
    ):
        return "degraded"
    return "healthy"


def _last_success(cluster: Cluster, account_ok: dict[int, datetime | None]) -> datetime | None:
    candidates = [getattr(cluster, "last_ok_run", None)]
    if cluster.last_sync_ok:
        candidates.append(cluster.last_sync_at)
    found = [c for c in candidates if c is not None]
    if found:
        return max(found)
    return account_ok.get(cluster.account_id)


def _waiting_instance_ids(snapshot: FleetSnapshot) -> set[int]:
    """Instances in the registration waiting room (filled by an extension)."""
    return set(snapshot.extra.get("waiting_instance_ids", set()))


def dashboard_summary(*, snapshot: FleetSnapshot | None = None) -> FleetSummary:
    snap = snapshot or fleet_snapshot()
    ensure_extensions_loaded(snap)  # the waiting room comes from an extension
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
            tasks_running=c.running_tasks_count,
            last_success_at=last_ok,
            sync_age_seconds=age,
            stale=last_ok is None or (now - last_ok) > stale_sync_after(),
            sync_error="" if c.last_sync_ok is not False else (c.last_sync_error or "failed"),
        )
    for svc in snap.services:
        row = rows.get(svc["cluster_id"])
        if row is None:
            continue
        state = service_state(svc, now)
        if state == "healthy":
            row.services_healthy += 1
        elif state == "degraded":
            row.services_degraded += 1
        elif state == "failing":
            row.services_failing += 1
    waiting = _waiting_instance_ids(snap)
    for inst in snap.instances:
        row = rows.get(inst["cluster_id"])
        if row is None:
            continue
        if inst["id"] in waiting:
            row.instances_waiting += 1
        elif not inst["agent_connected"] and inst["status"] in ("ACTIVE", "DRAINING"):
            row.instances_disconnected += 1
        elif inst["status"] == "DRAINING":
            row.instances_draining += 1
        elif inst["status"] == "ACTIVE":
            row.instances_active += 1
    groups: dict[tuple[str, str], list[ClusterSummary]] = defaultdict(list)
    for row in rows.values():
        groups[(row.account_name, row.region)].append(row)
    totals = ClusterSummary(id=0, arn="", name="All clusters", region="", account_name="")
    for row in rows.values():
        for attr in (
            "services_healthy",
            "services_degraded",
            "services_failing",
            "instances_active",
            "instances_draining",
            "instances_disconnected",
            "instances_waiting",
            "tasks_running",
        ):
            setattr(totals, attr, getattr(totals, attr) + getattr(row, attr))
    ages = [r.sync_age_seconds for r in rows.values() if r.sync_age_seconds is not None]
    totals.sync_age_seconds = max(ages) if ages else None
    totals.stale = any(r.stale for r in rows.values())
    return FleetSummary(
        groups=[SummaryGroup(a, r, cl) for (a, r), cl in groups.items()],
        totals=totals,
        accounts_failing=[a.name for a in snap.accounts if a.last_sync_status == "failed"],
        generated_at=now,
    )


# --- attention rules ---------------------------------------------------------
Rule = Callable[[FleetSnapshot], Iterable[AttentionItem]]


class ClusterFields(TypedDict, total=False):
    cluster_arn: str
    cluster_name: str
    region: str


class Links(TypedDict):
    url: str
    timeline_url: str


def _cluster_fields(snap: FleetSnapshot, cluster_id: int | None) -> ClusterFields:
    c = snap.cluster_by_id.get(cluster_id) if cluster_id else None
    if c is None:
        return {}
    return {"cluster_arn": c.arn, "cluster_name": c.name, "region": c.region}


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
                    f"IN_PROGRESS since {created:%Y-%m-%d %H:%M} UTC; "
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
                url=_url("clusters:list"),
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
                + (f"{last_ok:%Y-%m-%d %H:%M} UTC" if last_ok else "it was first seen"),
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

# Rules over models owned by other capabilities (drift findings, Docker hosts,
# registrations). Each is ``(loader, rule)``: the loader runs at most ONE query and
# stores what it needs in ``snapshot.extra``; the rule reads it. Defined below.
EXTENSION_RULES: list[tuple[Callable[[FleetSnapshot], None], Rule]] = []


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


def ensure_extensions_loaded(snap: FleetSnapshot) -> None:
    if snap.extra.get("_loaded"):
        return
    for loader, _ in EXTENSION_RULES:
        loader(snap)
    snap.extra["_loaded"] = True


def acknowledgements_attach(items: list[AttentionItem]) -> None:
    """One query: the newest acknowledgement per fingerprint. It holds while the
    item's state is the one acknowledged and the item has not re-fired since (the
    alert evaluator's ``fire_seq``, read in the same query)."""
    if not items:
        return
    wanted = {i.fingerprint for i in items}
    newest: dict[str, Acknowledgement] = {}
    current_seq = AlertState.objects.filter(fingerprint=OuterRef("fingerprint")).values("fire_seq")[
        :1
    ]
    for ack in (
        # Acknowledgements within the retention period, matched here: an IN list
        # of hundreds of fingerprints costs more to build than these rows to read.
        Acknowledgement.objects.filter(created_at__gte=timezone.now() - _ack_window())
        .annotate(current_seq=Subquery(current_seq))
        .order_by("-created_at", "-id")
    ):
        if ack.fingerprint in wanted:
            newest.setdefault(ack.fingerprint, ack)
    for item in items:
        found = newest.get(item.fingerprint)
        if found is None or found.state != item.state:
            continue
        seq = getattr(found, "current_seq", None)
        if seq is None or found.fire_seq is None or seq == found.fire_seq:
            item.acknowledgement = found


def _ack_window() -> timedelta:
    return timedelta(days=int(getattr(settings, "FLEETDECK_RETENTION_DAYS", 30)))


def acknowledgement_fire_seq(fingerprint: str) -> int:
    """The firing an acknowledgement made now belongs to: the current one, or the
    next one the evaluator will record if it has not seen this item firing yet."""
    state = AlertState.objects.filter(fingerprint=fingerprint).first()
    if state is None:
        return 1
    return state.fire_seq if state.firing else state.fire_seq + 1


@dataclass
class Dashboard:
    summary: FleetSummary
    attention: list[AttentionItem]

    @property
    def open_items(self) -> list[AttentionItem]:
        return [i for i in self.attention if not i.acknowledged]

    @property
    def counts(self) -> dict[str, int]:
        out = {ERROR: 0, WARNING: 0, INFO: 0}
        for item in self.open_items:
            out[item.severity] = out.get(item.severity, 0) + 1
        return out


def dashboard_data(*, now: datetime | None = None) -> Dashboard:
    snap = fleet_snapshot(now=now)
    ensure_extensions_loaded(snap)
    return Dashboard(
        summary=dashboard_summary(snapshot=snap), attention=needs_attention(snapshot=snap)
    )


# --- rules over other capabilities' models -------------------------------------
DOCKER_UNREACHABLE_AFTER = timedelta(minutes=2)
ACTIVATION_EXPIRY_WINDOW = timedelta(hours=24)


def _load_docker_hosts(snap: FleetSnapshot) -> None:
    from clusters.models import DockerHost

    snap.extra["docker_hosts"] = list(
        DockerHost.objects.filter(enabled=True, reachable=False)
        .exclude(last_error="", unreachable_since__isnull=True)
        .values(
            "name", "endpoint", "last_error", "unreachable_since", "last_error_at", "created_at"
        )
    )


def rule_docker_hosts(snap: FleetSnapshot) -> Iterable[AttentionItem]:
    """Docker hosts the console cannot reach (after a grace period for blips)."""
    for host in snap.extra.get("docker_hosts", []):
        since = host["unreachable_since"] or host["last_error_at"] or host["created_at"]
        if snap.now - since < DOCKER_UNREACHABLE_AFTER:
            continue
        yield AttentionItem(
            fingerprint=f"docker-host-unreachable:{host['name']}",
            severity=ERROR,
            source="docker-host",
            title=f"Docker host {host['name']} unreachable",
            detail=(host["last_error"] or host["endpoint"])[:300],
            since=since,
            state="unreachable",
            url=_detail_by_name("clusters:docker-host", host["name"]),
            timeline_url=timeline_url(host=host["name"]),
        )


def _detail_by_name(name: str, key: str | int) -> str:
    try:
        return reverse(name, args=[key])
    except NoReverseMatch:
        return ""


def _load_registrations(snap: FleetSnapshot) -> None:
    """Pending requests, waiting-room instances and activations expiring within
    24 h, as ONE union query (same columns from three tables)."""
    from django.db.models import CharField, DateTimeField, F, IntegerField, Value

    from clusters.models import Activation, InstanceAdmission, RegistrationRequest

    def cols(kind: str, at: str, label: str, extra: str, instance: Any) -> dict[str, Any]:
        return {
            "kind": Value(kind, output_field=CharField()),
            "at": F(at) if at else Value(None, output_field=DateTimeField()),
            "label": F(label),
            "extra": F(extra),
            "instance_id": instance,
        }

    fields = ("kind", "id", "cluster_id", "at", "label", "extra", "instance_id")
    no_instance = Value(None, output_field=IntegerField())
    requests = (
        RegistrationRequest.objects.filter(state=RegistrationRequest.State.PENDING)
        .annotate(
            **cols("request", "created_at", "default_instance_name", "justification", no_instance)
        )
        .values(*fields)
        .order_by()
    )
    admissions = (
        InstanceAdmission.objects.filter(state=InstanceAdmission.State.PENDING)
        .annotate(
            **cols(
                "admission",
                "first_seen_at",
                "managed_instance_id",
                "hostname",
                F("container_instance_id"),
            )
        )
        .values(*fields)
        .order_by()
    )
    activations = (
        Activation.objects.filter(
            state=Activation.State.ACTIVE,
            expires_at__gt=snap.now,
            expires_at__lte=snap.now + ACTIVATION_EXPIRY_WINDOW,
            registrations_count__lt=F("registration_limit"),
        )
        .annotate(**cols("activation", "expires_at", "activation_id", "description", no_instance))
        .values(*fields)
        .order_by()
    )
    rows = list(requests.union(admissions, activations, all=True))
    snap.extra["registrations"] = rows
    snap.extra["waiting_instance_ids"] = {
        r["instance_id"] for r in rows if r["kind"] == "admission" and r["instance_id"]
    }


def rule_registrations(snap: FleetSnapshot) -> Iterable[AttentionItem]:
    for row in snap.extra.get("registrations", []):
        cluster = _cluster_fields(snap, row["cluster_id"])
        if row["kind"] == "request":
            yield AttentionItem(
                fingerprint=f"registration-pending:{row['id']}",
                severity=INFO,
                source="registration",
                title="Registration request waiting for approval"
                + (f": {row['label']}" if row["label"] else ""),
                detail=(row["extra"] or "")[:300],
                since=row["at"],
                state="pending",
                url=_detail_by_name("clusters:registration-detail", row["id"]),
                timeline_url=timeline_url(source="registration"),
                **cluster,
            )
        elif row["kind"] == "admission":
            yield AttentionItem(
                fingerprint=f"waiting-room:{row['id']}",
                severity=WARNING,
                source="registration",
                title=f"Instance {row['label']} is waiting for approval",
                detail=f"Host {row['extra']}" if row["extra"] else "In the waiting room",
                since=row["at"],
                state="pending",
                url=_url("clusters:waiting-room"),
                timeline_url=timeline_url(source="registration"),
                **cluster,
            )
        else:
            hours = max(0, int((row["at"] - snap.now).total_seconds() // 3600))
            yield AttentionItem(
                fingerprint=f"activation-expiring:{row['id']}",
                severity=WARNING,
                source="activation",
                title=f"Activation {row['label']} expires in {hours} h",
                detail=(row["extra"] or "Unused registrations left")[:300]
                + f" · expires {row['at']:%Y-%m-%d %H:%M} UTC",
                # Sorted by when it was noticed: the expiry window opening.
                since=row["at"] - ACTIVATION_EXPIRY_WINDOW,
                state="expiring",
                url=_url("clusters:activations"),
                timeline_url=timeline_url(source="registration"),
                **cluster,
            )


# Drift kinds another rule here already reports (as "agent-disconnected" and
# "docker-host-unreachable"): not listed twice.
_DRIFT_COVERED = {"agent-disconnected", "host-unreachable"}


def _drift_model() -> Any:
    from django.apps import apps

    try:
        return apps.get_model("deployments", "DriftFinding")
    except LookupError:  # the drift capability has not landed in this build
        return None


def _load_drift(snap: FleetSnapshot) -> None:
    model = _drift_model()
    if model is None:
        snap.extra["drift"] = []
        return
    snap.extra["drift"] = list(
        model.objects.filter(resolved_at__isnull=True)
        .exclude(kind__in=_DRIFT_COVERED)
        .values(
            "id",
            "kind",
            "key",
            "severity",
            "message",
            "opened_at",
            "docker_host_name",
            "instance_arn",
            "task_arn",
            "cluster_arn",
        )
        .order_by("-opened_at")[:500]
    )


def rule_drift(snap: FleetSnapshot) -> Iterable[AttentionItem]:
    by_arn = {c.arn: c for c in snap.clusters}
    for f in snap.extra.get("drift", []):
        c = by_arn.get(f["cluster_arn"])
        subject = (
            {"host": f["docker_host_name"]}
            if f["docker_host_name"]
            else {"instance": f["instance_arn"]}
            if f["instance_arn"]
            else {"source": "drift"}
        )
        yield AttentionItem(
            fingerprint=f"drift:{f['key']}",
            severity=ERROR if f["severity"] == ERROR else WARNING,
            source="drift",
            title=f["message"][:200],
            detail=f["kind"].replace("-", " "),
            since=f["opened_at"],
            state=str(f["id"]),
            cluster_arn=f["cluster_arn"],
            cluster_name=c.name if c else "",
            region=c.region if c else "",
            url=_detail_by_name("clusters:docker-host", f["docker_host_name"])
            if f["docker_host_name"]
            else "",
            timeline_url=timeline_url(**subject),
        )


EXTENSION_RULES.extend(
    [
        (_load_docker_hosts, rule_docker_hosts),
        (_load_registrations, rule_registrations),
        (_load_drift, rule_drift),
    ]
)
