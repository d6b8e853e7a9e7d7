"""ECS Anywhere onboarding services: requests, approval, activations, reveal,
the waiting room and decommissioning.

Every human step writes an audit entry (who, what, when, from which IP) and one
timeline event with source ``registration`` and the actor. The activation code is
decrypted only in ``activation_reveal`` and never passed to a logger, an event, an
audit entry or an exception message.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .audit import audit_record
from .aws import ecs_instances, ssm
from .aws.errors import AwsPermanentError, AwsTransientError
from .crypto import decrypt_secret, encrypt_secret, encryption_configured
from .inputs import db_id
from .models import (
    Activation,
    AwsAccount,
    Cluster,
    ContainerInstance,
    DecommissionRequest,
    DockerInstallSource,
    EventSeverity,
    EventSource,
    InstanceAdmission,
    RegistrationRequest,
)
from .roles import ADMIN, OPERATOR, has_role
from .timeline import dedupe_key, event_record

log = logging.getLogger(__name__)

INSTALL_SCRIPT_URL = "https://amazon-ecs-agent.s3.amazonaws.com/ecs-anywhere-install-latest.sh"
REQUEST_TAG = "fleetdeck:request"
LIMIT_MIN, LIMIT_MAX = 1, 1000
EXPIRY_MIN_HOURS, EXPIRY_MAX_HOURS = 1, 30 * 24
VANISH_GRACE = timedelta(minutes=2)


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
    return bool(getattr(settings, "FLEETDECK_ALLOW_SELF_APPROVAL", False))


def _require(actor: Any, role: str, what: str) -> None:
    if not has_role(actor, role):
        raise PermissionDenied(f"{what} needs the {role} role.")


def _user_label(user: Any) -> str:
    return user.get_username() if user is not None else "system"


# --- requests ------------------------------------------------------------------


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


def _locked_request(pk: int) -> RegistrationRequest:
    return RegistrationRequest.objects.select_for_update().select_related("cluster").get(pk=pk)


def _enqueue_activation_create(pk: int) -> None:
    from .registration_tasks import activation_create_task

    transaction.on_commit(lambda: activation_create_task.delay(pk))


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


# --- activations -----------------------------------------------------------------


@sensitive_variables("created")  # error reports must not show the code
def activation_create(*, registration_request_id: int) -> Activation | None:
    """Create the SSM activation of an approved request (called by the task).

    Idempotent: a request that is not approved, or already has its activation,
    is left alone. Raises AwsTransientError for the task to retry; a permanent
    AWS error marks the request failed (retryable by a person).
    """
    reg = (
        RegistrationRequest.objects.select_related("cluster", "cluster__account")
        .filter(pk=registration_request_id)
        .first()
    )
    if reg is None or reg.state != RegistrationRequest.State.APPROVED:
        return None
    if Activation.objects.filter(request=reg).exists():
        return None
    if not encryption_configured():
        # Without a key the code could not be stored: do not create a live code
        # that nobody could ever reveal.
        RegistrationRequest.objects.filter(pk=reg.pk).update(attempts=F("attempts") + 1)
        activation_create_failed(
            registration_request_id=reg.pk,
            code="EncryptionNotConfigured",
            message="FLEETDECK_ENCRYPTION_KEYS holds no usable key; no activation was created.",
        )
        return None
    RegistrationRequest.objects.filter(pk=reg.pk).update(attempts=F("attempts") + 1)
    cluster = reg.cluster
    expires_at = timezone.now() + reg.expiry
    try:
        created = ssm.create_activation(
            account=cluster.account,
            region=cluster.region,
            iam_role=reg.iam_role,
            registration_limit=reg.registration_limit,
            expires_at=expires_at,
            default_instance_name=reg.default_instance_name,
            description=f"Fleetdeck registration request #{reg.pk} for {cluster.name}",
            tags={**reg.tags, REQUEST_TAG: str(reg.pk)},
        )
    except AwsPermanentError as exc:
        activation_create_failed(registration_request_id=reg.pk, code=exc.code, message=exc.message)
        return None
    with transaction.atomic():
        locked = _locked_request(reg.pk)
        linked = Activation.objects.filter(request=locked).first()
        if linked is not None and linked.activation_id == created.activation_id:
            # The periodic refresh saw this activation in AWS before our call came
            # back, and linked it without its code: this call holds the code.
            return _activation_code_adopt(activation=linked, request=locked, code=created.code)
        if locked.state != RegistrationRequest.State.APPROVED or linked is not None:
            # Lost a race with another run: do not leave a second live code behind.
            ssm.delete_activation(
                account=cluster.account, region=cluster.region, activation_id=created.activation_id
            )
            return None
        activation = Activation.objects.create(
            account=cluster.account,
            region=cluster.region,
            activation_id=created.activation_id,
            request=locked,
            cluster=cluster,
            encrypted_code=encrypt_secret(created.code),
            iam_role=reg.iam_role,
            default_instance_name=reg.default_instance_name,
            description=f"Fleetdeck registration request #{reg.pk} for {cluster.name}",
            registration_limit=reg.registration_limit,
            expires_at=expires_at,
            last_refreshed_at=timezone.now(),
        )
        _request_activated(request=locked, activation_id=created.activation_id)
    log.info("activation %s created for request %s", created.activation_id, reg.pk)
    return activation


def _activation_code_adopt(
    *, activation: Activation, request: RegistrationRequest, code: str
) -> Activation:
    """Store the code of an activation the refresh linked before its create call
    returned (called with the request locked)."""
    activation.encrypted_code = encrypt_secret(code)
    activation.save(update_fields=["encrypted_code"])
    _request_activated(request=request, activation_id=activation.activation_id)
    return activation


def _request_activated(*, request: RegistrationRequest, activation_id: str) -> None:
    """The request's activation exists and its code is stored (request locked)."""
    request.state = RegistrationRequest.State.ACTIVE
    request.error_code = ""
    request.error_message = ""
    request.save(update_fields=["state", "error_code", "error_message"])
    cluster = request.cluster
    _system_event(
        action="activation.created",
        message=(
            f"SSM activation {activation_id} created for registration request "
            f"#{request.pk} ({request.registration_limit} machine(s), cluster {cluster.name})"
        ),
        key=f"created|{activation_id}",
        actor=request.decided_by,  # done on the approver's behalf
        cluster_arn=cluster.arn,
        region=cluster.region,
        details={"registration_request": request.pk, "activation_id": activation_id},
    )


