"""Decommissioning an admitted external instance: an operator asks (with a
reason), another person confirms (four-eyes rule unless
``FLEETDECK_ALLOW_SELF_APPROVAL``), and the instance is drained, then
deregistered from ECS and SSM. A failure is kept on the request so it can be
confirmed again.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from clusters.aws import ecs_instances
from clusters.aws.errors import AwsPermanentError, AwsTransientError
from clusters.core.roles import ADMIN, OPERATOR, has_role
from clusters.models import ContainerInstance, DecommissionRequest, EventSeverity
from clusters.registration.common import (
    RegistrationError,
    _deregister_everywhere,
    _record,
    _require,
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


def decommission_confirm(
    *, actor: Any, decommission_pk: int, request: HttpRequest | None = None
) -> DecommissionRequest:
    """Drain, then deregister from ECS (force: its tasks stop and services replace
    them elsewhere) and SSM."""
    _require(actor, ADMIN, "Confirming a decommission")
    with transaction.atomic():
        decom = (
            DecommissionRequest.objects.select_for_update()
            .select_related("container_instance__cluster__account")
            .get(pk=decommission_pk)
        )
        if decom.state not in (
            DecommissionRequest.State.REQUESTED,
            DecommissionRequest.State.FAILED,
        ):
            raise RegistrationError(f"This decommission is {decom.state}.")
        if decom.requested_by_id == actor.pk and not self_approval_allowed():
            raise PermissionDenied("Nobody confirms their own decommission (four-eyes rule).")
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
        except (AwsPermanentError, AwsTransientError) as exc:
            decom.state = DecommissionRequest.State.FAILED
            decom.error_message = f"{exc.code}: {exc.message}"
        else:
            decom.state = DecommissionRequest.State.DONE
            decom.error_message = ""
        decom.confirmed_by = actor
        decom.confirmed_at = timezone.now()
        decom.save(update_fields=["state", "error_message", "confirmed_by", "confirmed_at"])
        _record(
            actor=actor,
            action="decommission.confirm",
            message=(
                f"{_user_label(actor)} decommissioned {ci.ec2_instance_id} from {cluster.name}"
                if decom.state == DecommissionRequest.State.DONE
                else f"{_user_label(actor)} confirmed decommissioning {ci.ec2_instance_id}, "
                f"which failed: {decom.error_message}"
            ),
            request=request,
            object_type="container_instance",
            object_id=ci.arn,
            severity=(
                EventSeverity.INFO
                if decom.state == DecommissionRequest.State.DONE
                else EventSeverity.ERROR
            ),
            cluster_arn=cluster.arn,
            instance_arn=ci.arn,
            region=cluster.region,
            details={"decommission": decom.pk},
        )
    return decom


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
