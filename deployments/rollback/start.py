"""Asking for a rollback: which revision "the last one that completed" is, how the
rollback reaches AWS (the method seam), and the request itself (reason required,
idempotent, audited). It is a ``Redeploy`` of kind ``rollback``: the redeploy
package's worker makes the AWS call, follows the rollout, recovers lost messages
and reports the end. Nothing here calls AWS.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from clusters.core.audit import audit_record
from deployments.models import (
    Deployment,
    RedeployKind,
    RollbackMethod,
    Service,
    TaskDefinition,
)
from deployments.redeploy import (
    RedeployRefused,
    RedeployResult,
    redeploy_create,
    redeploy_dispatch,
    redeploy_existing,
    service_subjects,
)

# clusters.aws has StopServiceDeployment and ``redeploy.rollout._aws_start`` calls it
# for ``RollbackMethod.STOP_DEPLOYMENT`` (``redeploy.stop``). False: a rollback of a
# deployment in flight is refused again.
STOP_DEPLOYMENT_AVAILABLE = True


class RollbackRefused(RedeployRefused):
    """The rollback was not accepted; ``code``: ``missing``, ``reason``, ``no_target``,
    ``in_flight``, ``busy``."""


def rollback_method(*, in_flight: bool) -> RollbackMethod:
    """How a rollback reaches AWS.

    With no deployment in flight: UpdateService(taskDefinition=target), a new
    deployment of the earlier revision. With a deployment IN_PROGRESS, AWS's own
    StopServiceDeployment(stopType=ROLLBACK) is the right call (it stops that
    deployment and returns to the previous completed revision). Without it
    (``STOP_DEPLOYMENT_AVAILABLE`` False) this returns UPDATE_SERVICE and
    ``service_rollback`` refuses a rollback in flight."""
    if in_flight and STOP_DEPLOYMENT_AVAILABLE:
        return RollbackMethod.STOP_DEPLOYMENT
    return RollbackMethod.UPDATE_SERVICE


@dataclass
class RollbackPlan:
    """What a rollback of ``service`` would do, for the confirm step and the command."""

    service: Service
    current: Deployment | None  # the newest deployment (what runs, or tries to)
    target: Deployment | None  # the newest COMPLETED one on another task definition
    in_flight: list[Deployment]  # live deployments whose rollout is IN_PROGRESS

    @property
    def current_task_definition(self) -> TaskDefinition | None:
        if self.current is not None and self.current.task_definition is not None:
            return self.current.task_definition
        return self.service.task_definition

    @property
    def target_task_definition(self) -> TaskDefinition | None:
        return self.target.task_definition if self.target is not None else None

    @property
    def method(self) -> RollbackMethod:
        return rollback_method(in_flight=bool(self.in_flight))

    @property
    def method_summary(self) -> str:
        """What the rollback will ask AWS, in the confirm step's and the command's words."""
        target = self.target_task_definition or "the target"
        if self.method == RollbackMethod.STOP_DEPLOYMENT:
            ids = ", ".join(d.deployment_id for d in self.in_flight)
            return (
                f"stops the in-flight deployment {ids} and rolls back to {target} "
                "(StopServiceDeployment)"
            )
        return f"starts a new deployment on {target} (UpdateService)"

    @property
    def refusal(self) -> RollbackRefused | None:
        """Why this rollback cannot start now (None: it can)."""
        name = self.service.name
        if self.target is None:
            current = self.current_task_definition
            return RollbackRefused(
                "no_target",
                f"There is nothing to roll back to: no deployment of {name} on a task "
                f"definition other than {current or 'the current one'} has completed.",
            )
        if self.in_flight and self.method != RollbackMethod.STOP_DEPLOYMENT:
            ids = ", ".join(d.deployment_id for d in self.in_flight)
            return RollbackRefused(
                "in_flight",
                f"A deployment of {name} is in flight ({ids}, IN_PROGRESS). Rolling back a "
                "deployment in flight needs StopServiceDeployment(ROLLBACK), which is switched "
                "off here; wait until it completes or fails, then roll back.",
            )
        return None


def _revision_matches(td: TaskDefinition | None, wanted: str) -> bool:
    """``--to`` accepts ``api:1``, ``1`` or the task definition's ARN."""
    if td is None:
        return False
    return wanted in (td.arn, f"{td.family}:{td.revision}", str(td.revision))


