"""Admit, reject and decommission as in-flight work: the web request decides (a
compare-and-set to ADMITTING / REJECTING / DECOMMISSIONING), a worker task calls AWS
outside any transaction, and the pages follow it by htmx polling until the outcome.

The worker half runs by calling the task function directly (the real-worker path is
in tests/reliability/test_redis_outage_inflight.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clusters import registration as svc
from clusters.aws import ecs_instances
from clusters.aws.errors import AwsPermanentError, AwsTransientError
from clusters.models import AuditEntry, DecommissionRequest, Event, InstanceAdmission
from clusters.registration.tasks import decommission_task, instance_admit_task, instance_reject_task

from .conftest import activated
from .test_views import post

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def _waiting(fleet, operator, admin_user) -> InstanceAdmission:  # type: ignore[no-untyped-def]
    activation = activated(operator, admin_user, fleet.cluster)
    code = svc.activation_reveal(actor=operator, activation_pk=activation.pk).code
    fleet.sandbox.client.register_instance(
        activation_id=activation.activation_id, activation_code=code, cluster="edge"
    )
    [admission] = svc.waiting_room_scan(cluster=fleet.cluster)
    return admission


def _ecs_writes(fleet) -> int:  # type: ignore[no-untyped-def]
    counts = fleet.sandbox.client.request_counts()
    return sum(
        counts.get(f"ecs:{op}", 0)
        for op in ("UpdateContainerInstancesState", "PutAttributes", "DeleteAttributes")
    )


def test_admit_is_followed_by_polling_until_the_worker_ran(
    fleet, operator, admin_user, admin_client_, viewer_client
) -> None:
    admission = _waiting(fleet, operator, admin_user)
    before = _ecs_writes(fleet)
    url = reverse("clusters:admission-admit", args=[admission.pk])
    page = post(admin_client_, url, follow=True).content.decode()
    assert "queued" in page and "Admitting" in page
    assert _ecs_writes(fleet) == before  # no AWS call in the web request
    admission.refresh_from_db()
    assert admission.state == InstanceAdmission.State.ADMITTING
    assert admission.decided_by == admin_user
    # Without JavaScript the page says what is going on and links to itself.
    plain = viewer_client.get(reverse("clusters:waiting-room")).content.decode()
    assert "data-in-flight" in plain and "every 2s [document.visibilityState=='visible']" in plain
    assert url not in plain  # no second decision while one is in flight
    progress = reverse("clusters:waiting-room") + f"?part=admission&pk={admission.pk}"
    polled = viewer_client.get(progress, **HX)
    assert polled.status_code == 200 and "data-in-flight" in polled.content.decode()

    instance_admit_task(admission.pk)
    done = viewer_client.get(progress, **HX)
    assert done.status_code == 286  # htmx stops polling
    html = done.content.decode()
    assert "admitted: ACTIVE" in html and "admitted: ACTIVE" in done["HX-Trigger"]  # the flash
    assert _ecs_writes(fleet) == before + 3
    instance_admit_task(admission.pk)  # a second delivery changes nothing
    assert _ecs_writes(fleet) == before + 3
    assert AuditEntry.objects.filter(action="instance.admit").count() == 1
    assert Event.objects.filter(details__action="instance.admitted").count() == 1


def test_two_admins_deciding_at_once_get_one_decision(fleet, operator, admin_user) -> None:
    admission = _waiting(fleet, operator, admin_user)
    svc.instance_reject(actor=admin_user, admission_pk=admission.pk, reason="Not ours")
    with pytest.raises(svc.RegistrationError, match="rejecting"):
        svc.instance_admit(actor=admin_user, admission_pk=admission.pk)
    assert AuditEntry.objects.filter(action__startswith="instance.").count() == 1


def test_a_missing_row_returns_quietly(db) -> None:
    instance_admit_task(987654)
    instance_reject_task(987654)
    decommission_task(987654)


def test_a_refused_admit_goes_back_to_pending_with_the_error(
    fleet, operator, admin_user, monkeypatch
) -> None:
    admission = _waiting(fleet, operator, admin_user)
    svc.instance_admit(actor=admin_user, admission_pk=admission.pk)

    # A fault the sandbox cannot produce for this call (a permanent AWS refusal): mocked.
    def refuse(**_: object) -> None:
        raise AwsPermanentError("AccessDeniedException", "not allowed")

    monkeypatch.setattr(ecs_instances, "set_container_instance_state", refuse)
    instance_admit_task(admission.pk)
    admission.refresh_from_db()
    assert admission.state == InstanceAdmission.State.PENDING
    assert "AccessDeniedException" in admission.error_message
    event = Event.objects.get(details__action="instance.admit_failed")
    assert event.severity == "error" and event.actor == admin_user
    svc.instance_admit(actor=admin_user, admission_pk=admission.pk)  # decide again


def test_a_throttled_reject_is_retried_then_given_up(fleet, operator, admin_user) -> None:
    admission = _waiting(fleet, operator, admin_user)
    svc.instance_reject(actor=admin_user, admission_pk=admission.pk, reason="Not ours")
    fleet.sandbox.client.set_faults(
        [{"service": "ecs", "operation": "DeregisterContainerInstance", "fault": "throttle"}]
    )
    try:
        with pytest.raises(AwsTransientError):  # called directly, a retry re-raises
            instance_reject_task(admission.pk)
        admission.refresh_from_db()
        assert admission.state == InstanceAdmission.State.REJECTING  # kept for the retry
        instance_reject_task.apply(args=(admission.pk,), retries=instance_reject_task.max_retries)
    finally:
        fleet.sandbox.client.clear_faults()
    admission.refresh_from_db()
    assert admission.state == InstanceAdmission.State.PENDING
    assert "gave up" in admission.error_message


def test_decommission_is_followed_until_done(
    fleet, operator, admin_user, second_admin, viewer_client, admin_client_
) -> None:
    admission = _waiting(fleet, operator, admin_user)
    svc.instance_admit(actor=admin_user, admission_pk=admission.pk)
    instance_admit_task(admission.pk)
    ci = admission.container_instance
    assert ci is not None
    decom = svc.decommission_request(actor=operator, container_instance=ci, reason="Old")
    svc.decommission_confirm(actor=second_admin, decommission_pk=decom.pk)
    with pytest.raises(svc.RegistrationError):  # no second confirm while it runs
        svc.decommission_confirm(actor=admin_user, decommission_pk=decom.pk)
    with pytest.raises(svc.RegistrationError):  # nor a second request for the instance
        svc.decommission_request(actor=operator, container_instance=ci, reason="again")
    review = admin_client_.get(reverse("clusters:decommission-confirm", args=[decom.pk]))
    assert "a background worker is draining" in review.content.decode()
    assert "confirm-decommission" not in review.content.decode()
    listing = viewer_client.get(reverse("clusters:decommissions")).content.decode()
    assert "data-in-flight" in listing and "Draining and deregistering" in listing
    progress = reverse("clusters:decommissions") + f"?part=decommission&pk={decom.pk}"
    assert viewer_client.get(progress, **HX).status_code == 200
    decommission_task(decom.pk)
    done = viewer_client.get(progress, **HX)
    assert done.status_code == 286 and "drained and deregistered" in done.content.decode()
    decom.refresh_from_db()
    assert decom.state == DecommissionRequest.State.DONE
    assert Event.objects.filter(details__action="decommission.done").count() == 1


def test_a_failed_decommission_can_be_confirmed_again(
    fleet, operator, admin_user, second_admin, monkeypatch
) -> None:
    admission = _waiting(fleet, operator, admin_user)
    svc.instance_admit(actor=admin_user, admission_pk=admission.pk)
    instance_admit_task(admission.pk)
    assert admission.container_instance is not None
    decom = svc.decommission_request(
        actor=operator, container_instance=admission.container_instance, reason="Old"
    )
    svc.decommission_confirm(actor=second_admin, decommission_pk=decom.pk)

    # A permanent AWS refusal, which the sandbox cannot produce: mocked.
    def refuse(**_: object) -> None:
        raise AwsPermanentError("ClusterNotFoundException", "gone")

    with monkeypatch.context() as m:
        m.setattr(ecs_instances, "set_container_instance_state", refuse)
        decommission_task(decom.pk)
    decom.refresh_from_db()
    assert decom.state == DecommissionRequest.State.FAILED
    assert decom.error_message == "ClusterNotFoundException: gone"
    assert Event.objects.get(details__action="decommission.failed").severity == "error"
    svc.decommission_confirm(actor=second_admin, decommission_pk=decom.pk)
    decommission_task(decom.pk)
    decom.refresh_from_db()
    assert decom.state == DecommissionRequest.State.DONE and decom.error_message == ""
