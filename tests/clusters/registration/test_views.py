"""The onboarding pages: roles, CSRF-checked POSTs, inline validation, polling,
and the reveal rules as seen through HTTP."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from clusters import registration as svc
from clusters.models import AuditEntry, RegistrationRequest
from clusters.registration.tasks import decommission_task, instance_admit_task, instance_reject_task

from .conftest import activated, requested

pytestmark = pytest.mark.django_db


def post(client, url: str, data: dict | None = None, **headers):  # type: ignore[no-untyped-def]
    if "csrftoken" not in client.cookies:
        client.get(reverse("clusters:registrations"))
    token = client.cookies["csrftoken"].value
    return client.post(url, data or {}, HTTP_X_CSRFTOKEN=token, **headers)


def form_data(cluster, token: str, **overrides) -> dict:  # type: ignore[no-untyped-def]
    data = {
        "idempotency_token": token,
        "cluster": cluster.pk,
        "registration_limit": "3",
        "expiry_hours": "24",
        "iam_role": "",
        "default_instance_name": "line-pc",
        "tags": "site=plant-3\nowner=ops",
        "docker_install_source": "docker",
        "justification": "Three line PCs for the new packaging line",
    }
    data.update(overrides)
    return data


def test_pages_by_role(fleet, viewer_client, operator_client, admin_client_) -> None:
    for name in ("registrations", "activations", "waiting-room", "decommissions"):
        assert viewer_client.get(reverse(f"clusters:{name}")).status_code == 200
    assert viewer_client.get(reverse("clusters:registration-new")).status_code == 403
    assert operator_client.get(reverse("clusters:registration-new")).status_code == 200
    assert operator_client.get(reverse("clusters:registration-queue")).status_code == 403
    assert admin_client_.get(reverse("clusters:registration-queue")).status_code == 200


def test_request_form_double_submit_creates_one(fleet, operator_client, operator) -> None:
    page = operator_client.get(reverse("clusters:registration-new"))
    token = page.context["form"].initial["idempotency_token"]
    url = reverse("clusters:registration-new")
    first = post(operator_client, url, form_data(fleet.cluster, str(token)))
    second = post(operator_client, url, form_data(fleet.cluster, str(token)))
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    reg = RegistrationRequest.objects.get()
    assert reg.requested_by == operator
    assert reg.iam_role == "ecsAnywhereRole"  # the account's default
    assert reg.tags == {"site": "plant-3", "owner": "ops"}
    entry = AuditEntry.objects.get(action="registration.request")
    assert entry.remote_addr == "127.0.0.1"


def test_viewer_cannot_post_a_request(fleet, viewer_client) -> None:
    url = reverse("clusters:registration-new")
    response = post(viewer_client, url, form_data(fleet.cluster, str(uuid.uuid4())))
    assert response.status_code == 403
    assert not RegistrationRequest.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("registration_limit", "0", "greater than or equal to 1"),
        ("registration_limit", "1001", "less than or equal to 1000"),
        ("expiry_hours", "721", "less than or equal to 720"),
        ("iam_role", "bad role!", "IAM role name"),
        ("tags", "aws:owner=x", "reserved"),
        ("tags", "novalue", "key=value"),
        ("justification", "short", "at least 10"),
    ],
)
def test_inline_validation_same_rules_as_submit(
    fleet, operator_client, field, value, message
) -> None:
    data = form_data(fleet.cluster, str(uuid.uuid4()), **{field: value})
    inline = post(
        operator_client,
        reverse("clusters:registration-validate"),
        {**data, "_field": field},
        HTTP_HX_REQUEST="true",
    )
    assert inline.status_code == 200
    assert message in inline.content.decode()
    submitted = post(operator_client, reverse("clusters:registration-new"), data)
    assert submitted.status_code == 400
    assert message in submitted.content.decode()
    assert not RegistrationRequest.objects.exists()


def test_inline_validation_of_a_good_value_is_empty(fleet, operator_client) -> None:
    data = form_data(fleet.cluster, str(uuid.uuid4()), registration_limit="1000")
    inline = post(
        operator_client,
        reverse("clusters:registration-validate"),
        {**data, "_field": "registration_limit"},
    )
    assert inline.content.decode().strip() == ""


def test_operator_and_requester_cannot_approve_over_http(
    fleet, operator, operator_client, admin_user, admin_client_
) -> None:
    reg = requested(operator, fleet.cluster)
    url = reverse("clusters:registration-approve", args=[reg.pk])
    assert post(operator_client, url).status_code == 403
    own = requested(admin_user, fleet.cluster)
    assert (
        post(admin_client_, reverse("clusters:registration-approve", args=[own.pk])).status_code
        == 403
    )
    reg.refresh_from_db()
    own.refresh_from_db()
    assert reg.state == own.state == "pending"
    detail = admin_client_.get(reverse("clusters:registration-detail", args=[own.pk]))
    assert "approve-button" not in detail.content.decode()


def test_progress_polls_until_finished(fleet, operator, operator_client, admin_user) -> None:
    reg = requested(operator, fleet.cluster)
    url = reverse("clusters:registration-detail", args=[reg.pk]) + "?part=progress"
    assert operator_client.get(url, HTTP_HX_REQUEST="true").status_code == 200
    svc.registration_approve(actor=admin_user, registration_request_id=reg.pk)
    polling = operator_client.get(url, HTTP_HX_REQUEST="true")
    assert polling.status_code == 200 and "Creating the SSM activation" in polling.content.decode()
    svc.activation_create(registration_request_id=reg.pk)
    done = operator_client.get(url, HTTP_HX_REQUEST="true")
    assert done.status_code == 286
    assert "Reveal code" in done.content.decode()


def test_reveal_over_http(
    fleet, operator, operator_client, admin_user, viewer, viewer_client
) -> None:
    activation = activated(operator, admin_user, fleet.cluster)
    url = reverse("clusters:activation-reveal", args=[activation.pk])
    assert operator_client.get(url).status_code == 405  # never GET
    # Not rendered for viewers...
    assert activation.request is not None
    page = viewer_client.get(reverse("clusters:registration-detail", args=[activation.request.pk]))
    assert url not in page.content.decode()
    assert url not in viewer_client.get(reverse("clusters:activations")).content.decode()
    # ...and refused, with an audit line, when they try anyway.
    denied = post(viewer_client, url)
    assert denied.status_code == 403
    entry = AuditEntry.objects.get(action="activation.reveal_denied")
    assert entry.actor == viewer and entry.remote_addr == "127.0.0.1"
    shown = post(operator_client, url, HTTP_HX_REQUEST="true")
    assert shown.status_code == 200
    assert "no-store" in shown["Cache-Control"]
    body = shown.content.decode()
    assert 'data-copy-target="#install-command"' in body
    assert f"--activation-id {activation.activation_id} --activation-code " in body
    assert AuditEntry.objects.filter(action="activation.reveal", actor=operator).count() == 1


def test_revoke_over_http_needs_admin(
    fleet, operator, operator_client, admin_user, admin_client_
) -> None:
    activation = activated(operator, admin_user, fleet.cluster)
    url = reverse("clusters:activation-revoke", args=[activation.pk])
    page = admin_client_.get(reverse("clusters:activations")).content.decode()
    assert "data-confirm=" in page and url in page
    assert post(operator_client, url).status_code == 403
    assert post(admin_client_, url).status_code == 302
    activation.refresh_from_db()
    assert activation.state == "revoked"
    url = reverse("clusters:activation-reveal", args=[activation.pk])
    revealed = post(operator_client, url)
    assert revealed.status_code == 409 and "revoked" in revealed.content.decode()
    # htmx swaps only 2xx answers: it gets the explanation with a 200.
    inline = post(operator_client, url, HTTP_HX_REQUEST="true")
    assert inline.status_code == 200 and "revoked" in inline.content.decode()
    assert "<nav" not in inline.content.decode()  # a fragment, not a page


def test_waiting_room_page_flags_unknown_and_hides_buttons_from_viewers(
    fleet, viewer_client, admin_client_
) -> None:
    outside = fleet.boto("ssm").create_activation(IamRole="ecsAnywhereRole")
    fleet.sandbox.client.register_instance(
        activation_id=outside["ActivationId"],
        activation_code=outside["ActivationCode"],
        cluster="edge",
        hostname="rogue-box",
    )
    [admission] = svc.waiting_room_scan(cluster=fleet.cluster)
    admit_url = reverse("clusters:admission-admit", args=[admission.pk])
    as_admin = admin_client_.get(reverse("clusters:waiting-room")).content.decode()
    assert "UNKNOWN ACTIVATION" in as_admin and "rogue-box" in as_admin and admit_url in as_admin
    as_viewer = viewer_client.get(reverse("clusters:waiting-room")).content.decode()
    assert "UNKNOWN ACTIVATION" in as_viewer and admit_url not in as_viewer
    assert post(viewer_client, admit_url).status_code == 403
    reject_url = reverse("clusters:admission-reject", args=[admission.pk])
    assert post(admin_client_, reject_url, {"reason": "Nobody asked for it"}).status_code == 302
    admission.refresh_from_db()
    assert admission.state == "rejecting"  # accepted; the worker deregisters
    instance_reject_task(admission.pk)  # the worker's half, called directly
    admission.refresh_from_db()
    assert admission.state == "rejected"


def test_decommission_pages_show_tasks_then_admin_confirms(
    fleet, operator, operator_client, admin_user, admin_client_
) -> None:
    from deployments.models import Task

    activation = activated(operator, admin_user, fleet.cluster)
    code = svc.activation_reveal(actor=operator, activation_pk=activation.pk).code
    fleet.sandbox.client.register_instance(
        activation_id=activation.activation_id, activation_code=code, cluster="edge"
    )
    [admission] = svc.waiting_room_scan(cluster=fleet.cluster)
    svc.instance_admit(actor=admin_user, admission_pk=admission.pk)
    instance_admit_task(admission.pk)
    instance = admission.container_instance
    assert instance is not None
    Task.objects.create(
        arn="arn:aws:ecs:us-east-1:123456789012:task/edge/0123456789abcdef",
        cluster=fleet.cluster,
        container_instance=instance,
        group="service:web",
        last_status="RUNNING",
    )
    url = reverse("clusters:decommission-new", args=[instance.pk])
    page = operator_client.get(url).content.decode()
    assert "service:web" in page and "0123456789abcdef" in page
    assert post(operator_client, url, {"reason": "Replaced by a new PC"}).status_code == 302
    listing = admin_client_.get(reverse("clusters:decommissions")).content.decode()
    assert "Replaced by a new PC" in listing
    from clusters.models import DecommissionRequest

    decom = DecommissionRequest.objects.get()
    confirm = reverse("clusters:decommission-confirm", args=[decom.pk])
    review = admin_client_.get(confirm).content.decode()
    assert "0123456789abcdef" in review and "confirm-decommission" in review
    assert operator_client.get(confirm).status_code == 403
    assert post(operator_client, confirm).status_code == 403
    assert post(admin_client_, confirm).status_code == 302
    decom.refresh_from_db()
    assert decom.state == "decommissioning"  # accepted; the worker drains and deregisters
    decommission_task(decom.pk)  # the worker's half, called directly
    decom.refresh_from_db()
    assert decom.state == "done"
    assert activation.request is not None
    detail = admin_client_.get(
        reverse("clusters:registration-detail", args=[activation.request.pk])
    )
    joined = detail.content.decode()
    assert admission.managed_instance_id in joined and "Admitted" in joined


def test_hold_policy_toggle_is_admin_only_and_audited(
    fleet, operator_client, admin_client_
) -> None:
    url = reverse("clusters:cluster-hold-policy", args=[fleet.cluster.pk])
    assert url in admin_client_.get(reverse("clusters:waiting-room")).content.decode()
    assert post(operator_client, url).status_code == 403
    assert post(admin_client_, url).status_code == 302  # no "hold" -> off
    fleet.cluster.refresh_from_db()
    assert fleet.cluster.hold_new_instances is False
    assert post(admin_client_, url, {"hold": "on"}).status_code == 302
    fleet.cluster.refresh_from_db()
    assert fleet.cluster.hold_new_instances is True
    assert AuditEntry.objects.filter(action="cluster.hold_policy").count() == 2
