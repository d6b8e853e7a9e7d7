"""Operations endpoints: liveness for load balancers and Prometheus metrics."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from console.ops.health import background_work_status, broker_ok, database_ok
from console.ops.metrics import metrics_text


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


@login_not_required
@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text exposition, behind a bearer token (no session, no CSRF)."""
    token = settings.FLEETDECK_METRICS_TOKEN or ""
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not token or not given or not hmac.compare_digest(given.encode(), token.encode()):
        response = HttpResponse("unauthorized\n", status=401, content_type="text/plain")
        response.headers["WWW-Authenticate"] = 'Bearer realm="fleetdeck-metrics"'
        return response
    return HttpResponse(metrics_text(), content_type="text/plain; version=0.0.4; charset=utf-8")
