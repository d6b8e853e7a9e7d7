"""The core attention rule (every subject the health model says is not healthy,
one row each) and ``needs_attention``, which runs it and the extension rules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypedDict

from clusters.health import RANK, SEVERITY, own_reasons
from console.dashboard.acknowledgements import acknowledgements_attach
from console.dashboard.extension_rules import EXTENSION_RULES, ensure_extensions_loaded
from console.dashboard.links import _detail_by_name, _url, detail_url, timeline_url
from console.dashboard.snapshot import (
    AttentionItem,
    FleetSnapshot,
    Rule,
    _cluster_fields,
    fleet_snapshot,
)
from deployments.diagnosis import services_diagnose
from deployments.models import Service


class Links(TypedDict):
    url: str
    timeline_url: str


# Detail pages per subject kind (hosts are linked by name, accounts to the list).
_DETAIL = {
    "service": "deployments:service",
    "instance": "deployments:instance",
    "cluster": "deployments:cluster",
}
_KIND_LABEL = {
    "service": "Service",
    "instance": "Instance",
    "cluster": "Cluster",
    "host": "Docker host",
    "account": "Account",
}


def rule_health(snap: FleetSnapshot) -> Iterable[AttentionItem]:
    """One item per subject whose stored health is not healthy, with all of its own
    reasons. A subject whose reasons are only its children's (a cluster with a
    failing service) or its parent's (a service in a stale cluster) has no row:
    the child, or the parent, has it."""
    for row in snap.unhealthy:
        own = own_reasons(row["health_reasons"] or [])
        if not own:
            continue
        state, kind = row["health_state"], row["kind"]
        codes = ",".join(sorted({r["code"] for r in own}))
        yield AttentionItem(
            fingerprint=f"health:{kind}:{row['arn'] or row['name']}",
            severity=SEVERITY[state],
            source=kind,
            title=f"{_KIND_LABEL[kind]} {row['name']} is {state}",
            detail="; ".join(r["message"] for r in own),
            since=row["health_since"] or snap.now,
            # An acknowledgement holds until the state or the set of reasons changes.
            state=f"{state}:{codes}",
            subject=f"{kind}:{row['id']}",
            health=state,
            reasons=own,
            **_links(kind, row),
            **_cluster_fields(snap, row["cluster_id"]),
        )


def _links(kind: str, row: dict[str, Any]) -> Links:
    if kind == "host":
        return {
            "url": _detail_by_name("clusters:docker-host", row["name"]),
            "timeline_url": timeline_url(host=row["name"]),
        }
    if kind == "account":
        return {"url": _url("deployments:clusters"), "timeline_url": timeline_url(source="sync")}
    return {
        "url": detail_url(_DETAIL[kind], row["id"]),
        "timeline_url": timeline_url(**{kind: row["arn"]}),
    }


CORE_RULES: list[Rule] = [rule_health]


def why_attach(items: list[AttentionItem]) -> None:
    """A short "why" on each service row, from the same diagnosis as the service
    page (deployments.diagnosis): two queries for any number of rows."""
    ids = {int(i.subject.split(":", 1)[1]): i for i in items if i.subject.startswith("service:")}
    if not ids:
        return
    services = Service.objects.filter(pk__in=ids)
    for pk, found in services_diagnose(services).items():
        item = ids[pk]
        # A placement summary is the cannot-place reason's own words: say the title.
        said = {r.get("message") for r in item.reasons}
        item.why_title = found.title
        item.why = found.title if found.summary in said else found.summary


def needs_attention(
    *, snapshot: FleetSnapshot | None = None, why: bool = True
) -> list[AttentionItem]:
    """Every item that needs attention: unacknowledged first, then by severity, then
    newest first. Acknowledged items sink to the bottom until their state changes.
    ``why=False`` leaves out the diagnoses (their queries), for counts only (/metrics)."""
    snap = snapshot or fleet_snapshot()
    ensure_extensions_loaded(snap)
    items: list[AttentionItem] = []
    for rule in CORE_RULES:
        items.extend(rule(snap))
    for _, rule in EXTENSION_RULES:
        items.extend(rule(snap))
    acknowledgements_attach(items)
    if why:
        why_attach(items)
    items.sort(
        key=lambda i: (
            i.acknowledged,
            -i.severity_rank,
            -RANK.get(i.health, 0),
            -i.since.timestamp(),
        )
    )
    return items