def activation_create_failed(*, registration_request_id: int, code: str, message: str) -> None:
    with transaction.atomic():
        reg = _locked_request(registration_request_id)
        if reg.state != RegistrationRequest.State.APPROVED:
            return
        reg.state = RegistrationRequest.State.FAILED
        reg.error_code = code[:128]
        reg.error_message = message
        reg.save(update_fields=["state", "error_code", "error_message"])
        _system_event(
            action="activation.failed",
            message=(
                f"Creating the SSM activation for registration request #{reg.pk} failed: "
                f"{code}: {message}"
            ),
            key=f"failed|{reg.pk}|{reg.attempts}",
            actor=reg.decided_by,
            severity=EventSeverity.ERROR,
            cluster_arn=reg.cluster.arn,
            region=reg.cluster.region,
            details={"registration_request": reg.pk, "code": code},
        )


@dataclass(frozen=True)
class RevealedActivation:
    activation_id: str
    code: str
    command: str

    def __repr__(self) -> str:  # never let the code reach a log through repr()
        return f"RevealedActivation({self.activation_id!r}, code=***)"


def install_command(
    *,
    region: str,
    cluster_name: str,
    activation_id: str,
    code: str,
    gpu: bool = False,
    docker_install_source: str = DockerInstallSource.DOCKER,
) -> str:
    """AWS's own install command (as the ECS console prints it)."""
    command = (
        f'curl --proto "https" -o "/tmp/ecs-anywhere-install.sh" "{INSTALL_SCRIPT_URL}" '
        f"&& bash /tmp/ecs-anywhere-install.sh --region {region} --cluster {cluster_name} "
        f"--activation-id {activation_id} --activation-code {code}"
    )
    if docker_install_source and docker_install_source != DockerInstallSource.DOCKER:
        command += f" --docker-install-source {docker_install_source}"
    if gpu:
        command += " --enable-gpu"
    return command


def can_reveal(user: Any, activation: Activation) -> bool:
    if has_role(user, ADMIN):
        return True
    return (
        has_role(user, OPERATOR)
        and activation.request is not None
        and activation.request.requested_by_id == user.pk
    )


