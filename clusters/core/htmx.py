"""The htmx vocabulary every view shares (django-htmx does the work).

``HtmxHttpRequest`` is the request type of a view that reads ``request.htmx`` (the
``HtmxDetails`` django-htmx's middleware attaches), as the django-htmx docs
recommend; ``flash`` sends a toast to the page as an htmx client event. Stop a poll
with ``django_htmx.http.HttpResponseStopPolling`` (status 286).
"""

from __future__ import annotations

from typing import TypeVar

from django.http import HttpRequest, HttpResponseBase
from django_htmx.http import trigger_client_event
from django_htmx.middleware import HtmxDetails

Response = TypeVar("Response", bound=HttpResponseBase)


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def flash(response: Response, level: str, message: str) -> Response:
    """Show ``message`` as a toast (the page's ``flash`` event listener renders it)."""
    return trigger_client_event(response, "flash", {"level": level, "message": message})
