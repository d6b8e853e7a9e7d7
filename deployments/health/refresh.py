"""Compute health for a scope and store it: only rows whose verdict changed are
written, and a subject whose own state changed gets one timeline entry, with the
state's severity (so the timeline and the dashboard say the same thing)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from clusters.core.timeline import NewEvent, dedupe_key, events_record
from clusters.health import RANK, SEVERITY, HealthState, Reason, own_reasons, worst
from clusters.models import AwsAccount, Cluster, ContainerInstance, EventSource
from deployments.health.facts import Facts, facts_load
from deployments.health.infrastructure import (
    account_verdict,
    cluster_own_reasons,
    cluster_retired,
    cluster_verdict,
    host_verdict,
    inherited,
    instance_verdict,
    rollup,
)
from deployments.health.services import Verdict, service_verdict
from deployments.models import Service

# When the whole fleet was last evaluated (set by the beat task; read by /metrics).
FLEET_EVALUATED_KEY = "fleetdeck:health:fleet-evaluated-at"
HEALTH_FIELDS = ["health_state", "health_reasons", "health_since", "health_updated_at"]


@dataclass
class HealthWriter:
    now: datetime
    changed: dict[Any, list[Any]] = field(default_factory=lambda: defaultdict(list))
    # Per (model, pk): the health_updated_at this writer read, and its timeline entry.
    read_at: dict[tuple[Any, int], datetime | None] = field(default_factory=dict)
    events: dict[tuple[Any, int], NewEvent] = field(default_factory=dict)
    evaluated: int = 0

    def add(self, obj: Any, verdict: Verdict, subject: str, label: str, **where: Any) -> None:
        self.evaluated += 1
        reasons = _carry_since(verdict.reasons, obj.health_reasons or [], self.now)
        reasons.sort(key=lambda r: -RANK.get(r["state"], 0))  # the worst reason first
        if obj.health_updated_at and (obj.health_state, obj.health_reasons) == (
            verdict.state,
            reasons,
        ):
            return
        key = (type(obj), obj.pk)
        self.read_at[key] = obj.health_updated_at
        event = _transition(obj, verdict.state, reasons, subject, label, where)
        if event is not None:
            self.events[key] = event
        if obj.health_state != verdict.state or obj.health_since is None:
            obj.health_since = _state_since(verdict.state, reasons, self.now)
        obj.health_state, obj.health_reasons = verdict.state, reasons
        obj.health_updated_at = self.now
        self.changed[type(obj)].append(obj)

    def save(self) -> int:
        """Write the changed rows, except those another refresh (a sync's, while this
        one is the 30 s fleet's, or the reverse) wrote since this one read them: its
        verdict is newer, and writing ours would bring back an older state and a
        second timeline entry for the same change."""
        written = 0
        with transaction.atomic():
            # One order of tables (and rows, by pk) for every writer: two refreshes
            # never wait on each other in a cycle.
            for model, rows in sorted(self.changed.items(), key=lambda kv: kv[0].__name__):
                fresh = self._unchanged_since_read(model, rows)
                model.objects.bulk_update(fresh, HEALTH_FIELDS, batch_size=100)
                written += len(fresh)
                kept = {obj.pk for obj in fresh}
                for obj in rows:
                    if obj.pk not in kept:
                        self.events.pop((model, obj.pk), None)
            events_record(list(self.events.values()))
        return written

    def _unchanged_since_read(self, model: Any, rows: list[Any]) -> list[Any]:
        """The rows whose stored verdict is still the one read (locked until commit)."""
        stored = dict(
            model.objects.select_for_update()
            .filter(pk__in=[r.pk for r in rows])
            .order_by("pk")
            .values_list("pk", "health_updated_at")
        )
        return [r for r in rows if r.pk in stored and stored[r.pk] == self.read_at[(model, r.pk)]]


def _carry_since(reasons: list[Reason], before: list[Reason], now: datetime) -> list[Reason]:
    """A reason AWS gives no start time for started when it was first seen: keep that."""
    seen = {r["code"]: r.get("since") for r in before}
    return [{**r, "since": r["since"] or seen.get(r["code"]) or now.isoformat()} for r in reasons]


def _state_since(state: str, reasons: list[Reason], now: datetime) -> datetime:
    starts = [r["since"] for r in reasons if r["state"] == state and r["since"]]
    return datetime.fromisoformat(min(starts)) if starts else now


def _own_state(state: str, reasons: list[Reason]) -> str:
    if state == HealthState.INACTIVE:
        return state
    return worst(r["state"] for r in own_reasons(reasons))


def _transition(
    obj: Any, state: str, reasons: list[Reason], subject: str, label: str, where: dict[str, Any]
) -> NewEvent | None:
    """The timeline entry for a change of the subject's own state (not its
    children's, which have their own), or None."""
    if obj.health_updated_at is None:
        return None  # first evaluation: nothing changed, it was never known
    was, now_state = _own_state(obj.health_state, obj.health_reasons), _own_state(state, reasons)
    if was == now_state:
        return None
    mine = own_reasons(reasons)
    if now_state == HealthState.HEALTHY:
        message = f"{label} is healthy again (was {was})"
    else:
        message = f"{label} is {now_state}" + "".join(
            f"{': ' if i == 0 else '; '}{r['message']}" for i, r in enumerate(mine)
        )
    return NewEvent(
        source=EventSource.HEALTH,
        severity=SEVERITY[now_state],
        message=message[:2000],
        dedupe_key=dedupe_key("health", subject, obj.health_updated_at.isoformat(), now_state),
        details={"subject": subject, "state": now_state, "was": was, "reasons": mine},
        **where,
    )


def health_refresh(
    *,
    cluster_ids: list[int] | None = None,
    host_ids: list[int] | None = None,
    account_ids: list[int] | None = None,
    now: datetime | None = None,
) -> int:
    """Evaluate the subjects in scope (None: all of that kind) and store what
    changed. Returns how many rows were written."""
    now = now or timezone.now()
    facts = facts_load(now=now, cluster_ids=cluster_ids, host_ids=host_ids)
    writer = HealthWriter(now)
    services, instances = defaultdict(list), defaultdict(list)
    for svc in facts.services:
        services[svc.cluster_id].append(svc)
    for inst in facts.instances:
        instances[inst.cluster_id].append(inst)
    for cluster in facts.clusters:
        _cluster_evaluate(cluster, facts, writer, services[cluster.pk], instances[cluster.pk])
    for host in facts.hosts:
        writer.add(
            host,
            host_verdict(host, facts),
            f"host:{host.pk}",
            f"Docker host {host.name}",
            docker_host=host.name,
        )
    written = writer.save()
    accounts = (
        None
        if cluster_ids is None and account_ids is None
        else ({c.account_id for c in facts.clusters} | set(account_ids or []))
    )
    return written + _accounts_evaluate(accounts, now)


def _cluster_evaluate(
    cluster: Cluster,
    facts: Facts,
    writer: HealthWriter,
    cluster_services: list[Service],
    cluster_instances: list[ContainerInstance],
) -> None:
    own = cluster_own_reasons(cluster, facts)
    via = inherited(own, f"cluster:{cluster.pk}")
    where = {"account": cluster.account.name, "region": cluster.region, "cluster_arn": cluster.arn}
    gone = cluster_retired(cluster)
    services, instances = [], []
    for svc in cluster_services:
        verdict = Verdict(HealthState.INACTIVE) if gone else service_verdict(svc, facts, via)
        writer.add(
            svc, verdict, f"service:{svc.pk}", f"Service {svc.name}", service_arn=svc.arn, **where
        )
        services.append((f"service:{svc.pk}", svc.name, verdict.state))
    for inst in cluster_instances:
        verdict = Verdict(HealthState.INACTIVE) if gone else instance_verdict(inst, facts, via)
        writer.add(
            inst, verdict, f"instance:{inst.pk}", f"Instance {inst}", instance_arn=inst.arn, **where
        )
        instances.append((f"instance:{inst.pk}", str(inst), verdict.state))
    children = rollup("services", services) + rollup("instances", instances)
    writer.add(
        cluster,
        cluster_verdict(cluster, own, children),
        f"cluster:{cluster.pk}",
        f"Cluster {cluster.name}",
        **where,
    )


def _accounts_evaluate(account_ids: set[int] | None, now: datetime) -> int:
    """Accounts roll up every live cluster of theirs, as stored (in or out of scope)."""
    accounts = AwsAccount.objects.all()
    if account_ids is not None:
        accounts = accounts.filter(pk__in=account_ids)
    clusters: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    rows = Cluster.objects.filter(account__in=accounts, gone_at__isnull=True).values_list(
        "pk", "account_id", "name", "region", "health_state"
    )
    for pk, account_id, name, region, state in rows:
        clusters[account_id].append((f"cluster:{pk}", f"{name} ({region})", state))
    writer = HealthWriter(now)
    for account in accounts:
        verdict = account_verdict(account, clusters.get(account.pk, []))
        writer.add(
            account,
            verdict,
            f"account:{account.pk}",
            f"Account {account.name}",
            account=account.name,
        )
    return writer.save()