@sensitive_variables("code", "command")
def activation_reveal(
    *, actor: Any, activation_pk: int, request: HttpRequest | None = None
) -> RevealedActivation:
    activation = Activation.objects.select_related("request", "cluster").get(pk=activation_pk)
    common = {
        "request": request,
        "object_type": "activation",
        "object_id": activation.activation_id,
        "cluster_arn": activation.cluster.arn if activation.cluster else "",
        "region": activation.region,
        "details": {"activation_id": activation.activation_id},
    }
    if not can_reveal(actor, activation):
        _record(
            actor=actor,
            action="activation.reveal_denied",
            message=(
                f"{_user_label(actor)} tried to reveal the code of activation "
                f"{activation.activation_id} and was refused (not the requester or an admin)"
            ),
            severity=EventSeverity.WARNING,
            **common,  # type: ignore[arg-type]
        )
        raise PermissionDenied("Only the requester and admins can reveal an activation code.")
    state = activation.current_state()
    if state != Activation.State.ACTIVE or not activation.encrypted_code:
        _record(
            actor=actor,
            action="activation.reveal_refused",
            message=(
                f"{_user_label(actor)} asked for the code of activation "
                f"{activation.activation_id}, which is {state}: not revealed"
            ),
            severity=EventSeverity.WARNING,
            **common,  # type: ignore[arg-type]
        )
        if not activation.encrypted_code:
            raise ActivationNotUsable("Fleetdeck does not hold the code of this activation.")
        raise ActivationNotUsable(f"This activation is {state}: its code can no longer be used.")
    code = decrypt_secret(activation.encrypted_code)
    reg = activation.request
    command = install_command(
        region=activation.region,
        cluster_name=activation.cluster.name if activation.cluster else "",
        activation_id=activation.activation_id,
        code=code,
        gpu=bool(reg and reg.gpu),
        docker_install_source=reg.docker_install_source if reg else DockerInstallSource.DOCKER,
    )
    _record(
        actor=actor,
        action="activation.reveal",
        message=f"{_user_label(actor)} revealed the code of activation {activation.activation_id}",
        **common,  # type: ignore[arg-type]
    )
    return RevealedActivation(activation_id=activation.activation_id, code=code, command=command)


def activation_revoke(
    *, actor: Any, activation_pk: int, request: HttpRequest | None = None
) -> Activation:
    _require(actor, ADMIN, "Revoking an activation")
    activation = Activation.objects.select_related("account", "cluster").get(pk=activation_pk)
    if activation.state == Activation.State.REVOKED:
        raise RegistrationError("This activation is already revoked.")
    existed = ssm.delete_activation(
        account=activation.account,
        region=activation.region,
        activation_id=activation.activation_id,
    )
    activation.state = Activation.State.REVOKED
    activation.revoked_by = actor
    activation.revoked_at = timezone.now()
    activation.save(update_fields=["state", "revoked_by", "revoked_at"])
    _record(
        actor=actor,
        action="activation.revoke",
        message=(
            f"{_user_label(actor)} revoked activation {activation.activation_id}"
            + ("" if existed else " (AWS no longer knew it)")
        ),
        request=request,
        object_type="activation",
        object_id=activation.activation_id,
        cluster_arn=activation.cluster.arn if activation.cluster else "",
        region=activation.region,
        details={"activation_id": activation.activation_id},
    )
    return activation


def _activation_state_from(info: ssm.ActivationInfo) -> str:
    if info.expired:
        return Activation.State.EXPIRED
    if info.registrations_count >= info.registration_limit:
        return Activation.State.EXHAUSTED
    return Activation.State.ACTIVE


