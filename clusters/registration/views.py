"""Pages of the onboarding flow: request, approve, activation progress, reveal,
activations, the waiting room and decommissioning. Thin views: role check, then
a selector or a service."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling, trigger_client_event

from clusters import registration as svc
from clusters.aws.errors import AwsError
from clusters.core.htmx import HtmxHttpRequest, flash
from clusters.core.inputs import db_id
from clusters.core.jobs import QUEUED_WHILE_PAUSED as QUEUED
from clusters.core.jobs import job_refused
from clusters.core.roles import ADMIN, OPERATOR, VIEWER, has_role, role_required
from clusters.models import (
    Activation,
    Cluster,
    ContainerInstance,
    DecommissionRequest,
    InstanceAdmission,
)
from clusters.registration import selectors as sel
from clusters.registration.admissions import ADMIT_TASK, REJECT_TASK
from clusters.registration.decommission import DECOMMISSION_TASK
from clusters.registration.forms import ReasonForm, RegistrationRequestForm

SECTION = "registrations"


def _ctx(request: HttpRequest, tab: str, **extra: Any) -> dict[str, Any]:
    return {
        "section": SECTION,
        "tab": tab,
        "counts": sel.registration_counts(),
        "is_admin": has_role(request.user, ADMIN),
        "is_operator": has_role(request.user, OPERATOR),
        **extra,
    }


def _progress(request: HtmxHttpRequest, row: Any, outcome: Any, template: str) -> HttpResponse:
    """An in-flight row's progress, polled; its outcome (and flash) stops the polling."""
    if row is None:
        return HttpResponseStopPolling("")
    done = outcome(row)
    context = {"row": row, "flash": done}
    html = render_to_string(f"clusters/registrations/{template}", context, request)
    if not done:
        return HttpResponse(html)
    # The lists around the row (pending → decided) refresh at once, not on their next poll.
    return flash(trigger_client_event(HttpResponseStopPolling(html), "registration-changed"), *done)


def _fail(request: HttpRequest, exc: Exception) -> None:
    if isinstance(exc, AwsError):
        messages.error(request, f"AWS answered {exc.code}: {exc.message}")
    else:
        messages.error(request, str(exc))


@require_GET
@role_required(VIEWER)
def registrations(request: HttpRequest) -> HttpResponse:
    mine = request.GET.get("mine") == "1"
    rows = sel.registration_requests(user=request.user if mine else None)
    return render(
        request,
        "clusters/registrations/list.html",
        _ctx(request, "requests", requests=rows, mine=mine, title="Registrations"),
    )


@require_http_methods(["GET", "POST"])
@role_required(OPERATOR)
def registration_new(request: HttpRequest) -> HttpResponse:
    form = RegistrationRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            reg, created = svc.registration_request_create(
                actor=request.user,
                spec=form.to_spec(),
                idempotency_token=form.cleaned_data["idempotency_token"],
                request=request,
            )
        except svc.RegistrationError as exc:
            form.add_error(None, str(exc))
        else:
            if created:
                messages.success(request, f"Request #{reg.pk} sent for approval.")
            else:
                messages.info(request, f"Request #{reg.pk} was already sent.")
            return redirect("clusters:registration-detail", pk=reg.pk)
    outlook = sel.approval_outlook(requester=request.user, viewer=request.user)
    context = _ctx(request, "new", form=form, outlook=outlook, title="Request registrations")
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "clusters/registrations/new.html", context, status=status)


@require_POST
@role_required(OPERATOR)
def registration_validate(request: HttpRequest) -> HttpResponse:
    """One field's errors, for inline validation while typing (same form rules)."""
    form = RegistrationRequestForm(request.POST)
    name = request.POST.get("_field", "")
    if name not in form.fields:
        return HttpResponse("", status=400)
    form.is_valid()
    return render(
        request, "clusters/registrations/new.html#field-errors", {"errors": form.errors.get(name)}
    )


@require_GET
@role_required(VIEWER)
def registration_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    reg = sel.registration_detail(pk)
    if reg is None:
        raise Http404
    context = _ctx(request, "requests", **sel.registration_page(reg, request.user))
    if request.htmx and request.GET.get("part") == "progress":
        html = render_to_string("clusters/registrations/detail.html#progress", context, request)
        # htmx stops polling once the outcome is known
        return HttpResponse(html) if reg.is_in_progress else HttpResponseStopPolling(html)
    return render(request, "clusters/registrations/detail.html", context)


