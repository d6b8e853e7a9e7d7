from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from clusters.core.htmx import HtmxHttpRequest
from clusters.core.inputs import db_id
from clusters.core.roles import VIEWER, role_required
from clusters.display import spreadsheet_safe
from clusters.models import Event
from console.timeline.forms import TIMELINE_FILTER_FIELDS, TimelineFilterForm
from console.timeline.selectors import MAX_PAGE_SIZE, timeline_events, timeline_export_iter


@require_GET
@role_required(VIEWER)
def timeline(request: HtmxHttpRequest) -> HttpResponse:
    """The fleet timeline; also its fragments: ``embed=1`` (the feed alone, for other
    pages), ``cursor=`` via htmx (older rows), ``after=`` (the live poller's rows)."""
    form = TimelineFilterForm(_filter_params(request) or None)
    filters = form.filters()
    embed = request.GET.get("embed") == "1"
    context: dict[str, Any] = {
        "section": "timeline",
        "title": "Timeline",
        "form": form,
        "filter_query": _filter_query(request, embed=embed),
        "export_query": _filter_query(request, embed=False),
        "embed": embed,
        # Reversed once: the rows link every subject back to a filtered timeline.
        "timeline_url": reverse("timeline"),
        "time_presets": _time_presets(request),
    }
    after_raw = request.GET.get("after")
    if after_raw is not None:
        after = db_id(after_raw) or 0
        page = timeline_events(filters, after=after, limit=MAX_PAGE_SIZE)
        if not page.events:
            return HttpResponse(status=204)  # htmx swaps nothing; the poller keeps its URL
        context.update(page=page, newest_id=page.newest_id, live=True)
        return render(request, "console/timeline.html#live", context)
    cursor = request.GET.get("cursor") or None
    page = timeline_events(filters, cursor=cursor)
    context.update(page=page, newest_id=page.newest_id or 0, paged=cursor is not None)
    if request.htmx and cursor:
        return render(request, "console/timeline.html#older", context)
    if embed:
        return render(request, "console/timeline.html#feed", context)
    return render(request, "console/timeline.html", context)


_PRESETS = (("15 min", 15), ("1 hour", 60), ("24 hours", 24 * 60), ("7 days", 7 * 24 * 60))


def _time_presets(request: HttpRequest) -> list[tuple[str, str]]:
    """Links to the current filters over the last 15 min / hour / day / week (the
    time is written out, so a shared link shows the same window)."""
    params = {k: v for k, v in _filter_params(request).items() if k not in ("since", "until")}
    now = timezone.localtime()
    presets = []
    for label, minutes in _PRESETS:
        since = (now - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")
        presets.append((label, urlencode({**params, "since": since})))
    return presets


def _filter_params(request: HttpRequest) -> dict[str, str]:
    return {name: request.GET[name] for name in TIMELINE_FILTER_FIELDS if request.GET.get(name, "")}


def _filter_query(request: HttpRequest, *, embed: bool) -> str:
    """The query string of the current filters, for links that keep them."""
    params = _filter_params(request)
    if embed:
        params["embed"] = "1"
    return urlencode(params)


_EXPORT_COLUMNS = (
    "id",
    "occurred_at",
    "severity",
    "source",
    "message",
    "actor",
    "account",
    "region",
    "cluster_arn",
    "service_arn",
    "task_arn",
    "instance_arn",
    "docker_host",
    "container_id",
)


def _export_row(event: Event) -> dict[str, Any]:
    return {
        "id": event.pk,
        "occurred_at": event.occurred_at.isoformat(),
        "severity": event.severity,
        "source": event.source,
        "message": event.message,
        "actor": event.actor.get_username() if event.actor else "",
        "account": event.account,
        "region": event.region,
        "cluster_arn": event.cluster_arn,
        "service_arn": event.service_arn,
        "task_arn": event.task_arn,
        "instance_arn": event.instance_arn,
        "docker_host": event.docker_host,
        "container_id": event.container_id,
    }


def _export_events(form: TimelineFilterForm) -> Iterator[Event]:
    # A read: not audited (GETs never change state; the role matrix checks that).
    return timeline_export_iter(form.filters(), cap=settings.FLEETDECK_TIMELINE_EXPORT_MAX)


def _export_refusal(form: TimelineFilterForm, *, as_json: bool) -> HttpResponse | None:
    """An export with an invalid filter answers 400 and says which, instead of
    dropping that filter (the page's way) and exporting more than was asked for.
    The JSON export answers in the API's error shape, the CSV one in plain text."""
    if not form.is_bound or form.is_valid():
        return None
    errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
    details = "; ".join(f"{name}: {' '.join(errs)}" for name, errs in errors.items())
    message = f"Invalid filter ({details}). Nothing was exported."
    if as_json:
        return JsonResponse({"message": message, "errors": errors}, status=400)
    return HttpResponse(message + "\n", status=400, content_type="text/plain; charset=utf-8")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _attachment(response: StreamingHttpResponse, extension: str) -> StreamingHttpResponse:
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = (
        f'attachment; filename="fleetdeck-timeline-{stamp}.{extension}"'
    )
    return response


@require_GET
@role_required(VIEWER)
def timeline_export_csv(request: HttpRequest) -> HttpResponseBase:
    """The current filtered view as CSV, streamed, newest first, capped."""
    form = TimelineFilterForm(_filter_params(request) or None)
    if refusal := _export_refusal(form, as_json=False):
        return refusal
    events = _export_events(form)
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(_EXPORT_COLUMNS)
        for event in events:
            row = _export_row(event)
            row["message"] = spreadsheet_safe(row["message"])
            yield writer.writerow([row[c] for c in _EXPORT_COLUMNS])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    return _attachment(response, "csv")


@require_GET
@role_required(VIEWER)
def timeline_export_json(request: HttpRequest) -> HttpResponseBase:
    """The current filtered view as a JSON array, streamed, newest first, capped."""
    form = TimelineFilterForm(_filter_params(request) or None)
    if refusal := _export_refusal(form, as_json=True):
        return refusal
    events = _export_events(form)

    def chunks() -> Iterator[str]:
        yield "["
        for index, event in enumerate(events):
            row = _export_row(event)
            row["details"] = event.details
            yield ("," if index else "") + "\n" + json.dumps(row, cls=DjangoJSONEncoder)
        yield "\n]\n"

    response = StreamingHttpResponse(chunks(), content_type="application/json")
    return _attachment(response, "json")