def activations_refresh(*, account: AwsAccount, region: str) -> int:
    """Mirror SSM's activations of one account and region; returns rows changed.

    Only a complete listing is applied (an error raises before any write), and an
    activation missing from a complete listing is marked revoked, never deleted.
    """
    infos = ssm.describe_activations(account=account, region=region)
    now = timezone.now()
    known = {a.activation_id: a for a in Activation.objects.filter(account=account, region=region)}
    changed = 0
    for info in infos:
        state = _activation_state_from(info)
        row = known.pop(info.activation_id, None)
        if row is None:
            request_id = info.tags.get(REQUEST_TAG, "")
            request_pk = db_id(request_id)
            reg = (
                RegistrationRequest.objects.filter(pk=request_pk).first()
                if request_pk is not None
                else None
            )
            linked = reg is not None and not Activation.objects.filter(request=reg).exists()
            row = Activation.objects.create(
                account=account,
                region=region,
                activation_id=info.activation_id,
                request=reg if linked else None,
                cluster=reg.cluster if linked and reg else None,
                iam_role=info.iam_role,
                default_instance_name=info.default_instance_name,
                description=info.description[:256],
                registration_limit=info.registration_limit,
                registrations_count=info.registrations_count,
                expires_at=info.expires_at,
                created_at=info.created_at or now,
                state=state,
                created_outside_fleetdeck=not linked,
                last_refreshed_at=now,
            )
            changed += 1
            _system_event(
                action="activation.discovered",
                message=(
                    f"Activation {info.activation_id} exists in {region} but was not created by "
                    "Fleetdeck"
                    if not linked
                    else f"Activation {info.activation_id} found for request #{request_id}"
                ),
                key=f"discovered|{info.activation_id}",
                severity=EventSeverity.WARNING if not linked else EventSeverity.INFO,
                region=region,
                details={"activation_id": info.activation_id},
            )
            continue
        if row.state == Activation.State.REVOKED:
            continue
        updates = {
            "registrations_count": info.registrations_count,
            "registration_limit": info.registration_limit,
            "expires_at": info.expires_at or row.expires_at,
            "state": state,
        }
        if any(getattr(row, k) != v for k, v in updates.items()):
            if row.state != state:
                _system_event(
                    action=f"activation.{state}",
                    message=f"Activation {row.activation_id} is now {state} "
                    f"({info.registrations_count}/{info.registration_limit} registrations used)",
                    key=f"{state}|{row.activation_id}",
                    region=region,
                    details={"activation_id": row.activation_id},
                )
            for k, v in updates.items():
                setattr(row, k, v)
            row.last_refreshed_at = now
            row.save(update_fields=[*updates, "last_refreshed_at"])
            changed += 1
    for row in known.values():
        # A just-created activation may not be listed yet (eventual consistency):
        # only one older than the grace period counts as deleted.
        if row.state != Activation.State.REVOKED and row.created_at < now - VANISH_GRACE:
            row.state = Activation.State.REVOKED
            row.revoked_at = now
            row.save(update_fields=["state", "revoked_at"])
            changed += 1
            _system_event(
                action="activation.vanished",
                message=f"Activation {row.activation_id} was deleted outside Fleetdeck",
                key=f"vanished|{row.activation_id}",
                severity=EventSeverity.WARNING,
                region=region,
                details={"activation_id": row.activation_id},
            )
    return changed


def codeless_grace() -> timedelta:
    """How long after its creation an activation without a stored code may still be
    waiting for its create call to return: Celery's hard time limit kills any task
    (and so any call) older than that. Past it, nobody holds the code."""
    return timedelta(seconds=int(settings.CELERY_TASK_TIME_LIMIT) + 60)


def activations_codeless_replace(*, now: Any = None) -> list[int]:
    """Replace the activations whose code was lost: created in AWS for a request,
    but the worker that made the call stopped before storing the code (SIGKILL,
    OOM, a lost node). CreateActivation is the only call that returns a code, so
    such an activation can never be handed out. Once no live call can still
    return it (``codeless_grace``) and no machine has used it, it is deleted in
    AWS and a new one is created for the same approved request, without a person
    having to revoke and retry. Returns the ids of the requests sent to creation.
    """
    now = now or timezone.now()
    candidates = Activation.objects.filter(
        request__state=RegistrationRequest.State.APPROVED,
        encrypted_code="",
        registrations_count=0,
        created_at__lt=now - codeless_grace(),
    ).exclude(state=Activation.State.REVOKED)
    replaced: list[int] = []
    for candidate in candidates.select_related("account", "cluster"):
        with transaction.atomic():
            reg = _locked_request(candidate.request_id)  # type: ignore[arg-type]
            activation = Activation.objects.select_for_update().get(pk=candidate.pk)
            if (
                reg.state != RegistrationRequest.State.APPROVED
                or activation.request_id != reg.pk
                or activation.encrypted_code
            ):
                continue  # its create call came back after all
            existed = ssm.delete_activation(
                account=candidate.account,
                region=candidate.region,
                activation_id=activation.activation_id,
            )
            activation.state = Activation.State.REVOKED
            activation.revoked_at = now
            activation.request = None  # the request's next activation takes the link
            activation.save(update_fields=["state", "revoked_at", "request"])
            _system_event(
                action="activation.replaced",
                message=(
                    f"Activation {activation.activation_id} of registration request #{reg.pk} "
                    "lost its code (the worker creating it stopped before storing it); "
                    + ("deleted it in AWS" if existed else "AWS no longer knew it")
                    + " and creating a new one"
                ),
                key=f"replaced|{activation.activation_id}",
                actor=reg.decided_by,
                severity=EventSeverity.WARNING,
                cluster_arn=reg.cluster.arn,
                region=reg.cluster.region,
                details={"registration_request": reg.pk, "activation_id": activation.activation_id},
            )
            _enqueue_activation_create(reg.pk)
            replaced.append(reg.pk)
    return replaced


