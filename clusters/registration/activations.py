"""SSM activations: create one for an approved request, adopt or replace one whose
code went missing, reveal the code, revoke, and mirror what SSM lists.

The activation code is secret: CreateActivation is the only call that returns
it, it is stored encrypted, and it is decrypted only in ``activation_reveal``
(requester or admin, audited). It is never passed to a logger, an event, an
audit entry or an exception message; ``@sensitive_variables`` keeps it out of
error reports.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from ..aws import ssm
from ..aws.errors import AwsError, AwsPermanentError
from ..crypto import decrypt_secret, encrypt_secret, encryption_configured
from ..inputs import db_id
from ..models import (
    Activation,
    AwsAccount,
    Cluster,
    DockerInstallSource,
    EventSeverity,
    RegistrationRequest,
)
from ..roles import ADMIN, OPERATOR, has_role
from .common import (
    REQUEST_TAG,
    ActivationNotUsable,
    RegistrationError,
    _enqueue_activation_create,
    _locked_request,
    _record,
    _require,
    _system_event,
    _user_label,
)

log = logging.getLogger(__name__)

INSTALL_SCRIPT_URL = "https://amazon-ecs-agent.s3.amazonaws.com/ecs-anywhere-install-latest.sh"
VANISH_GRACE = timedelta(minutes=2)


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
        replaced = Activation.objects.filter(
            account=cluster.account, region=cluster.region, activation_id=created.activation_id
        ).exists()  # given up on as code-less and replaced before this answer came
        if locked.state != RegistrationRequest.State.APPROVED or linked is not None or replaced:
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
            changed += _activation_discovered(account=account, region=region, info=info, now=now)
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


def _activation_discovered(
    *, account: AwsAccount, region: str, info: ssm.ActivationInfo, now: Any
) -> int:
    """Mirror an activation seen in AWS for the first time; link it to the request its
    tag names if that request has none. Done under the request's lock, which
    ``activation_create`` also holds while it links its own answer: the two never
    both link (nor both insert) the same activation."""
    request_id = info.tags.get(REQUEST_TAG, "")
    request_pk = db_id(request_id)
    with transaction.atomic():
        reg = (
            RegistrationRequest.objects.select_for_update(of=("self",))
            .select_related("cluster")
            .filter(pk=request_pk)
            .first()
            if request_pk is not None
            else None
        )
        if Activation.objects.filter(
            account=account, region=region, activation_id=info.activation_id
        ).exists():
            return 0  # its create call came back meanwhile and stored it
        linked = reg is not None and not Activation.objects.filter(request=reg).exists()
        if reg is not None and not linked and info.registrations_count == 0:
            # Tagged for a request that already has its activation: a second one, made by
            # a create call whose worker died after AWS had done the work, the message then
            # delivered again. Nobody ever held its code: delete it.
            return _duplicate_activation_delete(
                account=account, region=region, info=info, reg=reg, now=now
            )
        Activation.objects.create(
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
            state=_activation_state_from(info),
            created_outside_fleetdeck=not linked,
            last_refreshed_at=now,
        )
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
    return 1


def _duplicate_activation_delete(
    *,
    account: AwsAccount,
    region: str,
    info: ssm.ActivationInfo,
    reg: RegistrationRequest,
    now: Any,
) -> int:
    """Delete a duplicate activation of ``reg`` in AWS and mirror it as revoked
    (called under the request's lock)."""
    existed = ssm.delete_activation(
        account=account, region=region, activation_id=info.activation_id
    )
    current = Activation.objects.filter(request=reg).values_list("activation_id", flat=True).first()
    Activation.objects.create(
        account=account,
        region=region,
        activation_id=info.activation_id,
        cluster=reg.cluster,
        iam_role=info.iam_role,
        default_instance_name=info.default_instance_name,
        description=info.description[:256],
        registration_limit=info.registration_limit,
        expires_at=info.expires_at,
        created_at=info.created_at or now,
        state=Activation.State.REVOKED,
        revoked_at=now,
        last_refreshed_at=now,
    )
    _system_event(
        action="activation.duplicate_deleted",
        message=(
            f"Activation {info.activation_id} was a second activation for registration request "
            f"#{reg.pk} (which uses {current}), made by a create call whose worker stopped; "
            + ("deleted it in AWS" if existed else "AWS no longer knew it")
        ),
        key=f"duplicate|{info.activation_id}",
        actor=reg.decided_by,
        severity=EventSeverity.WARNING,
        cluster_arn=reg.cluster.arn,
        region=region,
        details={"registration_request": reg.pk, "activation_id": info.activation_id},
    )
    return 1


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
        # One that cannot be replaced now (AWS refuses, the request went away) is
        # logged and tried again next time; it never holds up the others.
        try:
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
                    details={
                        "registration_request": reg.pk,
                        "activation_id": activation.activation_id,
                    },
                )
                _enqueue_activation_create(reg.pk)
                replaced.append(reg.pk)
        except (AwsError, RegistrationRequest.DoesNotExist) as exc:
            log.warning(
                "replacing code-less activation %s failed: %s", candidate.activation_id, exc
            )
    return replaced


def activation_scopes() -> list[tuple[AwsAccount, str]]:
    """Every (account, region) Fleetdeck knows a cluster or an activation in."""
    pairs = set(Cluster.objects.values_list("account_id", "region")) | set(
        Activation.objects.values_list("account_id", "region")
    )
    accounts = AwsAccount.objects.in_bulk({a for a, _ in pairs})
    return [(accounts[a], r) for a, r in sorted(pairs) if a in accounts]
