from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from .models import Cluster, SyncRun
from .roles import OPERATOR, VIEWER, has_role, role_required
from .selectors import clusters_overview, instances_query, paginate

# htmx stops polling when a response has this status.
STOP_POLLING = 286


def placeholder(section: str, title: str, coming: str):  # type: ignore[no-untyped-def]
    """A page whose capability has not landed yet says what will appear there."""

    @require_GET
    @role_required(VIEWER)
    def view(request: HttpRequest) -> HttpResponse:
        return render(
            request, "placeholder.html", {"section": section, "title": title, "coming": coming}
        )

    view.__name__ = f"{section.replace('-', '_')}_placeholder"
    return view


@require_GET
@role_required(VIEWER)
def cluster_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "clusters/list.html",
        {
            "section": "clusters",
            "accounts": clusters_overview(),
            "can_operate": has_role(request.user, OPERATOR),
        },
    )


@require_GET
@role_required(VIEWER)
def instance_list(request: HttpRequest) -> HttpResponse:
    cluster = None
    if request.GET.get("cluster", "").isdigit():
        cluster = Cluster.objects.filter(pk=int(request.GET["cluster"])).first()
    filters = {
        "status": request.GET.get("status", ""),
        "kind": request.GET.get("kind", ""),
        "q": request.GET.get("q", "").strip(),
    }
    page = paginate(instances_query(cluster=cluster, **filters), request.GET.get("page"))
    return render(
        request,
        "clusters/instances.html",
        {"section": "instances", "page": page, "filters": filters, "cluster": cluster},
    )


@require_GET
@role_required(VIEWER)
def sync_run_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The "Sync now" progress fragment; htmx polls it until the run is finished."""
    run = get_object_or_404(SyncRun.objects.select_related("cluster", "account"), pk=pk)
    response = render(request, "clusters/_sync_run.html", {"run": run})
    if run.is_finished and request.htmx:  # type: ignore[attr-defined]
        response.status_code = STOP_POLLING
        # Only a running run is polled, so this is the moment it finished: reload the
        # page to show what the sync brought (the finished run renders without polling).
        response["HX-Refresh"] = "true"
    return response
