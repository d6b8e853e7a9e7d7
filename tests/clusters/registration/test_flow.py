"""Onboarding services against the sandbox: every transition and every forbidden one."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from clusters import registration as svc
from clusters.cost import registrations_record
from clusters.models import (
    Activation,
    AuditEntry,
    ContainerInstance,
    Event,
    InstanceAdmission,
    RegistrationRequest,
)
from clusters.registration.tasks import (
    activation_create_task,
    activation_delete_task,
    activations_refresh_all,
    decommission_task,
    instance_admit_task,
    instance_reject_task,
)

from .conftest import activated, requested, spec

pytestmark = pytest.mark.django_db

State = RegistrationRequest.State


def test_double_submit_creates_one_request(fleet, operator) -> None:
    token = uuid.uuid4()
    first, created = svc.registration_request_create(
        actor=operator, spec=spec(fleet.cluster), idempotency_token=token
    )
    second, created_again = svc.registration_request_create(
        actor=operator, spec=spec(fleet.cluster), idempotency_token=token
    )
    assert (created, created_again) == (True, False)
    assert first.pk == second.pk
    assert RegistrationRequest.objects.count() == 1
    assert AuditEntry.objects.filter(action="registration.request").count() == 1
    other = type(operator).objects.create(username="other-operator")
    other.groups.set(operator.groups.all())
    with pytest.raises(svc.RegistrationError):  # a token is not a way into another's request
        svc.registration_request_create(
            actor=other, spec=spec(fleet.cluster), idempotency_token=token
        )
    event = Event.objects.get(source="registration", details__action="registration.request")
    assert event.actor == operator


def test_viewer_cannot_request(fleet, viewer) -> None:
    with pytest.raises(PermissionDenied):
        svc.registration_request_create(
            actor=viewer, spec=spec(fleet.cluster), idempotency_token=uuid.uuid4()
        )
    assert RegistrationRequest.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("registration_limit", 0),
        ("registration_limit", 1001),
        ("expiry_hours", 0),
        ("expiry_hours", 721),
        ("justification", "  "),
    ],
)
def test_limits_enforced_by_the_service(fleet, operator, field, value) -> None:
    with pytest.raises(svc.RegistrationError):
        svc.registration_request_create(
            actor=operator,
            spec=spec(fleet.cluster, **{field: value}),
            idempotency_token=uuid.uuid4(),
        )


def test_operator_cannot_approve_and_requester_cannot_approve_own(
    fleet, operator, admin_user, second_admin, settings
) -> None:
    reg = requested(operator, fleet.cluster)
    with pytest.raises(PermissionDenied):
        svc.registration_approve(actor=operator, registration_request_id=reg.pk)
    own = requested(admin_user, fleet.cluster)
    with pytest.raises(PermissionDenied, match="four-eyes"):
        svc.registration_approve(actor=admin_user, registration_request_id=own.pk)
    reg.refresh_from_db()
    own.refresh_from_db()
    assert reg.state == own.state == State.PENDING
    # A single-person team can relax the rule.
    settings.FLEETDECK_ALLOW_SELF_APPROVAL = True
    svc.registration_approve(actor=admin_user, registration_request_id=own.pk)
    own.refresh_from_db()
    assert own.state == State.APPROVED and own.decided_by == admin_user


def test_approve_enqueues_creation_and_activation_is_stored_encrypted(
    fleet, operator, admin_user, django_capture_on_commit_callbacks
) -> None:
    reg = requested(operator, fleet.cluster)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        svc.registration_approve(actor=admin_user, registration_request_id=reg.pk)
    assert len(callbacks) == 1  # the activation task, sent only after commit
    activation = svc.activation_create(registration_request_id=reg.pk)
    assert activation is not None
    reg.refresh_from_db()
    assert reg.state == State.ACTIVE
    # Running the task again changes nothing (idempotent).
    assert svc.activation_create(registration_request_id=reg.pk) is None
    assert Activation.objects.count() == 1
    aws = fleet.boto("ssm").describe_activations()["ActivationList"]
    assert [a["ActivationId"] for a in aws] == [activation.activation_id]
    assert aws[0]["RegistrationLimit"] == 2
    assert {"Key": "fleetdeck:request", "Value": str(reg.pk)} in aws[0]["Tags"]
    assert activation.encrypted_code.startswith("gAAAA")  # a Fernet token, not a code
    created = Event.objects.get(source="registration", details__action="activation.created")
    assert activation.activation_id in created.message
    assert created.actor == admin_user  # created on the approver's behalf


def test_reject_needs_a_reason_and_is_final(fleet, operator, admin_user) -> None:
    reg = requested(operator, fleet.cluster)
    with pytest.raises(svc.RegistrationError):
        svc.registration_reject(actor=admin_user, registration_request_id=reg.pk, reason=" ")
    with pytest.raises(PermissionDenied):
        svc.registration_reject(actor=operator, registration_request_id=reg.pk, reason="no")
    svc.registration_reject(actor=admin_user, registration_request_id=reg.pk, reason="Use plant 2")
    reg.refresh_from_db()
    assert reg.state == State.REJECTED and reg.rejection_reason == "Use plant 2"
    with pytest.raises(svc.RegistrationError):
        svc.registration_approve(actor=admin_user, registration_request_id=reg.pk)
    entry = AuditEntry.objects.get(action="registration.reject")
    assert entry.actor == admin_user


def test_permanent_aws_failure_leaves_request_retryable(fleet, operator, admin_user) -> None:
    # The sandbox (like AWS) rejects a CreateActivation without an IamRole with a
    # ValidationException. The form never sends one; the row is edited to provoke it.
    reg = requested(operator, fleet.cluster)
    RegistrationRequest.objects.filter(pk=reg.pk).update(iam_role="")
    svc.registration_approve(actor=admin_user, registration_request_id=reg.pk)
    assert svc.activation_create(registration_request_id=reg.pk) is None
    reg.refresh_from_db()
    assert reg.state == State.FAILED and reg.is_retryable
    assert reg.error_code == "ValidationException"
    assert "iamRole" in reg.error_message
    RegistrationRequest.objects.filter(pk=reg.pk).update(iam_role="ecsAnywhereRole")
    svc.registration_retry(actor=operator, registration_request_id=reg.pk)
    assert svc.activation_create(registration_request_id=reg.pk) is not None
    reg.refresh_from_db()
    assert reg.state == State.ACTIVE and reg.attempts == 2


def test_transient_failure_retried_by_task_then_failed_then_retry_succeeds(
    fleet, operator, admin_user
) -> None:
    reg = requested(operator, fleet.cluster)
    svc.registration_approve(actor=admin_user, registration_request_id=reg.pk)
    fleet.sandbox.client.set_faults(
        [{"service": "ssm", "operation": "CreateActivation", "fault": "error500", "rate": 1.0}]
    )
    activation_create_task.apply(args=(reg.pk,))  # eager: retries run in place
    reg.refresh_from_db()
    assert reg.state == State.FAILED
    assert reg.error_code == "ServerException"
    assert reg.attempts == (activation_create_task.max_retries or 0) + 1
    assert fleet.sandbox.client.request_counts()["ssm:CreateActivation"] == reg.attempts
    fleet.sandbox.client.clear_faults()
    svc.registration_retry(actor=admin_user, registration_request_id=reg.pk)
    activation_create_task.apply(args=(reg.pk,))
    reg.refresh_from_db()
    assert reg.state == State.ACTIVE


def test_reveal_rules(fleet, operator, admin_user, viewer) -> None:
    activation = activated(operator, admin_user, fleet.cluster, gpu=True)
    shown = svc.activation_reveal(actor=operator, activation_pk=activation.pk)
    assert shown.command == (
        'curl --proto "https" -o "/tmp/ecs-anywhere-install.sh" '
        '"https://amazon-ecs-agent.s3.amazonaws.com/ecs-anywhere-install-latest.sh" '
        "&& bash /tmp/ecs-anywhere-install.sh --region us-east-1 --cluster edge "
        f"--activation-id {activation.activation_id} --activation-code {shown.code} --enable-gpu"
    )
    assert shown.code not in repr(shown)
    assert svc.activation_reveal(actor=admin_user, activation_pk=activation.pk).code == shown.code
    other_operator = type(operator).objects.create(username="olga-operator")
    other_operator.groups.set(operator.groups.all())
    for outsider in (viewer, other_operator):
        with pytest.raises(PermissionDenied):
            svc.activation_reveal(actor=outsider, activation_pk=activation.pk)
        assert AuditEntry.objects.filter(action="activation.reveal_denied", actor=outsider).exists()
    assert AuditEntry.objects.filter(action="activation.reveal").count() == 2
    for entry in AuditEntry.objects.all():
        assert shown.code not in entry.message and shown.code not in str(entry.details)


def test_expired_and_exhausted_activations_are_not_revealed(fleet, operator, admin_user) -> None:
    one = activated(operator, admin_user, fleet.cluster, registration_limit=1)
    code = svc.activation_reveal(actor=operator, activation_pk=one.pk).code
    fleet.sandbox.client.register_instance(
        activation_id=one.activation_id, activation_code=code, cluster="edge"
    )
    activations_refresh_all()
    one.refresh_from_db()
    assert one.state == Activation.State.EXHAUSTED and one.registrations_count == 1
    with pytest.raises(svc.ActivationNotUsable, match="exhausted"):
        svc.activation_reveal(actor=operator, activation_pk=one.pk)

    two = activated(operator, admin_user, fleet.cluster)
    Activation.objects.filter(pk=two.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(svc.ActivationNotUsable, match="expired"):
        svc.activation_reveal(actor=admin_user, activation_pk=two.pk)
    assert AuditEntry.objects.filter(action="activation.reveal_refused").count() == 2


def test_refresh_lists_outside_activations_and_revoke(fleet, operator, admin_user) -> None:
    ours = activated(operator, admin_user, fleet.cluster)
    outside = fleet.boto("ssm").create_activation(IamRole="ecsAnywhereRole", RegistrationLimit=5)
    activations_refresh_all()
    found = Activation.objects.get(activation_id=outside["ActivationId"])
    assert found.created_outside_fleetdeck and found.encrypted_code == ""
    assert Event.objects.filter(
        source="registration", severity="warning", message__contains=outside["ActivationId"]
    ).exists()
    with pytest.raises(svc.ActivationNotUsable):
        svc.activation_reveal(actor=admin_user, activation_pk=found.pk)
    with pytest.raises(PermissionDenied):
        svc.activation_revoke(actor=operator, activation_pk=ours.pk)
    svc.activation_revoke(actor=admin_user, activation_pk=ours.pk)
    ours.refresh_from_db()
    assert ours.state == Activation.State.REVOKED and ours.revoked_by == admin_user
    # The deletion in AWS is the worker's (no AWS call in the request): run its task.
    activation_delete_task(ours.pk)
    assert Event.objects.filter(message__contains=f"{ours.activation_id}: deleted it in AWS")
    ids = [a["ActivationId"] for a in fleet.boto("ssm").describe_activations()["ActivationList"]]
    assert ids == [outside["ActivationId"]]
    with pytest.raises(svc.ActivationNotUsable, match="revoked"):
        svc.activation_reveal(actor=operator, activation_pk=ours.pk)
    # Deleted outside Fleetdeck: the next refresh marks it revoked, never deletes it.
    fleet.boto("ssm").delete_activation(ActivationId=outside["ActivationId"])
    activations_refresh_all()
    found.refresh_from_db()
    assert found.state == Activation.State.ACTIVE
    # (not yet: a just-created activation may simply not be listed yet)
    Activation.objects.filter(pk=found.pk).update(
        created_at=timezone.now() - svc.VANISH_GRACE - timedelta(seconds=1)
    )
    activations_refresh_all()
    found.refresh_from_db()
    assert found.state == Activation.State.REVOKED


def _join(fleet, activation, code, **kw):  # type: ignore[no-untyped-def]
    return fleet.sandbox.client.register_instance(
        activation_id=activation.activation_id, activation_code=code, cluster="edge", **kw
    )


def _describe(fleet, arn):  # type: ignore[no-untyped-def]
    ecs = fleet.boto("ecs")
    return ecs.describe_container_instances(cluster="edge", containerInstances=[arn])[
        "containerInstances"
    ][0]


def test_waiting_room_holds_then_admit(fleet, operator, admin_user) -> None:
    activation = activated(operator, admin_user, fleet.cluster)
    code = svc.activation_reveal(actor=operator, activation_pk=activation.pk).code
    joined = _join(fleet, activation, code, hostname="line-pc-1", ip="10.3.0.7")
    [admission] = svc.waiting_room_scan(cluster=fleet.cluster)
    assert svc.waiting_room_scan(cluster=fleet.cluster) == []  # idempotent
    assert admission.state == InstanceAdmission.State.PENDING and admission.held
    assert admission.managed_instance_id == joined["instanceId"]
    assert admission.activation == activation and not admission.flagged_unknown_activation
    assert (admission.hostname, admission.ip_address) == ("line-pc-1", "10.3.0.7")
    aws = _describe(fleet, joined["containerInstanceArn"])
    assert aws["status"] == "DRAINING"
    assert {"name": "fleetdeck.pending", "value": "true"} in aws["attributes"]
    with pytest.raises(PermissionDenied):
        svc.instance_admit(actor=operator, admission_pk=admission.pk)
    svc.instance_admit(actor=admin_user, admission_pk=admission.pk)
    # The web request only decides; the worker task (called directly here) calls AWS.
    assert _describe(fleet, joined["containerInstanceArn"])["status"] == "DRAINING"
    instance_admit_task(admission.pk)
    aws = _describe(fleet, joined["containerInstanceArn"])
    assert aws["status"] == "ACTIVE"
    attrs = {a["name"]: a.get("value") for a in aws["attributes"]}
    assert attrs.get("fleetdeck.approved") == "true" and "fleetdeck.pending" not in attrs
    with pytest.raises(svc.RegistrationError):
        svc.instance_admit(actor=admin_user, admission_pk=admission.pk)
    assert AuditEntry.objects.filter(action="instance.admit", actor=admin_user).exists()


def test_waiting_room_reject_deregisters_from_ecs_and_ssm(fleet, operator, admin_user) -> None:
    activation = activated(operator, admin_user, fleet.cluster)
    code = svc.activation_reveal(actor=operator, activation_pk=activation.pk).code
    joined = _join(fleet, activation, code)
    [admission] = svc.waiting_room_scan(cluster=fleet.cluster)
    with pytest.raises(svc.RegistrationError):
        svc.instance_reject(actor=admin_user, admission_pk=admission.pk, reason="")
    svc.instance_reject(actor=admin_user, admission_pk=admission.pk, reason="Not ours")
    instance_reject_task(admission.pk)  # the worker's half, called directly
    assert _describe(fleet, joined["containerInstanceArn"])["status"] == "INACTIVE"
    ssm_ids = [
        i["InstanceId"]
        for i in fleet.boto("ssm").describe_instance_information()["InstanceInformationList"]
    ]
    assert joined["instanceId"] not in ssm_ids


def test_unknown_activation_is_flagged_loudly(fleet) -> None:
    outside = fleet.boto("ssm").create_activation(IamRole="ecsAnywhereRole")
    fleet.sandbox.client.register_instance(
        activation_id=outside["ActivationId"],
        activation_code=outside["ActivationCode"],
        cluster="edge",
    )
    [admission] = svc.waiting_room_scan(cluster=fleet.cluster)
    assert admission.flagged_unknown_activation and admission.held
    event = Event.objects.get(source="registration", severity="error")
    assert "UNKNOWN ACTIVATION" in event.message and outside["ActivationId"] in event.message


def test_hold_policy_off_admits_without_draining(fleet, operator, admin_user) -> None:
    fleet.cluster.hold_new_instances = False
    fleet.cluster.save()
    activation = activated(operator, admin_user, fleet.cluster)
    code = svc.activation_reveal(actor=operator, activation_pk=activation.pk).code
    joined = _join(fleet, activation, code)
    [admission] = svc.waiting_room_scan(cluster=fleet.cluster)
    assert admission.state == InstanceAdmission.State.ADMITTED and not admission.held
    assert _describe(fleet, joined["containerInstanceArn"])["status"] == "ACTIVE"


def test_decommission_operator_requests_admin_confirms(
    fleet, operator, admin_user, second_admin
) -> None:
    activation = activated(operator, admin_user, fleet.cluster)
    code = svc.activation_reveal(actor=operator, activation_pk=activation.pk).code
    joined = _join(fleet, activation, code)
    [admission] = svc.waiting_room_scan(cluster=fleet.cluster)
    svc.instance_admit(actor=admin_user, admission_pk=admission.pk)
    instance_admit_task(admission.pk)
    ci = admission.container_instance
    assert ci is not None
    # The mirror keeps the bill's interval (clusters/cost); a decommission ends it.
    ContainerInstance.objects.filter(pk=ci.pk).update(is_external=True)
    registrations_record(cluster=fleet.cluster, now=timezone.now())
    assert ci.registrations.get().deregistered_at is None
    with pytest.raises(svc.RegistrationError):
        svc.decommission_request(actor=operator, container_instance=ci, reason=" ")
    decom = svc.decommission_request(actor=operator, container_instance=ci, reason="Replaced")
    with pytest.raises(svc.RegistrationError):  # one open request per instance
        svc.decommission_request(actor=operator, container_instance=ci, reason="again")
    with pytest.raises(PermissionDenied):
        svc.decommission_confirm(actor=operator, decommission_pk=decom.pk)
    svc.decommission_confirm(actor=second_admin, decommission_pk=decom.pk)
    decom.refresh_from_db()
    assert decom.state == decom.State.DECOMMISSIONING  # accepted; the worker calls AWS
    decommission_task(decom.pk)  # the worker's half, called directly
    decom.refresh_from_db()
    assert decom.state == decom.State.DONE and decom.confirmed_by == second_admin
    assert _describe(fleet, joined["containerInstanceArn"])["status"] == "INACTIVE"
    ci.refresh_from_db()
    assert ci.status == "INACTIVE"
    interval = ci.registrations.get()
    assert interval.closed_by == "decommission" and interval.deregistered_at is not None
    assert interval.deregistered_at <= timezone.now()
    own = svc.decommission_request(
        actor=admin_user,
        container_instance=ContainerInstance.objects.create(
            cluster=fleet.cluster,
            arn=joined["containerInstanceArn"] + "-2",
            ec2_instance_id="mi-0",
            is_external=True,
        ),
        reason="mine",
    )
    with pytest.raises(PermissionDenied, match="four-eyes"):
        svc.decommission_confirm(actor=admin_user, decommission_pk=own.pk)


def test_instances_older_than_fleetdecks_watch_are_not_drained(fleet) -> None:
    outside = fleet.boto("ssm").create_activation(IamRole="ecsAnywhereRole")
    joined = fleet.sandbox.client.register_instance(
        activation_id=outside["ActivationId"],
        activation_code=outside["ActivationCode"],
        cluster="edge",
    )
    # Fleetdeck first saw the cluster after the machine had joined.
    fleet.cluster.first_seen_at = timezone.now() + timedelta(minutes=1)
    fleet.cluster.save(update_fields=["first_seen_at"])
    [admission] = svc.waiting_room_scan(cluster=fleet.cluster)
    assert admission.state == InstanceAdmission.State.ADMITTED
    assert not admission.held and not admission.flagged_unknown_activation
    assert "before Fleetdeck" in admission.note
    assert _describe(fleet, joined["containerInstanceArn"])["status"] == "ACTIVE"


def test_no_activation_is_created_without_an_encryption_key(
    fleet, operator, admin_user, settings
) -> None:
    reg = requested(operator, fleet.cluster)
    svc.registration_approve(actor=admin_user, registration_request_id=reg.pk)
    settings.FLEETDECK_ENCRYPTION_KEYS = []
    assert svc.activation_create(registration_request_id=reg.pk) is None
    reg.refresh_from_db()
    assert reg.state == State.FAILED and reg.error_code == "EncryptionNotConfigured"
    assert fleet.boto("ssm").describe_activations()["ActivationList"] == []
