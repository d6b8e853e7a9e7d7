"""SSM activations: create one for an approved request (keeping the code of one the
refresh linked before the answer came), reveal the code, revoke. Mirroring what
SSM lists and repairing what a stopped worker left behind is ``activation_mirror``.

The activation code is secret: CreateActivation is the only call that returns
it, it is stored encrypted, and it is decrypted only in ``activation_reveal``
(requester or admin, audited). It is never passed to a logger, an event, an
audit entry or an exception message; ``@sensitive_variables`` keeps it out of
error reports.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from clusters.aws import ssm
from clusters.aws.errors import AwsPermanentError
from clusters.core.crypto import decrypt_secret, encrypt_secret, encryption_configured
from clusters.core.jobs import job_enqueue
from clusters.core.roles import ADMIN, OPERATOR, has_role
from clusters.models import (
    Activation,
    DockerInstallSource,
    EventSeverity,
    RegistrationRequest,
)
from clusters.registration.common import (
    REQUEST_TAG,
    ActivationNotUsable,
    RegistrationError,
    _locked_request,
    _record,
    _require,
    _system_event,
    _user_label,
)

log = logging.getLogger(__name__)

INSTALL_SCRIPT_URL = "https://amazon-ecs-agent.s3.amazonaws.com/ecs-anywhere-install-latest.sh"


@sensitive_variables("created")  # error reports must not show the code
def activation_create(*, registration_request_id: int) -> Activation | None:
    """Create the SSM activation of an approved request (called by the task).

    Idempotent: a request that is not approved, or already has its activation,
    is left alone. Raises AwsTransientError for the task to retry; a permanent
    AWS error marks the request failed (retryable by a person).
    """
    reg = _request_to_activate(registration_request_id)
    if reg is None:
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
            description=_description(reg),
            tags={**reg.tags, REQUEST_TAG: str(reg.pk)},
        )
    except AwsPermanentError as exc:
        activation_create_failed(registration_request_id=reg.pk, code=exc.code, message=exc.message)
        return None
    activation = _activation_store(reg, created, expires_at)
    if activation is not None:
        log.info("activation %s created for request %s", created.activation_id, reg.pk)
    return activation


def _description(reg: RegistrationRequest) -> str:
    return f"Fleetdeck registration request #{reg.pk} for {reg.cluster.name}"


def _request_to_activate(registration_request_id: int) -> RegistrationRequest | None:
    """The approved request still without an activation (None: nothing to do)."""
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
    return reg


@sensitive_variables("created")
def _activation_store(
    reg: RegistrationRequest, created: ssm.CreatedActivation, expires_at: datetime
) -> Activation | None:
    """Keep what CreateActivation answered, unless another run got there first."""
    cluster = reg.cluster
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
            description=_description(reg),
            registration_limit=reg.registration_limit,
            expires_at=expires_at,
            last_refreshed_at=timezone.now(),
        )
        _request_activated(request=locked, activation_id=created.activation_id)
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


ACTIVATION_DELETE_TASK = "clusters.registration.tasks.activation_delete"


def activation_revoke(
    *, actor: Any, activation_pk: int, request: HttpRequest | None = None
) -> Activation:
    """Revoke at once in Fleetdeck (the code can no longer be revealed), and queue the
    deletion in AWS for a worker: no AWS call in the request."""
    _require(actor, ADMIN, "Revoking an activation")
    with transaction.atomic():
        activation = (
            Activation.objects.select_for_update(of=("self",))
            .select_related("account", "cluster")
            .get(pk=activation_pk)
        )
        if activation.state == Activation.State.REVOKED:
            raise RegistrationError("This activation is already revoked.")
        activation.state = Activation.State.REVOKED
        activation.revoked_by = actor
        activation.revoked_at = timezone.now()
        activation.save(update_fields=["state", "revoked_by", "revoked_at"])
        _record(
            actor=actor,
            action="activation.revoke",
            message=f"{_user_label(actor)} revoked activation {activation.activation_id}",
            request=request,
            object_type="activation",
            object_id=activation.activation_id,
            cluster_arn=activation.cluster.arn if activation.cluster else "",
            region=activation.region,
            details={"activation_id": activation.activation_id},
        )
        job_enqueue(ACTIVATION_DELETE_TASK, activation.pk)
    return activation


def activation_delete_in_aws(*, activation_pk: int) -> bool | None:
    """Worker: delete a revoked activation in AWS. Idempotent (an activation AWS no
    longer knows is done); None when there is nothing to delete. A permanent AWS error
    is recorded on the timeline; transient ones are raised for the task to retry."""
    activation = (
        Activation.objects.select_related("cluster")
        .filter(pk=activation_pk, state=Activation.State.REVOKED)
        .first()
    )
    if activation is None:
        return None
    key = f"deleted|{activation.activation_id}"
    cluster_arn = activation.cluster.arn if activation.cluster else ""
    try:
        existed = ssm.delete_activation(
            account=activation.account,
            region=activation.region,
            activation_id=activation.activation_id,
        )
    except AwsPermanentError as exc:
        _system_event(
            action="activation.delete_failed",
            message=f"Could not delete revoked activation {activation.activation_id} in AWS: {exc}",
            severity=EventSeverity.ERROR,
            key=key,
            cluster_arn=cluster_arn,
            region=activation.region,
        )
        return False
    gone = "deleted it in AWS" if existed else "AWS no longer knew it"
    _system_event(
        action="activation.deleted",
        message=f"Revoked activation {activation.activation_id}: {gone}",
        key=key,
        cluster_arn=cluster_arn,
        region=activation.region,
    )
    return existed
