"""Admitting or rejecting an instance held in the waiting room.

The web request only decides: it moves the admission to ADMITTING or REJECTING by
compare-and-set, audits the decision and queues a worker; the worker makes the AWS
calls outside any transaction and records the outcome (a failed call goes back to
PENDING with its error, so an admin can decide again).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clusters.aws import ecs_instances
from clusters.aws.errors import AwsPermanentError
from clusters.core.jobs import job_enqueue
from clusters.core.roles import ADMIN
from clusters.models import ContainerInstance, EventSeverity, InstanceAdmission
from clusters.registration.common import (
    RegistrationError,
    _deregister_everywhere,
    _record,
    _require,
    _system_event,
    _user_label,
)

ADMIT_TASK = "clusters.registration.tasks.instance_admit"
REJECT_TASK = "clusters.registration.tasks.instance_reject"


def _decide(
    *, actor: Any, admission_pk: int, to: str, task: str, **fields: Any
) -> InstanceAdmission:
    """PENDING -> ``to`` by compare-and-set, then queue the worker on commit.

    Two admins clicking at once: one update matches, the other gets a clear error.
    """
    changed = InstanceAdmission.objects.filter(
        pk=admission_pk, state=InstanceAdmission.State.PENDING
    ).update(state=to, decided_by=actor, decided_at=timezone.now(), error_message="", **fields)
    admission = InstanceAdmission.objects.select_related("cluster").get(pk=admission_pk)
    if not changed:
        raise RegistrationError(f"{admission.managed_instance_id} is {admission.state}.")
    job_enqueue(task, admission.pk)
    return admission


def _decision_record(
    admission: InstanceAdmission, *, actor: Any, action: str, message: str, **extra: Any
) -> None:
    cluster = admission.cluster
    _record(
        actor=actor,
        action=action,
        message=message,
        object_type="container_instance",
        object_id=admission.container_instance_arn,
        cluster_arn=cluster.arn,
        instance_arn=admission.container_instance_arn,
        region=cluster.region,
        **extra,
    )


def instance_admit(
    *, actor: Any, admission_pk: int, request: HttpRequest | None = None
) -> InstanceAdmission:
    """Accept an admin's admission: ADMITTING now, ACTIVE in ECS when the worker ran."""
    _require(actor, ADMIN, "Admitting an instance")
    with transaction.atomic():
        admission = _decide(
            actor=actor,
            admission_pk=admission_pk,
            to=InstanceAdmission.State.ADMITTING,
            task=ADMIT_TASK,
        )
        _decision_record(
            admission,
            actor=actor,
            action="instance.admit",
            message=(
                f"{_user_label(actor)} admitted {admission.managed_instance_id} "
                f"({admission.hostname}) into {admission.cluster.name} (activation "
                f"{admission.activation_aws_id or '?'})"
            ),
            request=request,
            details={"activation_id": admission.activation_aws_id},
        )
    return admission


def instance_reject(
    *, actor: Any, admission_pk: int, reason: str, request: HttpRequest | None = None
) -> InstanceAdmission:
    """Accept an admin's rejection: REJECTING now, deregistered by the worker."""
    _require(actor, ADMIN, "Rejecting an instance")
    if not reason.strip():
        raise RegistrationError("Rejecting an instance needs a reason.")
    with transaction.atomic():
        admission = _decide(
            actor=actor,
            admission_pk=admission_pk,
            to=InstanceAdmission.State.REJECTING,
            task=REJECT_TASK,
            note=reason.strip(),
        )
        _decision_record(
            admission,
            actor=actor,
            action="instance.reject",
            message=(
                f"{_user_label(actor)} rejected {admission.managed_instance_id} "
                f"({admission.hostname}) from {admission.cluster.name}: to be deregistered "
                f"from ECS and SSM. Reason: {reason.strip()}"
            ),
            request=request,
            severity=EventSeverity.WARNING,
            details={"activation_id": admission.activation_aws_id, "reason": reason.strip()},
        )
    return admission


def _in_flight(admission_pk: int, state: str) -> InstanceAdmission | None:
    """The admission if it still waits for this worker step (None: gone or done)."""
    return (
        InstanceAdmission.objects.select_related("cluster", "cluster__account", "decided_by")
        .filter(pk=admission_pk, state=state)
        .first()
    )


