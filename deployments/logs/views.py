"""The task page's Logs fragment: one container's newest lines (a live tail while
the task runs), an older page, or a search. It reads the cache that workers fill
(``reads``); it never calls AWS or Docker."""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from clusters.core.htmx import HtmxHttpRequest
from clusters.core.inputs import db_id
from clusters.core.roles import VIEWER, role_required
from deployments.logs.reads import DEFAULT_LIMIT, logs_may_read, logs_read
from deployments.logs.selectors import lines_for_display
from deployments.models import TaskContainer

TAIL_POLL = 3  # seconds between live-tail polls
LOADING_POLL = 1  # seconds between polls while a fetch is queued
SEARCH_MAX = 200  # characters of a search text


def _url(task_id: int, **params: str) -> str:
    return reverse("deployments:task-logs", args=[task_id]) + "?" + urlencode(params)


@require_GET
@role_required(VIEWER)  # and the logs role (FLEETDECK_LOGS_MIN_ROLE), checked below
def task_logs(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    if not logs_may_read(request.user):
        raise PermissionDenied("Reading container logs needs a higher role.")
    name = request.GET.get("container", "")
    if db_id(str(pk)) is None:
        raise Http404("No such task.")
    container = get_object_or_404(
        TaskContainer.objects.select_related("task__cluster", "task__task_definition"),
        task_id=pk,
        name=name,
    )
    q = request.GET.get("q", "").strip()[:SEARCH_MAX]
    cursor = request.GET.get("cursor", "")[:2000]
    mode = "search" if q else ("older" if cursor else "tail")
    view = logs_read(container=container, mode=mode, arg=q or cursor, limit=DEFAULT_LIMIT)
    poll = LOADING_POLL if view.loading else (TAIL_POLL if view.live else 0)
    params = {
        "container": name,
        **({"q": q} if q else {}),
        **({"cursor": cursor} if cursor else {}),
    }
    response = TemplateResponse(
        request,
        "deployments/_task_logs_page.html",
        {
            "view": view,
            "lines": lines_for_display(view.lines),
            "poll": poll,
            "self_url": _url(pk, **params, part="page"),
            # The first answer of a tail or a search carries the slot older pages go in;
            # its polls replace only the page below that slot.
            "wrap": mode != "older" and request.GET.get("part") != "page",
            "older_url": _url(pk, container=name, cursor=view.older, part="page")
            if view.older
            else "",
            "task": container.task,
        },
    )
    if request.htmx and not poll:
        response.status_code = 286  # a stopped task's lines do not change: stop polling
    return response