def activation_scopes() -> list[tuple[AwsAccount, str]]:
    """Every (account, region) Fleetdeck knows a cluster or an activation in."""
    pairs = set(Cluster.objects.values_list("account_id", "region")) | set(
        Activation.objects.values_list("account_id", "region")
    )
    accounts = AwsAccount.objects.in_bulk({a for a, _ in pairs})
    return [(accounts[a], r) for a, r in sorted(pairs) if a in accounts]


# --- the waiting room ------------------------------------------------------------------


def _container_instance_upsert(
    cluster: Cluster, info: ecs_instances.ExternalInstanceInfo
) -> ContainerInstance:
    """Minimal mirror write so the waiting room does not wait for the next full sync."""
    row, _ = ContainerInstance.objects.update_or_create(
        arn=info.arn,
        defaults={
            "cluster": cluster,
            "ec2_instance_id": info.ec2_instance_id,
            "is_external": True,
            "status": info.status,
            "agent_connected": info.agent_connected,
            "agent_version": info.agent_version,
            "docker_version": info.docker_version,
            "registered_at": info.registered_at,
            "running_tasks_count": info.running_tasks_count,
            "pending_tasks_count": info.pending_tasks_count,
            "attributes": info.attributes,
        },
    )
    return row


SSM_LAG = timedelta(minutes=5)


def _recent(registered_at: Any) -> bool:
    return registered_at is None or registered_at > timezone.now() - SSM_LAG


def _hold(cluster: Cluster, container_instance_arn: str) -> None:
    """DRAINING + ``fleetdeck.pending=true``; both calls are idempotent."""
    where: dict[str, Any] = {
        "account": cluster.account,
        "region": cluster.region,
        "cluster_arn": cluster.arn,
        "container_instance_arn": container_instance_arn,
    }
    ecs_instances.set_container_instance_state(**where, status="DRAINING")
    ecs_instances.put_attributes(**where, attributes={ecs_instances.PENDING_ATTRIBUTE: "true"})


