"""The on-call dashboard, its wallboard mode, acknowledgements and /metrics."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import F
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from clusters.audit import audit_record
from clusters.roles import OPERATOR, VIEWER, has_role, role_required
from deployments.models import Service
from deployments.samples import service_series, task_stops_per_hour

from .dashboard import Dashboard, dashboard_data
from .metrics import metrics_text
from .models import Acknowledgement
from .svg import bar_chart, sparkline

TEMPLATE = "console/dashboard.html"
TV_TEMPLATE = "console/wallboard.html"
# Fragments refreshed by the 5-second poll: (partial name, version input name).
LIVE_PARTS = ("summary", "attention")
TV_PARTS = ("tv-summary", "tv-attention")
SPARKLINES = 12


def _context(request: HttpRequest, data: Dashboard, *, tv: bool) -> dict[str, Any]:
    return {
        "section": "dashboard",
        "dash": data,
        "summary": data.summary,
        "attention": data.attention,
        "tv": tv,
        "can_ack": has_role(request.user, OPERATOR),
    }


def _render_part(template: str, part: str, context: dict[str, Any], request: HttpRequest) -> str:
    return render_to_string(f"{template}#{part}", context, request=request)


_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


def _version(html: str) -> str:
    """A fragment's version: its markup minus the CSRF token (masked differently on
    every render), so an unchanged fragment keeps its version across polls."""
    return hashlib.blake2b(_CSRF_INPUT.sub("", html).encode(), digest_size=8).hexdigest()


@require_GET
@role_required(VIEWER)
def dashboard(request: HttpRequest) -> HttpResponse:
    tv = request.GET.get("tv") == "1"
    part = request.GET.get("part", "")
    if part == "trends":
        return render(request, f"{TEMPLATE}#trends", trends_context())
    template = TV_TEMPLATE if tv else TEMPLATE
    parts = TV_PARTS if tv else LIVE_PARTS
    data = dashboard_data()
    context = _context(request, data, tv=tv)
    rendered = {p: _render_part(template, p, context, request) for p in parts}
    versions = {p: _version(html) for p, html in rendered.items()}
    if part == "live":
        return _live_response(request, rendered, versions)
    context.update(
        {"parts": {p.replace("-", "_"): html for p, html in rendered.items()}, "versions": versions}
    )
    if not tv:
        context["trends_deferred"] = True
    return render(request, template, context)


def _live_response(
    request: HttpRequest, rendered: dict[str, str], versions: dict[str, str]
) -> HttpResponse:
    """Only the fragments whose markup changed, swapped into their stable
    containers (innerHTML) so scroll position and open forms elsewhere survive.
    Nothing changed: 204, and htmx leaves the page alone."""
    changed = [p for p in rendered if request.GET.get(f"v_{p}") != versions[p]]
    if not changed:
        return HttpResponse(status=204)
    body = render_to_string(
        "console/_live.html",
        {"changed": [(p, rendered[p], versions[p]) for p in changed]},
        request=request,
    )
    return HttpResponse(body)


def trends_context(*, now: Any = None) -> dict[str, Any]:
    """Three queries: the services worth a sparkline, their samples, stops per hour."""
    now = now or timezone.now()
    since = now - timedelta(hours=24)
    services = list(
        Service.objects.filter(gone_at__isnull=True, status="ACTIVE", cluster__gone_at__isnull=True)
        .annotate(short=F("desired_count") - F("running_count"))
        .order_by("-short", "-desired_count", "name")
        .values("id", "name", "arn", "desired_count", "running_count", "cluster__name")[:SPARKLINES]
    )
    series = service_series(service_ids=[s["id"] for s in services], since=since)
    lines = [
        {
            **s,
            "svg": sparkline(series[s["id"]], start=since, end=now, label=s["name"]),
        }
        for s in services
    ]
    stops = task_stops_per_hour(since=since)
    return {
        "lines": lines,
        "stops_svg": bar_chart(stops, end=now),
        "stops_total": sum(b[1] for b in stops),
        "stops_failed": sum(b[2] for b in stops),
    }


@require_POST
@role_required(OPERATOR)
def acknowledge(request: HttpRequest) -> HttpResponse:
    fingerprint = request.POST.get("fingerprint", "").strip()
    state = request.POST.get("state", "").strip()
    note = request.POST.get("note", "").strip()[:2000]
    if not fingerprint or len(fingerprint) > 255 or len(state) > 255:
        return HttpResponseBadRequest("fingerprint and state are required")
    ack = Acknowledgement.objects.create(
        fingerprint=fingerprint,
        state=state,
        user=request.user if request.user.is_authenticated else None,
        user_name=request.user.get_username(),
        note=note,
    )
    audit_record(
        actor=request.user,
        action="dashboard.acknowledge",
        message=f"Acknowledged {fingerprint}" + (f": {note}" if note else ""),
        request=request,
        object_type="attention",
        object_id=fingerprint[:64],
        details={"fingerprint": fingerprint, "state": state, "note": note, "ack_id": ack.pk},
    )
    if not getattr(request, "htmx", False):
        return redirect("dashboard")
    data = dashboard_data()
    context = _context(request, data, tv=False)
    rendered = {p: _render_part(TEMPLATE, p, context, request) for p in LIVE_PARTS}
    versions = {p: _version(html) for p, html in rendered.items()}
    body = render_to_string(
        "console/_live.html",
        {"changed": [(p, rendered[p], versions[p]) for p in LIVE_PARTS]},
        request=request,
    )
    response = HttpResponse(body)
    response.headers["HX-Trigger"] = '{"flash": {"level": "success", "message": "Acknowledged."}}'
    return response


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
