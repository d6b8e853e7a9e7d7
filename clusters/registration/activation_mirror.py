"""Mirror the SSM activations AWS lists, and repair what a stopped worker left
behind: an activation whose code died with the worker that created it is replaced
once no live call can still return the code; a second activation a redelivered
create message left behind is deleted.

Every change here is a system event on the timeline (no person acted); the
create side, which holds codes, is ``activations``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clusters.aws import ssm
from clusters.aws.errors import AwsError
from clusters.core.inputs import db_id
from clusters.models import Activation, AwsAccount, Cluster, EventSeverity, RegistrationRequest
from clusters.registration.common import (
    REQUEST_TAG,
    _enqueue_activation_create,
    _locked_request,
    _system_event,
)

log = logging.getLogger(__name__)

VANISH_GRACE = timedelta(minutes=2)


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
        _activation_row_create(
            account=account,
            region=region,
            info=info,
            now=now,
            request=reg if linked else None,
            cluster=reg.cluster if linked and reg else None,
            state=_activation_state_from(info),
            created_outside_fleetdeck=not linked,
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


def _activation_row_create(
    *, account: AwsAccount, region: str, info: ssm.ActivationInfo, now: Any, **fields: Any
) -> Activation:
    """The mirror row of an activation first seen in SSM's listing."""
    return Activation.objects.create(
        account=account,
        region=region,
        activation_id=info.activation_id,
        iam_role=info.iam_role,
        default_instance_name=info.default_instance_name,
        description=info.description[:256],
        registration_limit=info.registration_limit,
        registrations_count=info.registrations_count,
        expires_at=info.expires_at,
        created_at=info.created_at or now,
        last_refreshed_at=now,
        **fields,
    )


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
    _activation_row_create(
        account=account,
        region=region,
        info=info,
        now=now,
        cluster=reg.cluster,
        state=Activation.State.REVOKED,
        revoked_at=now,
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
            if _codeless_replace_one(candidate, now=now):
                replaced.append(candidate.request_id)  # type: ignore[arg-type]
        except (AwsError, RegistrationRequest.DoesNotExist) as exc:
            log.warning(
                "replacing code-less activation %s failed: %s", candidate.activation_id, exc
            )
    return replaced


def _codeless_replace_one(candidate: Activation, *, now: Any) -> bool:
    """Revoke one code-less activation and queue a new one for its request."""
    with transaction.atomic():
        reg = _locked_request(candidate.request_id)  # type: ignore[arg-type]
        activation = Activation.objects.select_for_update().get(pk=candidate.pk)
        if (
            reg.state != RegistrationRequest.State.APPROVED
            or activation.request_id != reg.pk
            or activation.encrypted_code
        ):
            return False  # its create call came back after all
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
    return True


def activation_scopes() -> list[tuple[AwsAccount, str]]:
    """Every (account, region) Fleetdeck knows a cluster or an activation in."""
    pairs = set(Cluster.objects.values_list("account_id", "region")) | set(
        Activation.objects.values_list("account_id", "region")
    )
    accounts = AwsAccount.objects.in_bulk({a for a, _ in pairs})
    return [(accounts[a], r) for a, r in sorted(pairs) if a in accounts]
