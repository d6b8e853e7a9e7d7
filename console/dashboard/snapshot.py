"""The data the dashboard reads (``FleetSnapshot``, loaded once by
``fleet_snapshot`` in a fixed number of queries) and the data classes it produces."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict

from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from clusters.health import HealthState, is_unhealthy
from clusters.models import (
    AwsAccount,
    Cluster,
    ContainerInstance,
    DockerHost,
    EventSeverity,
    SyncRun,
)
from clusters.stream.selectors import stream_ok_at
from console.models import SEVERITY_RANK, Acknowledgement
from deployments.models import Deployment, Service

# The timeline's severities, as plain strings (they are compared and used as keys).
ERROR: str = EventSeverity.ERROR.value
WARNING: str = EventSeverity.WARNING.value
INFO: str = EventSeverity.INFO.value


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
    # Health items: the subject ("service:12"), its stored state and its own reasons.
    subject: str = ""
    health: str = ""
    reasons: list[Any] = field(default_factory=list)
    # Why (deployments.diagnosis): the diagnosis title and its one line with numbers.
    why_title: str = ""
    why: str = ""

    @property
    def alert_detail(self) -> str:
        """What an alert says: the diagnosis first, then the reasons."""
        if not self.why_title:
            return self.detail
        line = self.why if self.why and self.why != self.why_title else ""
        return f"Why: {self.why_title}{' (' + line + ')' if line else ''}\n{self.detail}"

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
    state: str = HealthState.UNKNOWN  # the cluster's stored health
    reasons: list[Any] = field(default_factory=list)
    services_healthy: int = 0
    services_degraded: int = 0
    services_failing: int = 0
    services_down: int = 0
    services_unknown: int = 0
    instances_unhealthy: int = 0
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
        return (
            self.services_healthy
            + self.services_degraded
            + self.services_failing
            + self.services_down
            + self.services_unknown
        )

    @property
    def subject(self) -> str:
        return f"cluster:{self.id}"

    @property
    def services_broken(self) -> int:
        return self.services_failing + self.services_down


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
    unhealthy: list[Any]  # subjects whose stored health is not healthy (values() dicts)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cluster_by_id(self) -> dict[int, Cluster]:
        return {c.pk: c for c in self.clusters}


def fleet_snapshot(*, now: datetime | None = None) -> FleetSnapshot:
    """Ten queries, whatever the fleet size."""
    now = now or timezone.now()
    clusters = list(
        Cluster.objects.filter(gone_at__isnull=True)
        .select_related("account")
        .annotate(last_ok_run=_newest_success(cluster=OuterRef("pk")), stream_ok_at=stream_ok_at())
        .order_by("account__name", "region", "name")
    )
    accounts = list(
        AwsAccount.objects.annotate(last_ok_run=_newest_success(account=OuterRef("pk"))).order_by(
            "name"
        )
    )
    return FleetSnapshot(
        now=now,
        clusters=clusters,
        accounts=accounts,
        services=_services(),
        instances=_instances(),
        unhealthy=_unhealthy_subjects(),
    )


def _services() -> list[Any]:
    """Live services with their newest deployment (two queries)."""
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
            "health_state",
        )
    )
    _attach_newest_deployments(services)
    return services


def _instances() -> list[Any]:
    return list(
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
            "health_state",
        )
        .order_by()
    )


# Subject kinds: (kind, model, name field, cluster field, has an ARN).
_SUBJECTS: tuple[tuple[str, Any, str, str, bool], ...] = (
    ("service", Service, "name", "cluster_id", True),
    ("instance", ContainerInstance, "ec2_instance_id", "cluster_id", True),
    ("cluster", Cluster, "name", "id", True),
    ("host", DockerHost, "name", "", False),
    ("account", AwsAccount, "name", "", False),
)


def _unhealthy_subjects() -> list[Any]:
    """One query per kind: the rows whose stored health needs a look."""
    unhealthy = [s for s in HealthState.values if is_unhealthy(s)]
    rows: list[Any] = []
    for kind, model, name, cluster, has_arn in _SUBJECTS:
        qs = model.objects.filter(health_state__in=unhealthy)
        if hasattr(model, "gone_at"):
            qs = qs.filter(gone_at__isnull=True)
        fields = {"id", name, "health_state", "health_reasons", "health_since"}
        fields |= {cluster} if cluster else set()
        fields |= {"arn"} if has_arn else set()
        for row in qs.values(*fields).order_by():
            arn = row.get("arn", "")
            label = row[name] or arn.rsplit("/", 1)[-1]
            rows.append(
                {**row, "kind": kind, "name": label, "arn": arn, "cluster_id": row.get(cluster)}
            )
    return rows


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


# --- what every attention rule shares ------------------------------------------
Rule = Callable[[FleetSnapshot], Iterable[AttentionItem]]


class ClusterFields(TypedDict, total=False):
    cluster_arn: str
    cluster_name: str
    region: str


def _cluster_fields(snap: FleetSnapshot, cluster_id: int | None) -> ClusterFields:
    c = snap.cluster_by_id.get(cluster_id) if cluster_id else None
    if c is None:
        return {}
    return {"cluster_arn": c.arn, "cluster_name": c.name, "region": c.region}