def waiting_room_scan(*, cluster: Cluster) -> list[InstanceAdmission]:
    """Find external instances that joined ``cluster``; hold new ones for approval.

    An instance is linked to its activation through SSM (ActivationId -> mi- id ->
    container instance). With ``cluster.hold_new_instances`` on, a new instance is
    set to DRAINING and gets ``fleetdeck.pending=true`` at once, so no task lands on
    it before an admin admits it. Instances joined with an activation Fleetdeck did
    not approve are flagged as errors on the timeline.
    """
    account = cluster.account
    known = list(
        InstanceAdmission.objects.filter(cluster=cluster).values_list(
            "managed_instance_id", "container_instance_arn"
        )
    )
    seen = {mi for mi, _ in known}
    instances = ecs_instances.list_external_instances(
        account=account,
        region=cluster.region,
        cluster_arn=cluster.arn,
        skip_arns={arn for _, arn in known},
    )
    new = [i for i in instances if i.ec2_instance_id not in seen and i.status != "INACTIVE"]
    if not new:
        return []
    ssm_info = ssm.describe_instance_information(
        account=account, region=cluster.region, instance_ids=[i.ec2_instance_id for i in new]
    )
    activations = {
        a.activation_id: a
        for a in Activation.objects.filter(
            account=account,
            region=cluster.region,
            activation_id__in={s.activation_id for s in ssm_info.values()},
        ).select_related("request", "request__requested_by")
    }
    watched_since = getattr(cluster, "first_seen_at", None)
    admitted: list[InstanceAdmission] = []
    for info in new:
        facts = ssm_info.get(info.ec2_instance_id)
        activation = activations.get(facts.activation_id) if facts else None
        approved_activation = (
            activation is not None
            and not activation.created_outside_fleetdeck
            and activation.request is not None
            and activation.request.cluster_id == cluster.pk
        )
        # Machines that were in the cluster before Fleetdeck watched it are not
        # pulled out of service by installing Fleetdeck.
        preexisting = bool(
            watched_since and info.registered_at and info.registered_at < watched_since
        )
        hold = cluster.hold_new_instances and not preexisting
        if facts is None and not preexisting and _recent(info.registered_at):
            # SSM has not listed the machine yet: hold it now, link it next scan.
            if hold:
                with contextlib.suppress(AwsPermanentError):
                    _hold(cluster, info.arn)
            continue
        row = _container_instance_upsert(cluster, info)
        admission = InstanceAdmission(
            cluster=cluster,
            container_instance=row,
            container_instance_arn=info.arn,
            managed_instance_id=info.ec2_instance_id,
            activation=activation,
            activation_aws_id=facts.activation_id if facts else "",
            flagged_unknown_activation=not approved_activation and not preexisting,
            held=hold,
            state=InstanceAdmission.State.PENDING if hold else InstanceAdmission.State.ADMITTED,
            hostname=facts.computer_name if facts else "",
            ip_address=facts.ip_address if facts else "",
            platform=f"{facts.platform_name} {facts.platform_version}".strip() if facts else "",
            ssm_agent_version=facts.agent_version if facts else "",
            ecs_agent_version=info.agent_version,
            docker_version=info.docker_version,
            note=(
                "Registered before Fleetdeck watched this cluster."
                if preexisting
                else ("" if hold else "The cluster does not hold new instances.")
            ),
        )
        if hold:
            try:
                _hold(cluster, info.arn)
                row.status = "DRAINING"
                row.save(update_fields=["status"])
            except AwsPermanentError as exc:
                admission.error_message = f"Could not hold the instance: {exc.code}: {exc.message}"
        try:
            admission.save()
        except IntegrityError:
            continue  # another scan took it
        admitted.append(admission)
        who = (
            activation.request.requested_by.get_username()
            if activation is not None and activation.request is not None
            else "nobody in Fleetdeck"
        )
        if admission.flagged_unknown_activation:
            _system_event(
                action="instance.unknown_activation",
                message=(
                    f"UNKNOWN ACTIVATION: {info.ec2_instance_id} ({admission.hostname}) joined "
                    f"{cluster.name} with activation {admission.activation_aws_id or '?'}, "
                    "which Fleetdeck did not approve for this cluster"
                ),
                key=f"unknown|{info.arn}",
                severity=EventSeverity.ERROR,
                cluster_arn=cluster.arn,
                instance_arn=info.arn,
                region=cluster.region,
                details={"activation_id": admission.activation_aws_id},
            )
        _system_event(
            action="instance.joined",
            message=(
                f"{info.ec2_instance_id} ({admission.hostname}) joined {cluster.name} with "
                f"activation {admission.activation_aws_id or '?'} (requested by {who})"
                + (": held DRAINING for approval" if hold else "")
            ),
            key=f"joined|{info.arn}",
            severity=EventSeverity.WARNING if admission.error_message else EventSeverity.INFO,
            cluster_arn=cluster.arn,
            instance_arn=info.arn,
            region=cluster.region,
            details={"activation_id": admission.activation_aws_id},
        )
    return admitted


