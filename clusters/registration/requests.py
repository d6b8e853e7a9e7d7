"""Registration requests: an operator asks for an activation (how many machines,
how long, which IAM role, why), an admin approves or rejects it (four-eyes rule
unless ``FLEETDECK_ALLOW_SELF_APPROVAL``), and a failed activation is retried.
Approval only queues the AWS call (``activations.activation_create`` in a task),
so a person's click never waits on SSM.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from clusters.core.roles import ADMIN, OPERATOR, has_role
from clusters.models import Cluster, RegistrationRequest
from clusters.registration.common import (
    RegistrationError,
    _enqueue_activation_create,
    _locked_request,
    _record,
    _require,
    _user_label,
    self_approval_allowed,
)

LIMIT_MIN, LIMIT_MAX = 1, 1000
EXPIRY_MIN_HOURS, EXPIRY_MAX_HOURS = 1, 30 * 24


@dataclass(frozen=True)
class RequestSpec:
    cluster: Cluster
    registration_limit: int
    expiry_hours: int
    iam_role: str
    default_instance_name: str
    tags: dict[str, str]
    gpu: bool
    docker_install_source: str
    justification: str


def registration_request_create(
    *,
    actor: Any,
    spec: RequestSpec,
    idempotency_token: uuid.UUID,
    request: HttpRequest | None = None,
) -> tuple[RegistrationRequest, bool]:
    """Create a request; the same token twice returns the first request (False)."""
    _require(actor, OPERATOR, "Requesting a registration")
    existing = RegistrationRequest.objects.filter(idempotency_token=idempotency_token).first()
    if existing is not None:
        if existing.requested_by_id != actor.pk:
            raise RegistrationError("This form was already used; open a new one.")
        return existing, False
    if not LIMIT_MIN <= spec.registration_limit <= LIMIT_MAX:
        raise RegistrationError("The number of machines must be between 1 and 1000.")
    if not EXPIRY_MIN_HOURS <= spec.expiry_hours <= EXPIRY_MAX_HOURS:
        raise RegistrationError("The expiry must be between 1 hour and 30 days.")
    if not spec.justification.strip():
        raise RegistrationError("A justification is required.")
    try:
        with transaction.atomic():
            reg = RegistrationRequest.objects.create(
                cluster=spec.cluster,
                requested_by=actor,
                idempotency_token=idempotency_token,
                registration_limit=spec.registration_limit,
                expiry_hours=spec.expiry_hours,
                iam_role=spec.iam_role,
                default_instance_name=spec.default_instance_name,
                tags=spec.tags,
                gpu=spec.gpu,
                docker_install_source=spec.docker_install_source,
                justification=spec.justification.strip(),
            )
            _record(
                actor=actor,
                action="registration.request",
                message=(
                    f"{_user_label(actor)} requested registration request #{reg.pk}: "
                    f"{reg.registration_limit} machine(s) for cluster {spec.cluster.name}, "
                    f"valid {reg.expiry_hours} h"
                ),
                request=request,
                object_type="registration_request",
                object_id=reg.pk,
                cluster_arn=spec.cluster.arn,
                region=spec.cluster.region,
                details={"registration_request": reg.pk, "justification": reg.justification},
            )
    except IntegrityError:
        # The same token raced in from a second submit.
        return RegistrationRequest.objects.get(idempotency_token=idempotency_token), False
    return reg, True


def registration_approve(
    *, actor: Any, registration_request_id: int, request: HttpRequest | None = None
) -> RegistrationRequest:
    _require(actor, ADMIN, "Approving a registration")
    with transaction.atomic():
        reg = _locked_request(registration_request_id)
        if reg.state != RegistrationRequest.State.PENDING:
            raise RegistrationError(f"Request #{reg.pk} is {reg.get_state_display().lower()}.")
        if reg.requested_by_id == actor.pk and not self_approval_allowed():
            raise PermissionDenied("Nobody approves their own request (four-eyes rule).")
        reg.state = RegistrationRequest.State.APPROVED
        reg.decided_by = actor
        reg.decided_at = timezone.now()
        reg.save(update_fields=["state", "decided_by", "decided_at"])
        _record(
            actor=actor,
            action="registration.approve",
            message=(
                f"{_user_label(actor)} approved registration request #{reg.pk} "
                f"({reg.registration_limit} machine(s) for {reg.cluster.name})"
            ),
            request=request,
            object_type="registration_request",
            object_id=reg.pk,
            cluster_arn=reg.cluster.arn,
            region=reg.cluster.region,
            details={"registration_request": reg.pk},
        )
        _enqueue_activation_create(reg.pk)
    return reg


def registration_reject(
    *,
    actor: Any,
    registration_request_id: int,
    reason: str,
    request: HttpRequest | None = None,
) -> RegistrationRequest:
    _require(actor, ADMIN, "Rejecting a registration")
    if not reason.strip():
        raise RegistrationError("A rejection needs a reason.")
    with transaction.atomic():
        reg = _locked_request(registration_request_id)
        if reg.state != RegistrationRequest.State.PENDING:
            raise RegistrationError(f"Request #{reg.pk} is {reg.get_state_display().lower()}.")
        reg.state = RegistrationRequest.State.REJECTED
        reg.decided_by = actor
        reg.decided_at = timezone.now()
        reg.rejection_reason = reason.strip()
        reg.save(update_fields=["state", "decided_by", "decided_at", "rejection_reason"])
        _record(
            actor=actor,
            action="registration.reject",
            message=f"{_user_label(actor)} rejected registration request #{reg.pk}: {reason}",
            request=request,
            object_type="registration_request",
            object_id=reg.pk,
            cluster_arn=reg.cluster.arn,
            region=reg.cluster.region,
            details={"registration_request": reg.pk, "reason": reason},
        )
    return reg


def registration_retry(
    *, actor: Any, registration_request_id: int, request: HttpRequest | None = None
) -> RegistrationRequest:
    """A failed activation goes back to approved and is tried again."""
    with transaction.atomic():
        reg = _locked_request(registration_request_id)
        if not (has_role(actor, ADMIN) or (reg.requested_by_id == actor.pk)):
            raise PermissionDenied("Only the requester or an admin can retry.")
        _require(actor, OPERATOR, "Retrying an activation")
        if reg.state != RegistrationRequest.State.FAILED:
            raise RegistrationError(f"Request #{reg.pk} is {reg.get_state_display().lower()}.")
        reg.state = RegistrationRequest.State.APPROVED
        reg.save(update_fields=["state"])
        _record(
            actor=actor,
            action="registration.retry",
            message=(
                f"{_user_label(actor)} retried the activation of registration request #{reg.pk}"
            ),
            request=request,
            object_type="registration_request",
            object_id=reg.pk,
            cluster_arn=reg.cluster.arn,
            region=reg.cluster.region,
        )
        _enqueue_activation_create(reg.pk)
    return reg


def expiry_choices() -> list[tuple[int, str]]:
    return [
        (1, "1 hour"),
        (4, "4 hours"),
        (24, "24 hours"),
        (72, "3 days"),
        (7 * 24, "7 days"),
        (30 * 24, "30 days"),
    ]


def default_expiry() -> timedelta:
    return timedelta(hours=24)
