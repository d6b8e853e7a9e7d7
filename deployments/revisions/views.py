"""The compare page: two revisions of a service side by side, changed lines marked."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from clusters.core.roles import VIEWER, role_required
from deployments.diagnosis import external_unsupported
from deployments.models import Deployment, Service
from deployments.revisions.compare import CompareError, Comparison, comparison_build

CHOICES = 20


@require_GET
@role_required(VIEWER)
def service_compare(request: HttpRequest, pk: int) -> HttpResponse:
    """``?from=&to=``: a deployment id, a task definition ARN or family:revision;
    ``only=changed`` hides the fields that are the same. Bad input is an inline error."""
    service = get_object_or_404(Service.objects.select_related("cluster"), pk=pk)
    from_ref = request.GET.get("from", "")
    to_ref = request.GET.get("to", "")
    comparison: Comparison | None = None
    error = ""
    try:
        comparison = comparison_build(service, from_ref=from_ref, to_ref=to_ref)
    except CompareError as exc:
        error = exc.message
    only_changed = request.GET.get("only") == "changed"
    lines = comparison.lines if comparison else []
    if only_changed:
        lines = [line for line in lines if line.state != "same"]
    findings = (
        external_unsupported(
            service=service,
            task_definition=comparison.after.task_definition,
            cluster=service.cluster,
        )
        if comparison and comparison.after.task_definition
        else []
    )
    choices = Deployment.objects.filter(service=service).select_related("task_definition")
    context = {
        "section": "services",
        "service": service,
        "cluster": service.cluster,
        "comparison": comparison,
        "lines": lines,
        "only_changed": only_changed,
        "error": error,
        "from_ref": from_ref,
        "to_ref": to_ref,
        "choices": list(choices[:CHOICES]),
        "external_findings": findings,
        "subject": "revision",
    }
    return render(request, "deployments/compare.html", context)
