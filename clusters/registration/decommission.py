"""Decommissioning an admitted external instance: an operator asks (with a
reason), another person confirms (four-eyes rule unless
``FLEETDECK_ALLOW_SELF_APPROVAL``), and the instance is drained, then
deregistered from ECS and SSM by a worker (the confirming request only moves the
row to DECOMMISSIONING and queues it). A failure is kept on the request so it can be
confirmed again.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from clusters.aws import ecs_instances
from clusters.aws.errors import AwsPermanentError
from clusters.core.jobs import job_enqueue
from clusters.core.roles import ADMIN, OPERATOR, has_role
from clusters.models import ContainerInstance, DecommissionRequest, EventSeverity
from clusters.registration.common import (
    RegistrationError,
    _deregister_everywhere,
    _record,
    _require,
    _system_event,
    _user_label,
    self_approval_allowed,
)


def decommission_request(
    *,
    actor: Any,
    container_instance: ContainerInstance,
    reason: str,
    request: HttpRequest | None = None,
) -> DecommissionRequest:
    _require(actor, OPERATOR, "Requesting a decommission")
    if not container_instance.is_external:
        raise RegistrationError("Only external (mi-) instances are decommissioned here.")
    if container_instance.status == "INACTIVE":
        raise RegistrationError("This instance is already deregistered.")
    if not reason.strip():
        raise RegistrationError("Say why the instance should go.")
    try:
        with transaction.atomic():
            decom = DecommissionRequest.objects.create(
                container_instance=container_instance, requested_by=actor, reason=reason.strip()
            )
    except IntegrityError:
        raise RegistrationError("A decommission of this instance is already waiting.") from None
    cluster = container_instance.cluster
    _record(
        actor=actor,
        action="decommission.request",
        message=(
            f"{_user_label(actor)} asked to decommission {container_instance.ec2_instance_id} "
            f"from {cluster.name}: {reason.strip()}"
        ),
        request=request,
        object_type="container_instance",
        object_id=container_instance.arn,
        cluster_arn=cluster.arn,
        instance_arn=container_instance.arn,
        region=cluster.region,
        details={"decommission": decom.pk},
    )
    return decom


DECOMMISSION_TASK = "clusters.registration.tasks.decommission"


def _confirmable(*, actor: Any, decommission_pk: int) -> DecommissionRequest:
    decom = DecommissionRequest.objects.select_related("container_instance__cluster").get(
        pk=decommission_pk
    )
    if decom.state not in (
        DecommissionRequest.State.REQUESTED,
        DecommissionRequest.State.FAILED,
    ):
        raise RegistrationError(f"This decommission is {decom.state}.")
    if decom.requested_by_id == actor.pk and not self_approval_allowed():
        raise PermissionDenied("Nobody confirms their own decommission (four-eyes rule).")
    return decom


def decommission_confirm(
    *, actor: Any, decommission_pk: int, request: HttpRequest | None = None
) -> DecommissionRequest:
    """Accept an admin's confirmation: DECOMMISSIONING now (compare-and-set), and
    a worker drains and deregisters the instance (``decommission_run``)."""
    _require(actor, ADMIN, "Confirming a decommission")
    with transaction.atomic():
        decom = _confirmable(actor=actor, decommission_pk=decommission_pk)
        moved = DecommissionRequest.objects.filter(pk=decom.pk, state=decom.state).update(
            state=DecommissionRequest.State.DECOMMISSIONING,
            error_message="",
            confirmed_by=actor,
            confirmed_at=timezone.now(),
        )
        if not moved:  # another admin confirmed (or cancelled) in between
            raise RegistrationError("This decommission changed meanwhile; reload the page.")
        decom.refresh_from_db()
        ci = decom.container_instance
        _record(
            actor=actor,
            action="decommission.confirm",
            message=f"{_user_label(actor)} confirmed decommissioning {ci.ec2_instance_id} "
            f"from {ci.cluster.name}: draining and deregistering",
            request=request,
            object_type="container_instance",
            object_id=ci.arn,
            cluster_arn=ci.cluster.arn,
            instance_arn=ci.arn,
            region=ci.cluster.region,
            details={"decommission": decom.pk},
        )
        job_enqueue(DECOMMISSION_TASK, decom.pk)
    return decom


def decommission_run(*, decommission_pk: int) -> DecommissionRequest | None:
    """The worker's half: drain, then deregister from ECS (force: its tasks stop and
    services replace them elsewhere) and SSM, outside any transaction. Idempotent;
    a request no longer DECOMMISSIONING is left alone. AwsTransientError is raised
    for the task to retry; a permanent error marks the request FAILED."""
    decom = (
        DecommissionRequest.objects.select_related(
            "container_instance__cluster__account", "confirmed_by"
        )
        .filter(pk=decommission_pk, state=DecommissionRequest.State.DECOMMISSIONING)
        .first()
    )
    if decom is None:
        return None
    ci = decom.container_instance
    cluster = ci.cluster
    try:
        ecs_instances.set_container_instance_state(
            account=cluster.account,
            region=cluster.region,
            cluster_arn=cluster.arn,
            container_instance_arn=ci.arn,
            status="DRAINING",
        )
        _deregister_everywhere(
            cluster=cluster, container_instance_arn=ci.arn, mi_id=ci.ec2_instance_id
        )
    except AwsPermanentError as exc:
        decommission_failed(decommission_pk=decom.pk, error=f"{exc.code}: {exc.message}")
        return decom
    _finish(decom, DecommissionRequest.State.DONE, "")
    return decom


def decommission_failed(*, decommission_pk: int, error: str) -> None:
    """A decommission whose AWS calls failed: FAILED with the error, so it can be
    confirmed again."""
    decom = (
        DecommissionRequest.objects.select_related("container_instance__cluster", "confirmed_by")
        .filter(pk=decommission_pk, state=DecommissionRequest.State.DECOMMISSIONING)
        .first()
    )
    if decom is not None:
        _finish(decom, DecommissionRequest.State.FAILED, error)


def _finish(decom: DecommissionRequest, state: str, error: str) -> None:
    done = DecommissionRequest.objects.filter(
        pk=decom.pk, state=DecommissionRequest.State.DECOMMISSIONING
    ).update(state=state, error_message=error)
    if not done:
        return  # another run recorded the outcome
    ci = decom.container_instance
    ok = state == DecommissionRequest.State.DONE
    _system_event(
        action="decommission.done" if ok else "decommission.failed",
        message=(
            f"{ci.ec2_instance_id} drained and deregistered from {ci.cluster.name}"
            if ok
            else f"Decommissioning {ci.ec2_instance_id} failed: {error}"
        ),
        key=f"{decom.pk}|{decom.confirmed_at}",
        actor=decom.confirmed_by,
        severity=EventSeverity.INFO if ok else EventSeverity.ERROR,
        cluster_arn=ci.cluster.arn,
        instance_arn=ci.arn,
        region=ci.cluster.region,
        details={"decommission": decom.pk},
    )


def decommission_cancel(
    *, actor: Any, decommission_pk: int, request: HttpRequest | None = None
) -> DecommissionRequest:
    with transaction.atomic():
        decom = (
            DecommissionRequest.objects.select_for_update()
            .select_related("container_instance__cluster")
            .get(pk=decommission_pk)
        )
        if not (has_role(actor, ADMIN) or decom.requested_by_id == actor.pk):
            raise PermissionDenied("Only the requester or an admin can cancel.")
        if decom.state != DecommissionRequest.State.REQUESTED:
            raise RegistrationError(f"This decommission is {decom.state}.")
        decom.state = DecommissionRequest.State.CANCELLED
        decom.save(update_fields=["state"])
        ci = decom.container_instance
        _record(
            actor=actor,
            action="decommission.cancel",
            message=f"{_user_label(actor)} cancelled decommissioning {ci.ec2_instance_id}",
            request=request,
            object_type="container_instance",
            object_id=ci.arn,
            cluster_arn=ci.cluster.arn,
            instance_arn=ci.arn,
            region=ci.cluster.region,
        )
    return decom