def _outcome(admission: InstanceAdmission, *, to: str, action: str, message: str) -> bool:
    """Finish the in-flight step by compare-and-set; False if another run did."""
    done = InstanceAdmission.objects.filter(pk=admission.pk, state=admission.state).update(
        state=to, error_message=""
    )
    if done:
        _system_event(
            action=action,
            message=message,
            key=f"{admission.pk}|{admission.decided_at}",
            actor=admission.decided_by,
            cluster_arn=admission.cluster.arn,
            instance_arn=admission.container_instance_arn,
            region=admission.cluster.region,
        )
    return bool(done)


def instance_admit_run(*, admission_pk: int) -> InstanceAdmission | None:
    """The worker's half of admitting: ACTIVE + approved in ECS, outside any
    transaction. Idempotent (every call is, and a finished admission is left alone).
    Raises AwsTransientError for the task to retry; a permanent error goes back to
    PENDING with the error shown."""
    admission = _in_flight(admission_pk, InstanceAdmission.State.ADMITTING)
    if admission is None:
        return None
    cluster = admission.cluster
    where: dict[str, Any] = {
        "account": cluster.account,
        "region": cluster.region,
        "cluster_arn": cluster.arn,
        "container_instance_arn": admission.container_instance_arn,
    }
    try:
        ecs_instances.set_container_instance_state(**where, status="ACTIVE")
        ecs_instances.put_attributes(**where, attributes={ecs_instances.APPROVED_ATTRIBUTE: "true"})
        ecs_instances.delete_attributes(
            **where, attributes={ecs_instances.PENDING_ATTRIBUTE: "true"}
        )
    except AwsPermanentError as exc:
        instance_decision_failed(admission_pk=admission_pk, error=f"{exc.code}: {exc.message}")
        return None
    if _outcome(
        admission,
        to=InstanceAdmission.State.ADMITTED,
        action="instance.admitted",
        message=f"{admission.managed_instance_id} is ACTIVE in {cluster.name}: admitted",
    ):
        ContainerInstance.objects.filter(arn=admission.container_instance_arn).update(
            status="ACTIVE"
        )
    return admission


def instance_reject_run(*, admission_pk: int) -> InstanceAdmission | None:
    """The worker's half of rejecting: deregister from ECS and SSM (idempotent)."""
    admission = _in_flight(admission_pk, InstanceAdmission.State.REJECTING)
    if admission is None:
        return None
    try:
        _deregister_everywhere(
            cluster=admission.cluster,
            container_instance_arn=admission.container_instance_arn,
            mi_id=admission.managed_instance_id,
        )
    except AwsPermanentError as exc:
        instance_decision_failed(admission_pk=admission_pk, error=f"{exc.code}: {exc.message}")
        return None
    _outcome(
        admission,
        to=InstanceAdmission.State.REJECTED,
        action="instance.rejected",
        message=(
            f"{admission.managed_instance_id} deregistered from ECS and SSM "
            f"({admission.cluster.name}): rejected"
        ),
    )
    return admission


def instance_decision_failed(*, admission_pk: int, error: str) -> None:
    """An admit or reject whose AWS call failed: back to PENDING (an admin can
    decide again), the error on the row and on the timeline."""
    admission = (
        InstanceAdmission.objects.select_related("cluster", "decided_by")
        .filter(pk=admission_pk, state__in=InstanceAdmission.IN_FLIGHT)
        .first()
    )
    if admission is None:
        return
    verb = "admit" if admission.state == InstanceAdmission.State.ADMITTING else "reject"
    changed = InstanceAdmission.objects.filter(pk=admission.pk, state=admission.state).update(
        state=InstanceAdmission.State.PENDING, error_message=f"Could not {verb}: {error}"
    )
    if changed:
        _system_event(
            action=f"instance.{verb}_failed",
            message=f"Could not {verb} {admission.managed_instance_id}: {error}",
            key=f"{admission.pk}|{admission.decided_at}",
            actor=admission.decided_by,
            severity=EventSeverity.ERROR,
            cluster_arn=admission.cluster.arn,
            instance_arn=admission.container_instance_arn,
            region=admission.cluster.region,
        )
