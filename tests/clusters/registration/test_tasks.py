from __future__ import annotations

import pytest

from clusters.registration.tasks import clusters_to_scan, waiting_room_scan_all

from .conftest import activated

pytestmark = pytest.mark.django_db


def test_tasks_registered_with_explicit_names_and_scheduled() -> None:
    from console.celery import _app_schedules, app

    names = {
        "clusters.registration.tasks.activation_create",
        "clusters.registration.tasks.activations_refresh_all",
        "clusters.registration.tasks.waiting_room_scan_all",
        "clusters.registration.tasks.waiting_room_scan",
    }
    assert names <= set(app.tasks)
    scheduled = {entry["task"] for entry in _app_schedules().values()}
    assert {
        "clusters.registration.tasks.activations_refresh_all",
        "clusters.registration.tasks.waiting_room_scan_all",
    } <= scheduled


def test_scan_all_skips_clusters_without_external_capacity(fleet, operator, admin_user) -> None:
    assert clusters_to_scan() == []  # nothing external, nothing requested: no AWS calls
    activated(operator, admin_user, fleet.cluster)
    assert clusters_to_scan() == [fleet.cluster]
    fleet.sandbox.client.reset_request_counts()
    waiting_room_scan_all()
    waiting_room_scan_all()
    counts = fleet.sandbox.client.request_counts()
    # No new instance: one listing per run, and SSM is not asked at all.
    assert counts.get("ecs:ListContainerInstances") == 2
    assert "ssm:DescribeInstanceInformation" not in counts
    # A known instance is listed but not described again.
    from clusters import registration as svc

    code = svc.activation_reveal(
        actor=operator, activation_pk=fleet.cluster.activations.get().pk
    ).code
    fleet.sandbox.client.register_instance(
        activation_id=fleet.cluster.activations.get().activation_id,
        activation_code=code,
        cluster="edge",
    )
    waiting_room_scan_all()
    fleet.sandbox.client.reset_request_counts()
    waiting_room_scan_all()
    assert fleet.sandbox.client.request_counts() == {"ecs:ListContainerInstances": 1}


def test_selectors_have_fixed_query_counts(
    fleet, operator, admin_user, django_assert_max_num_queries, admin_client_
) -> None:
    from django.urls import reverse

    for _ in range(2):
        activated(operator, admin_user, fleet.cluster)
    for name in ("registrations", "activations", "waiting-room", "registration-queue"):
        admin_client_.get(reverse(f"clusters:{name}"))  # warm the session/user caches
        with django_assert_max_num_queries(12) as few:
            admin_client_.get(reverse(f"clusters:{name}"))
        base = len(few.captured_queries)
        for _ in range(2):
            activated(operator, admin_user, fleet.cluster)
        with django_assert_max_num_queries(base):
            admin_client_.get(reverse(f"clusters:{name}"))


@pytest.mark.django_db(transaction=True)
def test_a_late_create_answer_stores_the_code_of_the_activation_the_refresh_linked(
    sandbox, operator
) -> None:
    """AWS created the activation at once but its answer is slow (sandbox fault
    ``stall_after``); the periodic refresh sees the activation first and links it to
    its request without a code. When the answer arrives, the create call keeps that
    same activation and stores its code: no second activation, none deleted."""
    import threading

    from django.db import connection

    from clusters import registration as svc
    from clusters.models import Activation, RegistrationRequest

    from .conftest import make_fleet, requested

    fleet = make_fleet(sandbox)
    reg = requested(operator, fleet.cluster)
    # Approved as registration_approve leaves it (without sending the create message).
    RegistrationRequest.objects.filter(pk=reg.pk).update(state=RegistrationRequest.State.APPROVED)
    sandbox.client.set_faults(
        [
            {
                "service": "ssm",
                "operation": "CreateActivation",
                "fault": "stall_after",
                "count": 1,
                "stall_seconds": 3,
            }
        ]
    )
    sandbox.client.reset_request_counts()
    created: list[Activation | None] = []

    def create() -> None:
        try:
            created.append(svc.activation_create(registration_request_id=reg.pk))
        finally:
            connection.close()

    worker = threading.Thread(target=create)
    worker.start()
    try:
        linked = None
        for _ in range(40):  # the call is inside its 3 s wait: AWS already has it
            svc.activations_refresh(account=fleet.account, region="us-east-1")
            linked = Activation.objects.filter(request=reg).first()
            if linked is not None:
                break
            worker.join(0.05)
        assert linked is not None and not linked.encrypted_code
        assert (
            RegistrationRequest.objects.get(pk=reg.pk).state == RegistrationRequest.State.APPROVED
        )
    finally:
        worker.join(30)
        sandbox.client.clear_faults()
    assert created and created[0] is not None and created[0].pk == linked.pk
    row = Activation.objects.get(pk=linked.pk)
    assert row.encrypted_code and row.state == Activation.State.ACTIVE
    assert RegistrationRequest.objects.get(pk=reg.pk).state == RegistrationRequest.State.ACTIVE
    counts = sandbox.client.request_counts()
    assert counts.get("ssm:CreateActivation") == 1 and "ssm:DeleteActivation" not in counts
    listed = fleet.boto("ssm").describe_activations()["ActivationList"]
    assert [a["ActivationId"] for a in listed] == [row.activation_id]
    revealed = svc.activation_reveal(actor=operator, activation_pk=row.pk)
    joined = sandbox.client.register_instance(
        activation_id=row.activation_id, activation_code=revealed.code, cluster="edge"
    )
    assert joined["instanceId"].startswith("mi-")


def test_a_second_activation_from_a_redelivered_create_is_deleted(fleet, operator) -> None:
    """A worker child dies inside CreateActivation after AWS did the work; the broker
    delivers the message again at once and that run creates the request's activation.
    The first one, tagged for the same request, is a duplicate whose code nobody ever
    held: the refresh deletes it in AWS instead of listing it as made outside Fleetdeck."""
    from clusters import registration as svc
    from clusters.models import Activation, Event, RegistrationRequest
    from clusters.registration import REQUEST_TAG

    from .conftest import requested

    reg = requested(operator, fleet.cluster)
    RegistrationRequest.objects.filter(pk=reg.pk).update(state=RegistrationRequest.State.APPROVED)
    ssm = fleet.boto("ssm")
    lost = ssm.create_activation(
        IamRole="ecsAnywhereRole",
        RegistrationLimit=2,
        Tags=[{"Key": REQUEST_TAG, "Value": str(reg.pk)}],
    )["ActivationId"]
    mine = svc.activation_create(registration_request_id=reg.pk)
    assert mine is not None and mine.activation_id != lost
    fleet.sandbox.client.reset_request_counts()
    svc.activations_refresh(account=fleet.account, region="us-east-1")
    assert fleet.sandbox.client.request_counts().get("ssm:DeleteActivation") == 1
    listed = [a["ActivationId"] for a in ssm.describe_activations()["ActivationList"]]
    assert listed == [mine.activation_id]
    duplicate = Activation.objects.get(activation_id=lost)
    assert duplicate.state == Activation.State.REVOKED and duplicate.request_id is None
    assert not duplicate.created_outside_fleetdeck
    event = Event.objects.get(details__action="activation.duplicate_deleted")
    assert lost in event.message and mine.activation_id in event.message
    assert RegistrationRequest.objects.get(pk=reg.pk).state == RegistrationRequest.State.ACTIVE
    # A second refresh changes nothing more.
    fleet.sandbox.client.reset_request_counts()
    svc.activations_refresh(account=fleet.account, region="us-east-1")
    assert "ssm:DeleteActivation" not in fleet.sandbox.client.request_counts()
