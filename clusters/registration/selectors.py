"""Read queries of the onboarding pages, each a fixed number of SQL queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from clusters.core.roles import ADMIN, has_role, role_holders
from clusters.models import (
    Activation,
    Cluster,
    ContainerInstance,
    DecommissionRequest,
    InstanceAdmission,
    RegistrationRequest,
)
from clusters.registration.activation_mirror import codeless_grace
from clusters.registration.activations import can_reveal
from clusters.registration.common import self_approval_allowed


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


def registration_detail(pk: int) -> RegistrationRequest | None:
    return (
        RegistrationRequest.objects.select_related(
            "cluster", "requested_by", "decided_by", "activation"
        )
        .filter(pk=pk)
        .first()
    )


@dataclass(frozen=True)
class ApprovalOutlook:
    """Who can approve a request ``requester`` sends (or sent), as ``viewer`` sees it.

    The rule that makes it matter: nobody approves their own request (four-eyes)
    unless FLEETDECK_ALLOW_SELF_APPROVAL; so when the requester is the only active
    admin, nobody can approve it until a second admin exists."""

    admins: tuple[str, ...]  # usernames of the active admins
    approvers: tuple[str, ...]  # those of them who may approve this requester's request
    requester_is_only_admin: bool
    viewer_is_requester: bool
    self_approval: bool

    @property
    def stuck(self) -> bool:
        return not self.approvers


def approval_outlook(*, requester: Any, viewer: Any) -> ApprovalOutlook:
    """One query: the active admins."""
    admins = list(role_holders(ADMIN).values_list("pk", "username"))
    self_ok = self_approval_allowed()
    return ApprovalOutlook(
        admins=tuple(name for _, name in admins),
        approvers=tuple(name for pk, name in admins if self_ok or pk != requester.pk),
        requester_is_only_admin=[pk for pk, _ in admins] == [requester.pk],
        viewer_is_requester=viewer.pk == requester.pk,
        self_approval=self_ok,
    )


def registration_page(reg: RegistrationRequest, user: Any) -> dict[str, Any]:
    """What the request page shows ``user`` about ``reg`` and what they may do."""
    activation = getattr(reg, "activation", None)
    is_admin = has_role(user, ADMIN)
    return {
        "reg": reg,
        "activation": activation,
        "can_reveal": activation is not None and can_reveal(user, activation),
        "admissions": list(activation.admissions.all()) if activation is not None else [],
        "can_decide": is_admin and (reg.requested_by_id != user.pk or self_approval_allowed()),
        "can_retry": reg.is_retryable and (is_admin or reg.requested_by_id == user.pk),
        "self_approval": self_approval_allowed(),
        "outlook": (
            approval_outlook(requester=reg.requested_by, viewer=user)
            if reg.state == RegistrationRequest.State.PENDING and reg.requested_by is not None
            else None
        ),
        "timeline_q": activation.activation_id if activation else f"request #{reg.pk}",
        "now": timezone.now(),
        # An activation AWS created whose code is not stored (yet): when it is replaced
        # if its create call never answers.
        "code_lost_replace_at": (
            activation.created_at + codeless_grace()
            if activation is not None and not activation.encrypted_code
            else None
        ),
        "title": f"Registration request #{reg.pk}",
    }


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
    # In-flight rows (admitting, rejecting) stay in the waiting list, showing progress.
    waiting = (InstanceAdmission.State.PENDING, *InstanceAdmission.IN_FLIGHT)
    return {
        "pending": [r for r in rows if r.state in waiting],
        "decided": [r for r in rows if r.state not in waiting][:50],
    }


def admission_progress(pk: int) -> InstanceAdmission | None:
    return InstanceAdmission.objects.select_related("cluster").filter(pk=pk).first()


def decommission_progress(pk: int) -> DecommissionRequest | None:
    return (
        DecommissionRequest.objects.select_related("container_instance__cluster")
        .filter(pk=pk)
        .first()
    )


def admission_outcome(w: InstanceAdmission) -> tuple[str, str] | None:
    """(flash level, message) once an admit/reject has finished; None while in flight."""
    if w.is_in_flight:
        return None
    outcomes: dict[str, tuple[str, str]] = {
        InstanceAdmission.State.ADMITTED: ("success", f"{w.managed_instance_id} admitted: ACTIVE."),
        InstanceAdmission.State.REJECTED: (
            "success",
            f"{w.managed_instance_id} rejected and deregistered.",
        ),
    }
    failed = ("error", w.error_message or f"{w.managed_instance_id} is {w.state}.")
    return outcomes.get(w.state, failed)


def decommission_outcome(d: DecommissionRequest) -> tuple[str, str] | None:
    if d.is_in_flight:
        return None
    if d.state == DecommissionRequest.State.FAILED:
        return ("error", f"Decommission failed: {d.error_message}")
    return ("success", f"{d.container_instance} drained and deregistered.")


def decommission_review(pk: int) -> DecommissionRequest | None:
    return (
        DecommissionRequest.objects.select_related("container_instance__cluster", "requested_by")
        .filter(pk=pk)
        .first()
    )


def decommission_candidates() -> list[ContainerInstance]:
    """External instances that can still be decommissioned."""
    return list(
        ContainerInstance.objects.filter(is_external=True)
        .exclude(Q(status="INACTIVE") | Q(gone_at__isnull=False))
        .select_related("cluster")[:200]
    )


def instance_tasks(instance: ContainerInstance) -> list[Any]:
    """The live tasks on an instance (what a decommission stops)."""
    # Tasks live in deployments (which clusters may not import): reach them through
    # the reverse relation Task.container_instance (related_name="tasks").
    return list(
        instance.tasks.filter(gone_at__isnull=True)  # type: ignore[attr-defined]
        .exclude(last_status="STOPPED")
        .order_by("group", "arn")[:100]
    )


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
