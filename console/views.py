from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from clusters.roles import VIEWER, role_required

from .health import background_work_status, broker_ok, database_ok


@require_GET
@role_required(VIEWER)
def timeline(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "placeholder.html",
        {
            "section": "timeline",
            "title": "Timeline",
            "coming": "Every event of the fleet on one feed: service events, task stops, "
            "deployments, instance changes, registrations, Docker events, drift findings "
            "and who did what, filterable and exportable.",
        },
    )


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and `make run`: no login, no secrets."""
    db_ok, db_detail = database_ok()
    broker_up, broker_detail = broker_ok()
    background = background_work_status() if db_ok else None
    body = {
        "status": "ok" if db_ok and broker_up else "degraded",
        "database": {"ok": db_ok, "detail": db_detail},
        "broker": {"ok": broker_up, "detail": broker_detail},
        "worker": {
            "ok": bool(background and background.ok),
            "last_heartbeat": (
                background.last_heartbeat.isoformat()
                if background and background.last_heartbeat
                else None
            ),
        },
    }
    return JsonResponse(body, status=200 if db_ok else 503)
