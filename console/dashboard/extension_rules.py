"""Attention rules over models owned by other capabilities (registration requests
and activations, drift findings), each with the loader that reads its rows into
``FleetSnapshot.extra`` in one query. Docker hosts and waiting-room instances are
health subjects: ``rules.rule_health`` lists them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from clusters.display import timestamp_text
from console.dashboard.links import _detail_by_name, _url, timeline_url
from console.dashboard.snapshot import (
    ERROR,
    INFO,
    WARNING,
    AttentionItem,
    FleetSnapshot,
    Rule,
    _cluster_fields,
)

ACTIVATION_EXPIRY_WINDOW = timedelta(hours=24)


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
            continue  # the instance's own health row ("awaiting-approval") has it
        else:
            hours = max(0, int((row["at"] - snap.now).total_seconds() // 3600))
            yield AttentionItem(
                fingerprint=f"activation-expiring:{row['id']}",
                severity=WARNING,
                source="activation",
                title=f"Activation {row['label']} expires in {hours} h",
                detail=(row["extra"] or "Unused registrations left")[:300]
                + f" · expires {timestamp_text(row['at'])}",
                # Sorted by when it was noticed: the expiry window opening.
                since=row["at"] - ACTIVATION_EXPIRY_WINDOW,
                state="expiring",
                url=_url("clusters:activations"),
                timeline_url=timeline_url(source="registration"),
                **cluster,
            )


# Drift kinds the health model already reports (the instance's and the host's own
# "agent-disconnected" and "host-unreachable" reasons, after the same grace): not
# listed twice.
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


# Each is ``(loader, rule)``: the loader runs at most ONE query and stores what it
# needs in ``snapshot.extra``; the rule reads it. ``needs_attention`` runs these
# rules after the core ones, in this order.
EXTENSION_RULES: list[tuple[Callable[[FleetSnapshot], None], Rule]] = [
    (_load_registrations, rule_registrations),
    (_load_drift, rule_drift),
]


def ensure_extensions_loaded(snap: FleetSnapshot) -> None:
    if snap.extra.get("_loaded"):
        return
    for loader, _ in EXTENSION_RULES:
        loader(snap)
    snap.extra["_loaded"] = True
