"""The on-call dashboard, its wallboard mode, acknowledgements and /metrics."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import F
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from clusters.core.audit import audit_record
from clusters.core.htmx import HtmxHttpRequest, flash
from clusters.core.roles import OPERATOR, VIEWER, has_role, role_required
from clusters.display import name_with_region
from console.dashboard import Dashboard, acknowledgement_fire_seq, dashboard_data
from console.models import Acknowledgement
from console.svg import bar_chart, sparkline
from deployments.models import Service
from deployments.samples.sampling import service_series, task_stops_per_hour

TEMPLATE = "console/dashboard.html"
TV_TEMPLATE = "console/wallboard.html"
# Fragments refreshed by the 5-second poll: (partial name, version input name).
LIVE_PARTS = ("summary", "attention")
TV_PARTS = ("tv-summary", "tv-attention")
SPARKLINES = 12


# The attention list shows this many rows unless ?all=1: an on-call page is read
# at a glance, and rendering hundreds of rows would cost more than the queries.
ATTENTION_ROWS = 50


def _context(request: HttpRequest, data: Dashboard, *, tv: bool) -> dict[str, Any]:
    show_all = request.GET.get("all") == "1"
    shown = data.attention if show_all else data.attention[:ATTENTION_ROWS]
    return {
        "section": "dashboard",
        "dash": data,
        "summary": data.summary,
        "attention": shown,
        "attention_hidden": len(data.attention) - len(shown),
        "show_all": show_all,
        "tv": tv,
        "can_ack": has_role(request.user, OPERATOR),
        "stream_modes": data.sync_modes,
    }


def _render_part(template: str, part: str, context: dict[str, Any], request: HttpRequest) -> str:
    return render_to_string(f"{template}#{part}", context, request=request)


def _digest(*values: object) -> str:
    return hashlib.blake2b(repr(values).encode(), digest_size=8).hexdigest()


def _versions(context: dict[str, Any], parts: tuple[str, ...]) -> dict[str, str]:
    """Each fragment's version, from the data it shows (not its markup), so the poll
    can answer "nothing changed" without rendering anything. Ages count in whole
    minutes, as the page shows them."""
    data: Dashboard = context["dash"]
    summary = data.summary

    def minutes(seconds: float | None) -> int | None:
        return None if seconds is None else int(seconds // 60)

    summary_key = [
        (
            c.id,
            c.name,
            c.services_healthy,
            c.services_degraded,
            c.services_failing,
            c.services_down,
            c.services_unknown,
            c.state,
            c.instances_unhealthy,
            c.instances_active,
            c.instances_draining,
            c.instances_disconnected,
            c.instances_waiting,
            c.tasks_running,
            minutes(c.sync_age_seconds),
            c.stale,
            c.sync_error[:80],
        )
        for c in summary.clusters
    ]
    summary_version = _digest(
        summary_key,
        summary.accounts_failing,
        minutes(summary.totals.sync_age_seconds),
        context["stream_modes"],
    )
    items = data.attention if context["show_all"] else data.attention[: ATTENTION_ROWS + 8]
    attention_version = _digest(
        [
            (
                i.fingerprint,
                i.state,
                i.severity,
                i.title,
                i.detail,
                i.since,
                i.acknowledgement.pk if i.acknowledgement else None,
            )
            for i in items
        ],
        len(data.attention),
        context["can_ack"],
    )
    return {p: attention_version if p.endswith("attention") else summary_version for p in parts}


_memo: dict[str, tuple[float, Dashboard]] = {}
_memo_lock = threading.Lock()


def dashboard_shared() -> Dashboard:
    """``dashboard_data()``, reused for FLEETDECK_DASHBOARD_CACHE_SECONDS within
    this process. Acknowledging clears it (see ``acknowledge``)."""
    ttl = float(settings.FLEETDECK_DASHBOARD_CACHE_SECONDS)
    if ttl <= 0:
        return dashboard_data()
    hit = _memo.get("dashboard")
    if hit is not None and time.monotonic() - hit[0] < ttl:
        return hit[1]
    # Expired: one thread of this process recomputes. Meanwhile the others answer
    # with the result it replaces (one computation older than the TTL at most)
    # instead of queueing behind it, so a computation slowed down by a sync on the
    # same machine delays one request, not every dashboard request arriving during
    # it. With nothing to show yet (start, or after an acknowledgement) they wait.
    if hit is not None:
        if not _memo_lock.acquire(blocking=False):
            return hit[1]
    else:
        _memo_lock.acquire()
    try:
        hit = _memo.get("dashboard")
        if hit is not None and time.monotonic() - hit[0] < ttl:
            return hit[1]
        data = dashboard_data()
        _memo["dashboard"] = (time.monotonic(), data)
        return data
    finally:
        _memo_lock.release()


@require_GET
@role_required(VIEWER)
def dashboard(request: HttpRequest) -> HttpResponse:
    tv = request.GET.get("tv") == "1"
    part = request.GET.get("part", "")
    if part == "trends":
        return render(request, f"{TEMPLATE}#trends", trends_context())
    template = TV_TEMPLATE if tv else TEMPLATE
    parts = TV_PARTS if tv else LIVE_PARTS
    context = _context(request, dashboard_shared(), tv=tv)
    versions = _versions(context, parts)
    if part == "live":
        # Only the fragments whose data changed are rendered and sent.
        changed = [p for p in parts if request.GET.get(f"v_{p}") != versions[p]]
        return _fragments_response(request, template, changed, context, versions)
    rendered = {p: _render_part(template, p, context, request) for p in parts}
    context.update(
        {"parts": {p.replace("-", "_"): html for p, html in rendered.items()}, "versions": versions}
    )
    return render(request, template, context)


def _fragments_response(
    request: HttpRequest,
    template: str,
    changed: list[str],
    context: dict[str, Any],
    versions: dict[str, str],
) -> HttpResponse:
    """The changed fragments, swapped out of band into their stable containers
    (innerHTML) so scroll position and open forms elsewhere survive. Nothing
    changed: 204, and htmx leaves the page alone."""
    if not changed:
        return HttpResponse(status=204)
    body = render_to_string(
        "console/_live.html",
        {
            "changed": [
                (p, _render_part(template, p, context, request), versions[p]) for p in changed
            ]
        },
        request=request,
    )
    return HttpResponse(body)


def _spark_label(s: dict[str, Any]) -> str:
    """``web (prod · eu-west-1)``: the same service name may run in two regions."""
    return f"{s['name']} ({name_with_region(s['cluster__name'], s['cluster__region'])})"


def trends_context(*, now: Any = None) -> dict[str, Any]:
    """Three queries: the services worth a sparkline, their samples, stops per hour."""
    now = now or timezone.now()
    since = now - timedelta(hours=24)
    services = list(
        Service.objects.filter(gone_at__isnull=True, status="ACTIVE", cluster__gone_at__isnull=True)
        .annotate(short=F("desired_count") - F("running_count"))
        .order_by("-short", "-desired_count", "name")
        .values(
            "id",
            "name",
            "arn",
            "desired_count",
            "running_count",
            "cluster__name",
            "cluster__region",
        )[:SPARKLINES]
    )
    series = service_series(service_ids=[s["id"] for s in services], since=since)
    lines = [
        {
            **s,
            "svg": sparkline(series[s["id"]], start=since, end=now, label=_spark_label(s)),
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
def acknowledge(request: HtmxHttpRequest) -> HttpResponse:
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
        fire_seq=acknowledgement_fire_seq(fingerprint),
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
    _memo.clear()
    if not request.htmx:
        return redirect("dashboard")
    context = _context(request, dashboard_shared(), tv=False)
    versions = _versions(context, LIVE_PARTS)
    response = _fragments_response(request, TEMPLATE, list(LIVE_PARTS), context, versions)
    return flash(response, "success", "Acknowledged.")
