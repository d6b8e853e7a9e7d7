"""Error pages that keep the console's look and answer htmx/API calls in kind."""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from clusters.core.roles import user_role
from console.users import no_role_response


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    )


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception) if exception and str(exception) else "You are not allowed to do that."
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user_role(user) is None:
        # Signed in but no role yet: say so, and whom to ask, on every page they try.
        message = (
            f"You are signed in as {user.get_username()} but have no role yet; "
            "an admin must give you one."
        )
        if not _wants_json(request):
            return no_role_response(request, reason=str(exception or ""))
    if _wants_json(request):
        return JsonResponse({"message": message}, status=403)
    return render(request, "error.html", {"title": "Not allowed", "message": message}, status=403)


def bad_request_message(request: HttpRequest, message: str) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"message": message}, status=400)
    return render(request, "error.html", {"title": "Bad request", "message": message}, status=400)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = "There is nothing at this address."
    if _wants_json(request):
        return JsonResponse({"message": message}, status=404)
    return render(request, "error.html", {"title": "Not found", "message": message}, status=404)


DB_UNAVAILABLE = (
    "The database is unavailable right now. Nothing was changed; "
    "try again in a moment (this page does not need a reload to recover)."
)


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """A 503 that touches neither the database nor the session (both may be down)."""
    if _wants_json(request):
        response: HttpResponse = JsonResponse({"message": DB_UNAVAILABLE}, status=503)
    else:
        response = HttpResponse(
            render_to_string("db_unavailable.html", {"message": DB_UNAVAILABLE}), status=503
        )
    response["Retry-After"] = "5"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this inside its `except` block: a lost database (connection
    # dropped, server restarting) is a 503 the client may retry, not a 500.
    exc = sys.exc_info()[1]
    if isinstance(exc, OperationalError | InterfaceError):
        return database_unavailable(request)
    message = "Something went wrong on our side. It has been logged; try again in a moment."
    if _wants_json(request):
        return JsonResponse({"message": message}, status=500)
    # No context processors here: the failure may be the database itself.
    return render(request, "error.html", {"title": "Server error", "message": message}, status=500)
