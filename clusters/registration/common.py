"""What every onboarding step shares: the errors it raises, the permission check,
and the recording of a human step (one audit entry plus one timeline event with
source ``registration`` and the actor) or of a system step (a timeline event
only). Kept apart so each step's module depends on this one and on no sibling.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils import timezone

from clusters.aws import ecs_instances, ssm
from clusters.core.audit import audit_record
from clusters.core.jobs import job_enqueue, job_refused
from clusters.core.roles import has_role
from clusters.core.timeline import dedupe_key, event_record
from clusters.cost import registration_close
from clusters.models import (
    Cluster,
    ContainerInstance,
    EventSeverity,
    EventSource,
    RegistrationRequest,
)

REQUEST_TAG = "fleetdeck:request"
ACTIVATION_CREATE_TASK = "clusters.registration.tasks.activation_create"


class RegistrationError(Exception):
    """A step that cannot happen in the current state; the message is for people."""


class ActivationNotUsable(RegistrationError):
    pass


# --- recording ---------------------------------------------------------------


def _record(
    *,
    actor: Any,
    action: str,
    message: str,
    request: HttpRequest | None,
    object_type: str,
    object_id: object,
    severity: str = EventSeverity.INFO,
    cluster_arn: str = "",
    instance_arn: str = "",
    region: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Audit entry + one registration timeline event carrying the actor."""
    entry = audit_record(
        actor=actor,
        action=action,
        message=message,
        request=request,
        object_type=object_type,
        object_id=str(object_id),
        details=details or {},
        timeline=False,
    )
    event_record(
        source=EventSource.REGISTRATION,
        severity=severity,
        message=message,
        dedupe_key=dedupe_key("registration", action, object_type, object_id, entry.pk),
        actor=actor,
        cluster_arn=cluster_arn,
        instance_arn=instance_arn,
        region=region,
        details={"action": action, "audit_id": entry.pk, **(details or {})},
    )


def _system_event(
    *,
    action: str,
    message: str,
    key: str,
    actor: Any = None,
    severity: str = EventSeverity.INFO,
    cluster_arn: str = "",
    instance_arn: str = "",
    region: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    event_record(
        source=EventSource.REGISTRATION,
        severity=severity,
        message=message,
        dedupe_key=dedupe_key("registration", action, key),
        actor=actor,
        cluster_arn=cluster_arn,
        instance_arn=instance_arn,
        region=region,
        details={"action": action, **(details or {})},
    )


def self_approval_allowed() -> bool:
    return settings.FLEETDECK_ALLOW_SELF_APPROVAL


def _require(actor: Any, role: str, what: str) -> None:
    if not has_role(actor, role):
        raise PermissionDenied(f"{what} needs the {role} role.")


def _user_label(user: Any) -> str:
    return user.get_username() if user is not None else "system"


def _locked_request(pk: int) -> RegistrationRequest:
    # of=("self",): lock the request row only, not the cluster row syncs write to.
    return (
        RegistrationRequest.objects.select_for_update(of=("self",))
        .select_related("cluster")
        .get(pk=pk)
    )


def _enqueue_activation_create(pk: int) -> None:
    """Queue the SSM call by task name, in the caller's transaction (the outbox keeps
    it if the broker is down, and its sweep sends it once the broker is back)."""
    job_enqueue(ACTIVATION_CREATE_TASK, pk)


def activation_create_waiting(registration_request_id: int) -> bool:
    """The activation's creation is recorded but the broker has not taken it yet."""
    return job_refused(ACTIVATION_CREATE_TASK, registration_request_id)


# Rejecting a waiting instance and decommissioning an admitted one end the same way.
def _deregister_everywhere(*, cluster: Cluster, container_instance_arn: str, mi_id: str) -> None:
    ecs_instances.deregister_container_instance(
        account=cluster.account,
        region=cluster.region,
        cluster_arn=cluster.arn,
        container_instance_arn=container_instance_arn,
    )
    ssm.deregister_managed_instance(
        account=cluster.account, region=cluster.region, instance_id=mi_id
    )
    ContainerInstance.objects.filter(arn=container_instance_arn).update(status="INACTIVE")
    # ECS Anywhere stops billing it now (the bill's interval ends here, not at the
    # next sync).
    registration_close(instance_arn=container_instance_arn, at=timezone.now())
