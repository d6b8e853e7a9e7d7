"""The waiting room: external (mi-) instances that joined a cluster are found,
linked to the activation they used, and (with the cluster's hold policy on)
held DRAINING until an admin admits or rejects them. Instances that joined with
an activation Fleetdeck did not approve are flagged on the timeline.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError
from django.http import HttpRequest
from django.utils import timezone

from clusters.aws import ecs_instances, ssm
from clusters.aws.errors import AwsPermanentError
from clusters.core.roles import ADMIN
from clusters.models import Activation, Cluster, ContainerInstance, EventSeverity, InstanceAdmission
from clusters.registration.common import (
    _record,
    _require,
    _system_event,
    _user_label,
)


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


@dataclass(frozen=True)
class _Joined:
    """One new instance and what SSM and Fleetdeck know about it."""

    info: ecs_instances.ExternalInstanceInfo
    facts: ssm.ManagedInstanceInfo | None
    activation: Activation | None
    approved: bool
    preexisting: bool
    hold: bool


def _new_instances(cluster: Cluster) -> list[_Joined]:
    """The external instances of ``cluster`` the waiting room has not seen yet."""
    known = list(
        InstanceAdmission.objects.filter(cluster=cluster).values_list(
            "managed_instance_id", "container_instance_arn"
        )
    )
    seen = {mi for mi, _ in known}
    instances = ecs_instances.list_external_instances(
        account=cluster.account,
        region=cluster.region,
        cluster_arn=cluster.arn,
        skip_arns={arn for _, arn in known},
    )
    new = [i for i in instances if i.ec2_instance_id not in seen and i.status != "INACTIVE"]
    if not new:
        return []
    ssm_info = ssm.describe_instance_information(
        account=cluster.account,
        region=cluster.region,
        instance_ids=[i.ec2_instance_id for i in new],
    )
    activations = {
        a.activation_id: a
        for a in Activation.objects.filter(
            account=cluster.account,
            region=cluster.region,
            activation_id__in={s.activation_id for s in ssm_info.values()},
        ).select_related("request", "request__requested_by")
    }
    return [_joined(cluster, info, ssm_info.get(info.ec2_instance_id), activations) for info in new]


def _joined(
    cluster: Cluster,
    info: ecs_instances.ExternalInstanceInfo,
    facts: ssm.ManagedInstanceInfo | None,
    activations: dict[str, Activation],
) -> _Joined:
    activation = activations.get(facts.activation_id) if facts else None
    approved = (
        activation is not None
        and not activation.created_outside_fleetdeck
        and activation.request is not None
        and activation.request.cluster_id == cluster.pk
    )
    # Machines that were in the cluster before Fleetdeck watched it are not
    # pulled out of service by installing Fleetdeck.
    watched_since = getattr(cluster, "first_seen_at", None)
    preexisting = bool(watched_since and info.registered_at and info.registered_at < watched_since)
    hold = cluster.hold_new_instances and not preexisting
    return _Joined(info, facts, activation, approved, preexisting, hold)


def _admission_build(cluster: Cluster, j: _Joined, row: ContainerInstance) -> InstanceAdmission:
    facts, info = j.facts, j.info
    return InstanceAdmission(
        cluster=cluster,
        container_instance=row,
        container_instance_arn=info.arn,
        managed_instance_id=info.ec2_instance_id,
        activation=j.activation,
        activation_aws_id=facts.activation_id if facts else "",
        flagged_unknown_activation=not j.approved and not j.preexisting,
        held=j.hold,
        state=InstanceAdmission.State.PENDING if j.hold else InstanceAdmission.State.ADMITTED,
        hostname=facts.computer_name if facts else "",
        ip_address=facts.ip_address if facts else "",
        platform=f"{facts.platform_name} {facts.platform_version}".strip() if facts else "",
        ssm_agent_version=facts.agent_version if facts else "",
        ecs_agent_version=info.agent_version,
        docker_version=info.docker_version,
        note=(
            "Registered before Fleetdeck watched this cluster."
            if j.preexisting
            else ("" if j.hold else "The cluster does not hold new instances.")
        ),
    )


def _admission_announce(cluster: Cluster, j: _Joined, admission: InstanceAdmission) -> None:
    info, activation = j.info, j.activation
    who = (
        activation.request.requested_by.get_username()
        if activation is not None and activation.request is not None
        else "nobody in Fleetdeck"
    )
    where: dict[str, Any] = {
        "cluster_arn": cluster.arn,
        "instance_arn": info.arn,
        "region": cluster.region,
        "details": {"activation_id": admission.activation_aws_id},
    }
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
            **where,
        )
    _system_event(
        action="instance.joined",
        message=(
            f"{info.ec2_instance_id} ({admission.hostname}) joined {cluster.name} with "
            f"activation {admission.activation_aws_id or '?'} (requested by {who})"
            + (": held DRAINING for approval" if j.hold else "")
        ),
        key=f"joined|{info.arn}",
        severity=EventSeverity.WARNING if admission.error_message else EventSeverity.INFO,
        **where,
    )


def _admission_record(cluster: Cluster, j: _Joined) -> InstanceAdmission | None:
    """Mirror, hold (when the policy says so) and record one new instance."""
    if j.facts is None and not j.preexisting and _recent(j.info.registered_at):
        # SSM has not listed the machine yet: hold it now, link it next scan.
        if j.hold:
            with contextlib.suppress(AwsPermanentError):
                _hold(cluster, j.info.arn)
        return None
    row = _container_instance_upsert(cluster, j.info)
    admission = _admission_build(cluster, j, row)
    if j.hold:
        try:
            _hold(cluster, j.info.arn)
            row.status = "DRAINING"
            row.save(update_fields=["status"])
        except AwsPermanentError as exc:
            admission.error_message = f"Could not hold the instance: {exc.code}: {exc.message}"
    try:
        admission.save()
    except IntegrityError:
        return None  # another scan took it
    _admission_announce(cluster, j, admission)
    return admission


def waiting_room_scan(*, cluster: Cluster) -> list[InstanceAdmission]:
    """Find external instances that joined ``cluster``; hold new ones for approval.

    An instance is linked to its activation through SSM (ActivationId -> mi- id ->
    container instance). With ``cluster.hold_new_instances`` on, a new instance is
    set to DRAINING and gets ``fleetdeck.pending=true`` at once, so no task lands on
    it before an admin admits it. Instances joined with an activation Fleetdeck did
    not approve are flagged as errors on the timeline.
    """
    admitted = [_admission_record(cluster, j) for j in _new_instances(cluster)]
    return [a for a in admitted if a is not None]


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