def cluster_hold_policy_set(
    *, actor: Any, cluster_id: int, hold: bool, request: HttpRequest | None = None
) -> Cluster:
    """Turn the cluster's "hold new instances for approval" policy on or off."""
    _require(actor, ADMIN, "Changing the hold policy")
    cluster = Cluster.objects.get(pk=cluster_id)
    if cluster.hold_new_instances == hold:
        return cluster
    cluster.hold_new_instances = hold
    cluster.save(update_fields=["hold_new_instances"])
    _record(
        actor=actor,
        action="cluster.hold_policy",
        message=(
            f"{_user_label(actor)} turned {'on' if hold else 'off'} holding new instances "
            f"for approval in {cluster.name}"
        ),
        request=request,
        object_type="cluster",
        object_id=cluster.arn,
        severity=EventSeverity.INFO if hold else EventSeverity.WARNING,
        cluster_arn=cluster.arn,
        region=cluster.region,
        details={"hold_new_instances": hold},
    )
    return cluster


def _locked_admission(pk: int) -> InstanceAdmission:
    return (
        InstanceAdmission.objects.select_for_update()
        .select_related("cluster", "cluster__account")
        .get(pk=pk)
    )


def instance_admit(
    *, actor: Any, admission_pk: int, request: HttpRequest | None = None
) -> InstanceAdmission:
    _require(actor, ADMIN, "Admitting an instance")
    with transaction.atomic():
        admission = _locked_admission(admission_pk)
        if admission.state != InstanceAdmission.State.PENDING:
            raise RegistrationError(f"{admission.managed_instance_id} is {admission.state}.")
        cluster = admission.cluster
        where: dict[str, Any] = {
            "account": cluster.account,
            "region": cluster.region,
            "cluster_arn": cluster.arn,
            "container_instance_arn": admission.container_instance_arn,
        }
        ecs_instances.set_container_instance_state(**where, status="ACTIVE")
        ecs_instances.put_attributes(**where, attributes={ecs_instances.APPROVED_ATTRIBUTE: "true"})
        ecs_instances.delete_attributes(
            **where, attributes={ecs_instances.PENDING_ATTRIBUTE: "true"}
        )
        admission.state = InstanceAdmission.State.ADMITTED
        admission.decided_by = actor
        admission.decided_at = timezone.now()
        admission.save(update_fields=["state", "decided_by", "decided_at"])
        ContainerInstance.objects.filter(arn=admission.container_instance_arn).update(
            status="ACTIVE"
        )
        _record(
            actor=actor,
            action="instance.admit",
            message=(
                f"{_user_label(actor)} admitted {admission.managed_instance_id} "
                f"({admission.hostname}) into {cluster.name} (activation "
                f"{admission.activation_aws_id or '?'})"
            ),
            request=request,
            object_type="container_instance",
            object_id=admission.container_instance_arn,
            cluster_arn=cluster.arn,
            instance_arn=admission.container_instance_arn,
            region=cluster.region,
            details={"activation_id": admission.activation_aws_id},
        )
    return admission


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


def instance_reject(
    *, actor: Any, admission_pk: int, reason: str, request: HttpRequest | None = None
) -> InstanceAdmission:
    _require(actor, ADMIN, "Rejecting an instance")
    if not reason.strip():
        raise RegistrationError("Rejecting an instance needs a reason.")
    with transaction.atomic():
        admission = _locked_admission(admission_pk)
        if admission.state != InstanceAdmission.State.PENDING:
            raise RegistrationError(f"{admission.managed_instance_id} is {admission.state}.")
        cluster = admission.cluster
        _deregister_everywhere(
            cluster=cluster,
            container_instance_arn=admission.container_instance_arn,
            mi_id=admission.managed_instance_id,
        )
        admission.state = InstanceAdmission.State.REJECTED
        admission.decided_by = actor
        admission.decided_at = timezone.now()
        admission.note = reason.strip()
        admission.save(update_fields=["state", "decided_by", "decided_at", "note"])
        _record(
            actor=actor,
            action="instance.reject",
            message=(
                f"{_user_label(actor)} rejected {admission.managed_instance_id} "
                f"({admission.hostname}) from {cluster.name}: deregistered from ECS and SSM. "
                f"Reason: {reason.strip()}"
            ),
            request=request,
            object_type="container_instance",
            object_id=admission.container_instance_arn,
            severity=EventSeverity.WARNING,
            cluster_arn=cluster.arn,
            instance_arn=admission.container_instance_arn,
            region=cluster.region,
            details={"activation_id": admission.activation_aws_id, "reason": reason.strip()},
        )
    return admission


# --- decommissioning -----------------------------------------------------------------


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
