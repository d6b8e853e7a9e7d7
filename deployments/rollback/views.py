"""Rollback pages: the confirm step (current and target revisions, what changed
between them, the reason) and its start; progress is the redeploy page's panel."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from clusters.core.htmx import HtmxHttpRequest, flash
from clusters.core.jobs import QUEUED_WHILE_PAUSED
from clusters.core.roles import OPERATOR, role_required
from deployments.models import Service
from deployments.redeploy import redeploy_not_sent, redeploy_progress
from deployments.revisions import Revision, revision_lines
from deployments.rollback.start import RollbackRefused, rollback_plan, service_rollback

TEMPLATE = "deployments/rollback_confirm.html"


def _service(pk: int) -> Service:
    return get_object_or_404(
        Service.objects.select_related("cluster", "cluster__account", "task_definition"), pk=pk
    )


def _confirm_context(
    request: HttpRequest, service: Service, *, reason: str = "", error: str = ""
) -> dict[str, Any]:
    plan = rollback_plan(service=service)
    refusal = plan.refusal
    return {
        "lines": _rollback_lines(plan),
        "section": "services",
        "service": service,
        "plan": plan,
        "refusal": refusal.message if refusal is not None else "",
        "reason": reason,
        "error": error,
        "idempotency_key": request.POST.get("idempotency_key") or uuid.uuid4().hex,
        "can_operate": True,
    }


def _rollback_lines(plan: Any) -> list[Any]:
    """What rolling back changes, field by field: from the revision running now to the
    target (the diff engine of deployments.revisions; no AWS call, no extra query)."""
    now, target = plan.current_task_definition, plan.target_task_definition
    if now is None or target is None:
        return []
    return [
        line
        for line in revision_lines(Revision.of(now), Revision.of(target))
        if line.state != "same"
    ]


def _page(request: HtmxHttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    if request.htmx:
        return render(request, f"{TEMPLATE}#panel", context)
    return render(request, TEMPLATE, context, status=status)


@require_GET
@role_required(OPERATOR)
def rollback_confirm(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """What the rollback will do (from which revision to which), and its form."""
    service = _service(pk)
    return _page(
        request, _confirm_context(request, service, reason=request.GET.get("reason", "")[:500])
    )


@require_POST
@role_required(OPERATOR)
def rollback_start(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    service = _service(pk)
    reason = request.POST.get("reason", "")[:500]
    try:
        result = service_rollback(
            service_id=service.pk,
            actor=request.user,
            reason=reason,
            request=request,
            idempotency_key=request.POST.get("idempotency_key", ""),
        )
    except RollbackRefused as exc:
        context = _confirm_context(request, service, reason=reason, error=exc.message)
        return _page(request, context, status=400)
    rollback = result.redeploy
    rollback.refresh_from_db()
    not_sent = redeploy_not_sent(rollback)
    if not_sent:
        level, text = (
            "warning",
            (
                f"The rollback of {service.name} is recorded and {QUEUED_WHILE_PAUSED} "
                "(The broker is unreachable; nothing was sent to AWS yet.)"
            ),
        )
    elif result.created:
        level, text = "success", f"Rollback of {service.name} requested."
    else:
        level, text = "info", f"A rollback of {service.name} is already under way; showing it."
    if request.htmx:
        response = render(
            request,
            "deployments/redeploy_detail.html#panel",
            {"progress": redeploy_progress(redeploy_id=rollback.pk), "can_operate": True},
        )
        return flash(trigger_client_event(response, "redeploy-changed"), level, text)
    getattr(messages, level)(request, text)
    return redirect("deployments:redeploy", pk=rollback.pk)
