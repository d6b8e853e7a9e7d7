"""Read queries of the onboarding pages, each a fixed number of SQL queries."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from clusters.models import (
    Activation,
    Cluster,
    DecommissionRequest,
    InstanceAdmission,
    RegistrationRequest,
)


def registration_requests(*, user: Any = None, limit: int = 100) -> list[RegistrationRequest]:
    qs = RegistrationRequest.objects.select_related(
        "cluster", "requested_by", "decided_by", "activation"
    )
    if user is not None:
        qs = qs.filter(requested_by=user)
    return list(qs[:limit])


def approval_queue() -> list[RegistrationRequest]:
    return list(
        RegistrationRequest.objects.filter(state=RegistrationRequest.State.PENDING)
        .select_related("cluster", "cluster__account", "requested_by")
        .order_by("created_at", "id")
    )


def registration_detail(pk: int) -> RegistrationRequest:
    return RegistrationRequest.objects.select_related(
        "cluster", "requested_by", "decided_by", "activation"
    ).get(pk=pk)


def activations() -> QuerySet[Activation]:
    return Activation.objects.select_related(
        "cluster", "request", "request__requested_by", "revoked_by"
    ).order_by("-created_at", "-id")


def waiting_room() -> dict[str, list[InstanceAdmission]]:
    rows = list(
        InstanceAdmission.objects.select_related(
            "cluster",
            "activation",
            "activation__request",
            "activation__request__requested_by",
            "decided_by",
            "container_instance",
        )[:200]
    )
    return {
        "pending": [r for r in rows if r.state == InstanceAdmission.State.PENDING],
        "decided": [r for r in rows if r.state != InstanceAdmission.State.PENDING][:50],
    }


def decommissions() -> list[DecommissionRequest]:
    return list(
        DecommissionRequest.objects.select_related(
            "container_instance", "container_instance__cluster", "requested_by", "confirmed_by"
        )[:100]
    )


def registration_counts() -> dict[str, int]:
    """The numbers on the tabs, in two queries."""
    req = RegistrationRequest.objects.aggregate(
        pending=Count("id", filter=Q(state=RegistrationRequest.State.PENDING))
    )
    adm = InstanceAdmission.objects.aggregate(
        waiting=Count("id", filter=Q(state=InstanceAdmission.State.PENDING)),
        flagged=Count(
            "id",
            filter=Q(state=InstanceAdmission.State.PENDING, flagged_unknown_activation=True),
        ),
    )
    return {
        "pending": req["pending"],
        "waiting": adm["waiting"],
        "flagged": adm["flagged"],
        "decommissions": DecommissionRequest.objects.filter(
            state=DecommissionRequest.State.REQUESTED
        ).count(),
    }


def hold_policies() -> list[Cluster]:
    return list(Cluster.objects.filter(gone_at__isnull=True).select_related("account"))