def _activation_queued(request: HttpRequest, text: str, pk: int) -> None:
    """The one outage policy: the step is kept, and the page says the SSM call waits
    for background work when the broker did not take it."""
    if svc.activation_create_waiting(pk):
        messages.warning(request, f"Request #{pk} is approved. Creating its activation: {QUEUED}")
    else:
        messages.success(request, text)


@require_POST
@role_required(ADMIN)
def registration_approve(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        svc.registration_approve(actor=request.user, registration_request_id=pk, request=request)
        _activation_queued(request, f"Request #{pk} approved; creating the activation.", pk)
    except svc.RegistrationError as exc:
        _fail(request, exc)
    return redirect("clusters:registration-detail", pk=pk)


@require_POST
@role_required(ADMIN)
def registration_reject(request: HttpRequest, pk: int) -> HttpResponse:
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A rejection needs a reason.")
        return redirect("clusters:registration-detail", pk=pk)
    try:
        svc.registration_reject(
            actor=request.user,
            registration_request_id=pk,
            reason=form.cleaned_data["reason"],
            request=request,
        )
        messages.success(request, f"Request #{pk} rejected.")
    except svc.RegistrationError as exc:
        _fail(request, exc)
    return redirect("clusters:registration-detail", pk=pk)


@require_POST
@role_required(OPERATOR)
def registration_retry(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        svc.registration_retry(actor=request.user, registration_request_id=pk, request=request)
        _activation_queued(request, "Trying again to create the activation.", pk)
    except svc.RegistrationError as exc:
        _fail(request, exc)
    return redirect("clusters:registration-detail", pk=pk)


@require_GET
@role_required(ADMIN)
def approval_queue(request: HttpRequest) -> HttpResponse:
    context = _ctx(request, "queue", queue=sel.approval_queue(), title="Approval queue")
    context["self_approval"] = svc.self_approval_allowed()
    return render(request, "clusters/registrations/queue.html", context)


@require_GET
@role_required(VIEWER)
def activations(request: HttpRequest) -> HttpResponse:
    rows = list(sel.activations()[:200])
    revealable = {
        a.pk for a in rows if a.encrypted_code and a.is_usable and svc.can_reveal(request.user, a)
    }
    return render(
        request,
        "clusters/registrations/activations.html",
        _ctx(request, "activations", activations=rows, revealable=revealable, title="Activations"),
    )


@sensitive_variables("shown")
@never_cache
@require_POST
@role_required(VIEWER)  # the service decides (requester or admin) and audits refusals
def activation_reveal(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(Activation, pk=pk)
    try:
        shown = svc.activation_reveal(actor=request.user, activation_pk=pk, request=request)
    except svc.ActivationNotUsable as exc:
        # htmx swaps only 2xx answers, so it gets the explanation with a 200.
        response = render(
            request,
            "clusters/registrations/reveal.html#refused"
            if request.htmx
            else "clusters/registrations/reveal_page.html",
            _ctx(request, "activations", message=str(exc), title="Activation code"),
            status=200 if request.htmx else 409,
        )
    else:
        response = render(
            request,
            "clusters/registrations/reveal.html#revealed"
            if request.htmx
            else "clusters/registrations/reveal_page.html",
            _ctx(request, "activations", shown=shown, title="Activation code"),
        )
    return response


@require_POST
@role_required(ADMIN)
def activation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        activation = svc.activation_revoke(actor=request.user, activation_pk=pk, request=request)
        messages.success(
            request,
            f"Activation {activation.activation_id} revoked; a worker deletes it in AWS "
            "(the timeline says when).",
        )
    except (svc.RegistrationError, AwsError) as exc:
        _fail(request, exc)
    return redirect("clusters:activations")


@require_GET
@role_required(VIEWER)
def waiting_room(request: HtmxHttpRequest) -> HttpResponse:
    part = request.GET.get("part") if request.htmx else None
    if part == "admission":
        w = sel.admission_progress(db_id(request.GET.get("pk")) or 0)
        return _progress(request, w, sel.admission_outcome, "waiting_room.html#admission-progress")
    context = _ctx(request, "waiting-room", title="Waiting room", clusters=sel.hold_policies())
    context.update(sel.waiting_room())
    if part in ("pending", "decided"):
        return render(request, f"clusters/registrations/waiting_room.html#{part}", context)
    return render(request, "clusters/registrations/waiting_room.html", context)


@require_POST
@role_required(ADMIN)
def cluster_hold_policy(request: HttpRequest, pk: int) -> HttpResponse:
    hold = request.POST.get("hold") == "on"
    try:
        cluster = svc.cluster_hold_policy_set(
            actor=request.user, cluster_id=pk, hold=hold, request=request
        )
    except Cluster.DoesNotExist:
        raise Http404 from None
    held = "held for approval" if hold else "no longer held"
    messages.success(request, f"{cluster.name}: new instances are {held}.")
    return redirect("clusters:waiting-room")


def _queued(request: HttpRequest, what: str, task: str, pk: int) -> None:
    """One outage policy: the step is kept; say so when the broker did not take it."""
    if job_refused(task, pk):
        messages.warning(request, f"{what}: {QUEUED}")
    else:
        messages.info(request, f"{what}: queued for a background worker.")


@require_POST
@role_required(ADMIN)
def admission_admit(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        admission = svc.instance_admit(actor=request.user, admission_pk=pk, request=request)
        _queued(request, f"Admitting {admission.managed_instance_id}", ADMIT_TASK, pk)
    except InstanceAdmission.DoesNotExist:
        raise Http404 from None
    except svc.RegistrationError as exc:
        _fail(request, exc)
    return redirect("clusters:waiting-room")


@require_POST
@role_required(ADMIN)
def admission_reject(request: HttpRequest, pk: int) -> HttpResponse:
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Rejecting an instance needs a reason.")
        return redirect("clusters:waiting-room")
    try:
        admission = svc.instance_reject(
            actor=request.user, admission_pk=pk, reason=form.cleaned_data["reason"], request=request
        )
        _queued(request, f"Rejecting {admission.managed_instance_id}", REJECT_TASK, pk)
    except InstanceAdmission.DoesNotExist:
        raise Http404 from None
    except svc.RegistrationError as exc:
        _fail(request, exc)
    return redirect("clusters:waiting-room")


@require_GET
@role_required(VIEWER)
def decommissions(request: HtmxHttpRequest) -> HttpResponse:
    if request.htmx and request.GET.get("part") == "decommission":
        d = sel.decommission_progress(db_id(request.GET.get("pk")) or 0)
        return _progress(request, d, sel.decommission_outcome, "decommissions.html#progress")
    context = _ctx(
        request, "decommissions", decommissions=sel.decommissions(), title="Decommission"
    )
    context["instances"] = sel.decommission_candidates()
    return render(request, "clusters/registrations/decommissions.html", context)


@require_http_methods(["GET", "POST"])
@role_required(OPERATOR)
def decommission_new(request: HttpRequest, instance_pk: int) -> HttpResponse:
    instance = get_object_or_404(
        ContainerInstance.objects.select_related("cluster"), pk=instance_pk, is_external=True
    )
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            svc.decommission_request(
                actor=request.user,
                container_instance=instance,
                reason=form.cleaned_data["reason"],
                request=request,
            )
            messages.success(request, f"Decommission of {instance} requested; an admin confirms.")
            return redirect("clusters:decommissions")
        except svc.RegistrationError as exc:
            form.add_error(None, str(exc))
    context = _ctx(request, "decommissions", instance=instance, form=form, title="Decommission")
    context["tasks"] = sel.instance_tasks(instance)
    return render(request, "clusters/registrations/decommission_new.html", context)


@require_http_methods(["GET", "POST"])
@role_required(ADMIN)
def decommission_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the instance and the tasks that will stop; POST: queue the drain and
    deregistration (a worker makes the AWS calls; the list page follows it)."""
    if request.method == "GET":
        decom = sel.decommission_review(pk)
        if decom is None:
            raise Http404
        context = _ctx(
            request,
            "decommissions",
            decom=decom,
            instance=decom.container_instance,
            tasks=sel.instance_tasks(decom.container_instance),
            own=decom.requested_by_id == request.user.pk and not svc.self_approval_allowed(),
            title="Confirm decommission",
        )
        return render(request, "clusters/registrations/decommission_confirm.html", context)
    try:
        decom = svc.decommission_confirm(actor=request.user, decommission_pk=pk, request=request)
        _queued(request, f"Draining {decom.container_instance}", DECOMMISSION_TASK, pk)
    except DecommissionRequest.DoesNotExist:
        raise Http404 from None
    except svc.RegistrationError as exc:
        _fail(request, exc)
    return redirect("clusters:decommissions")


@require_POST
@role_required(OPERATOR)
def decommission_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        svc.decommission_cancel(actor=request.user, decommission_pk=pk, request=request)
        messages.success(request, "Decommission cancelled.")
    except (svc.RegistrationError, PermissionDenied) as exc:
        _fail(request, exc)
    return redirect("clusters:decommissions")