def rollback_plan(*, service: Service, to_revision: str = "") -> RollbackPlan:
    """The rollback of ``service``: to the last revision that completed, or, with
    ``to_revision``, to that revision if one of its deployments completed."""
    deployments = list(
        service.deployments.select_related("task_definition").order_by("-created_at_aws", "-id")
    )
    current = deployments[0] if deployments else None
    current_td = current.task_definition_id if current is not None else service.task_definition_id
    candidates = [
        d
        for d in deployments
        if d.rollout_state == "COMPLETED"
        and d.task_definition_id is not None
        and d.task_definition_id != current_td
    ]
    if to_revision:
        candidates = [d for d in candidates if _revision_matches(d.task_definition, to_revision)]
    return RollbackPlan(
        service=service,
        current=current,
        target=candidates[0] if candidates else None,
        in_flight=[
            d for d in deployments if d.status != "INACTIVE" and d.rollout_state == "IN_PROGRESS"
        ],
    )


def service_rollback(
    *,
    service_id: int,
    actor: Any,
    reason: str,
    request: HttpRequest | None = None,
    idempotency_key: str = "",
    to_revision: str = "",
    dispatch: bool = True,
) -> RedeployResult:
    """Ask for a rollback of a service to the last revision that completed.

    Idempotent like redeploys: the same form twice, a second tab, or a click while
    the rollback runs returns the existing one. Refused (``RollbackRefused``) with
    no reason, with nothing to roll back to, or while a forced redeploy of the
    service runs; a deployment in flight is stopped with a rollback
    (StopServiceDeployment, ``redeploy.stop``). Audited; the AWS call happens in
    the redeploy worker after the transaction commits."""
    reason = reason.strip()
    if not reason:
        raise RollbackRefused("reason", "Say why you are rolling back (it goes in the audit log).")
    service = (
        Service.objects.select_related("cluster__account", "task_definition")
        .filter(pk=service_id, gone_at__isnull=True)
        .first()
    )
    if service is None:
        raise RollbackRefused("missing", "This service is gone; there is nothing to roll back.")
    key = (idempotency_key or uuid.uuid4().hex)[:64]
    existing = redeploy_existing(service, key, RedeployKind.ROLLBACK)
    if existing is not None:
        return _existing_answer(existing)
    plan = rollback_plan(service=service, to_revision=to_revision)
    if plan.refusal is not None:
        raise plan.refusal
    user = actor if actor is not None and actor.is_authenticated else None
    fields = {
        "requested_by": user,
        "reason": reason,
        "kind": RedeployKind.ROLLBACK,
        "target_task_definition_arn": plan.target_task_definition.arn,  # type: ignore[union-attr]
        "method": plan.method,
    }
    result = redeploy_create(service, key, fields)
    if not result.created:
        return _existing_answer(result.redeploy)
    _rollback_audit(result, plan, actor=actor, request=request)
    if dispatch:
        redeploy_dispatch(redeploy_id=result.redeploy.pk)
    return result


def _existing_answer(existing: Any) -> RedeployResult:
    if not existing.is_rollback:
        raise RollbackRefused(
            "busy",
            f"A forced redeploy of {existing.service.name} is under way (#{existing.pk}); "
            "roll back once it has ended.",
        )
    return RedeployResult(redeploy=existing, created=False)


def _rollback_audit(
    result: RedeployResult, plan: RollbackPlan, *, actor: Any, request: HttpRequest | None
) -> None:
    rollback, service = result.redeploy, plan.service
    user = rollback.requested_by
    who = user.get_username() if user is not None else "system"
    current, target = plan.current_task_definition, plan.target_task_definition
    audit_record(
        actor=actor,
        action="service.rollback",
        message=f"{who} rolled back {service.name} from {current} to {target}: {rollback.reason}",
        request=request,
        object_type="service",
        object_id=str(service.pk),
        details={
            "redeploy_id": rollback.pk,
            "reason": rollback.reason,
            "from": current.arn if current is not None else "",
            "to": rollback.target_task_definition_arn,
            "target_deployment": plan.target.deployment_id if plan.target else "",
            "method": rollback.method,
        },
        **service_subjects(service),
    )
