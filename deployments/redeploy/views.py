"""Pages for forced redeploys: confirm, start, live progress, retry, bulk, history."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling, trigger_client_event

from clusters.core.htmx import HtmxHttpRequest, Response, flash
from clusters.core.inputs import db_id, small_int
from clusters.core.jobs import QUEUED_WHILE_PAUSED
from clusters.core.roles import OPERATOR, VIEWER, has_role, role_required
from clusters.models import Cluster, ContainerInstance
from deployments.models import Redeploy, RedeployBatch, RedeployStatus, Service, Task
from deployments.redeploy import (
    RedeployRefused,
    redeploy_batch_start,
    redeploy_not_sent,
    redeploy_plan,
    redeploy_retry,
    service_force_redeploy,
)
from deployments.redeploy.selectors import redeploy_progress, redeploys_query


def _changed(response: Response) -> Response:
    """Tell the page a redeploy started or ended: the service page's live sections
    and actions panel listen for ``redeploy-changed``."""
    return trigger_client_event(response, "redeploy-changed")


def _service(pk: int) -> Service:
    return get_object_or_404(
        Service.objects.select_related("cluster", "cluster__account", "task_definition"), pk=pk
    )


def _confirm_context(
    request: HttpRequest, service: Service, *, reason: str = "", error: str = "", code: str = ""
) -> dict[str, Any]:
    return {
        "section": "services",
        "service": service,
        "plan": redeploy_plan(service=service),
        "reason": reason,
        "error": error,
        "error_code": code,
        "idempotency_key": request.POST.get("idempotency_key") or uuid.uuid4().hex,
        "can_operate": True,
    }


@require_GET
@role_required(OPERATOR)
def redeploy_confirm(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """What a forced redeploy will do, and the form that starts it."""
    service = _service(pk)
    context = _confirm_context(request, service, reason=request.GET.get("reason", "")[:500])
    if request.htmx:
        return render(request, "deployments/redeploy_confirm.html#panel", context)
    return render(request, "deployments/redeploy_confirm.html", context)


@require_POST
@role_required(OPERATOR)
def redeploy_start(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    service = _service(pk)
    reason = request.POST.get("reason", "")[:500]
    try:
        result = service_force_redeploy(
            service_id=service.pk,
            actor=request.user,
            reason=reason,
            request=request,
            idempotency_key=request.POST.get("idempotency_key", ""),
            confirm_mid_rollout=request.POST.get("confirm_mid_rollout") == "on",
        )
    except RedeployRefused as exc:
        context = _confirm_context(
            request, service, reason=reason, error=exc.message, code=exc.code
        )
        if request.htmx:
            return render(request, "deployments/redeploy_confirm.html#panel", context)
        return render(request, "deployments/redeploy_confirm.html", context, status=400)
    redeploy = result.redeploy
    redeploy.refresh_from_db()
    not_sent = redeploy_not_sent(redeploy)
    text = (
        f"Forced new deployment of {service.name} requested."
        if result.created
        else f"A redeploy of {service.name} is already under way; showing it."
    )
    if not_sent:
        text = (
            f"The redeploy of {service.name} is recorded and {QUEUED_WHILE_PAUSED} "
            "(The broker is unreachable; nothing was sent to AWS yet.)"
        )
    if request.htmx:
        progress = redeploy_progress(redeploy_id=redeploy.pk)
        response = render(
            request,
            "deployments/redeploy_detail.html#panel",
            {"progress": progress, "can_operate": True},
        )
        level = "warning" if not_sent else "success" if result.created else "info"
        return flash(_changed(response), level, text)
    if not_sent:
        messages.warning(request, text)
    elif result.created:
        messages.success(request, text)
    else:
        messages.info(request, text)
    return redirect("deployments:redeploy", pk=redeploy.pk)


@require_GET
@role_required(VIEWER)
def redeploy_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The redeploy's live progress; as an htmx poll, the panel alone, and once the
    rollout is terminal, a flash with the answer that stops the polling."""
    progress = redeploy_progress(redeploy_id=pk)
    if progress is None:
        raise Http404("No such redeploy")
    context = {
        "section": "services",
        "progress": progress,
        "can_operate": has_role(request.user, OPERATOR),
    }
    if not request.htmx:
        return render(request, "deployments/redeploy_detail.html", context)
    html = render_to_string("deployments/redeploy_detail.html#panel", context, request)
    redeploy = progress.redeploy
    if not redeploy.is_terminal:
        return HttpResponse(html)
    # The mirror was refreshed before the worker reported the outcome: the page's
    # deployments, tasks and events reload at once, not on their next poll.
    response = _changed(HttpResponseStopPolling(html))
    name = redeploy.service.name
    if redeploy.status == RedeployStatus.COMPLETED and redeploy.is_rollback:
        return flash(response, "success", f"{name} rolled back to {redeploy.target_revision}.")
    if redeploy.status == RedeployStatus.COMPLETED:
        return flash(response, "success", f"Redeploy of {name} completed.")
    return flash(response, "error", f"{redeploy.noun} of {name} failed: {redeploy.aws_error}")


