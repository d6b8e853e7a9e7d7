"""The service map page of a cluster: one namespace at a time (``?namespace=``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from clusters.core.roles import VIEWER, role_required
from clusters.models import Cluster
from deployments.service_map.selectors import service_map


@require_GET
@role_required(VIEWER)
def cluster_map(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster.objects.select_related("account"), pk=pk)
    # An unknown namespace falls back to the first one: never a 500 for bad input.
    smap = service_map(cluster=cluster, namespace=request.GET.get("namespace", "")[:2048])
    return render(
        request,
        "deployments/service_map.html",
        {"section": "clusters", "cluster": cluster, "smap": smap},
    )