@require_POST
@role_required(OPERATOR)
def redeploy_retry_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    failed = get_object_or_404(Redeploy, pk=pk)
    try:
        result = redeploy_retry(redeploy_id=failed.pk, actor=request.user, request=request)
    except RedeployRefused as exc:
        messages.error(request, exc.message)
        return redirect("deployments:redeploy", pk=failed.pk)
    if request.htmx:
        progress = redeploy_progress(redeploy_id=result.redeploy.pk)
        response = render(
            request,
            "deployments/redeploy_detail.html#panel",
            {"progress": progress, "can_operate": True},
        )
        return flash(_changed(response), "info", "Retrying the redeploy.")
    messages.info(request, "Retrying the redeploy.")
    return redirect("deployments:redeploy", pk=result.redeploy.pk)


@require_GET
@role_required(VIEWER)
def redeploy_list(request: HtmxHttpRequest) -> HttpResponse:
    service_id = request.GET.get("service", "")
    qs = redeploys_query(service_id=db_id(service_id))
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "deployments/redeploys.html",
        {
            "section": "services",
            "page": page,
            "clusters": Cluster.objects.filter(gone_at__isnull=True).order_by("name"),
            "can_operate": has_role(request.user, OPERATOR),
        },
    )


def _bulk_context(
    request: HttpRequest, cluster: Cluster, *, error: str = "", selected: set[int] | None = None
) -> dict[str, Any]:
    services = list(
        Service.objects.filter(cluster=cluster, gone_at__isnull=True).order_by("name", "id")
    )
    instance = None
    instance_id = request.GET.get("instance", "")
    if selected is None:
        selected = set()
        if request.GET.get("all") == "1":
            selected = {s.pk for s in services}
        elif (instance_pk := db_id(instance_id)) is not None:
            instance = ContainerInstance.objects.filter(pk=instance_pk, cluster=cluster).first()
            if instance is not None:
                selected = set(
                    Task.objects.filter(
                        container_instance=instance, last_status__in=["PENDING", "RUNNING"]
                    )
                    .exclude(service=None)
                    .values_list("service_id", flat=True)
                )
    return {
        "section": "clusters",
        "cluster": cluster,
        "services": services,
        "selected": selected,
        "instance": instance,
        "instances": ContainerInstance.objects.filter(cluster=cluster, gone_at__isnull=True),
        "error": error,
        "reason": request.POST.get("reason", ""),
        "concurrency": request.POST.get("concurrency", "2"),
    }


@require_GET
@role_required(OPERATOR)
def redeploy_bulk(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Pick services of a cluster (all, those on one instance, or by hand)."""
    cluster = get_object_or_404(Cluster, pk=pk)
    return render(request, "deployments/redeploy_bulk.html", _bulk_context(request, cluster))


@require_POST
@role_required(OPERATOR)
def redeploy_bulk_start(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster, pk=pk)
    ids = [i for i in map(db_id, request.POST.getlist("services")) if i is not None]
    valid = set(Service.objects.filter(cluster=cluster, pk__in=ids).values_list("pk", flat=True))
    concurrency = request.POST.get("concurrency", "2")
    try:
        result = redeploy_batch_start(
            service_ids=sorted(valid),
            actor=request.user,
            reason=request.POST.get("reason", "")[:500],
            concurrency=small_int(concurrency, default=2, minimum=1, maximum=1000),
            request=request,
            confirm_mid_rollout=request.POST.get("confirm_mid_rollout") == "on",
            cluster_id=cluster.pk,
        )
    except RedeployRefused as exc:
        context = _bulk_context(request, cluster, error=exc.message, selected=valid)
        return render(request, "deployments/redeploy_bulk.html", context, status=400)
    messages.success(
        request,
        f"Redeploying {len(result.started)} service(s), {result.batch.concurrency} at a time.",
    )
    for service, why in result.skipped:
        messages.warning(request, f"Skipped {service.name}: {why}")
    return redirect("deployments:redeploy-batch", pk=result.batch.pk)


@require_GET
@role_required(VIEWER)
def redeploy_batch_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(
        RedeployBatch.objects.select_related("cluster", "requested_by"), pk=pk
    )
    progresses = [
        redeploy_progress(redeploy_id=r_pk)
        for r_pk in batch.redeploys.order_by("id").values_list("pk", flat=True)
    ]
    return render(
        request,
        "deployments/redeploy_batch.html",
        {
            "section": "services",
            "batch": batch,
            "progresses": [p for p in progresses if p is not None],
            "can_operate": has_role(request.user, OPERATOR),
            "back": reverse("deployments:cluster", args=[batch.cluster_id])
            if batch.cluster_id
            else reverse("deployments:redeploys"),
        },
    )
