"""Error pages that keep the console's look and answer htmx/API calls in kind."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    )


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception) if exception and str(exception) else "You are not allowed to do that."
    if _wants_json(request):
        return JsonResponse({"message": message}, status=403)
    return render(request, "error.html", {"title": "Not allowed", "message": message}, status=403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = "There is nothing at this address."
    if _wants_json(request):
        return JsonResponse({"message": message}, status=404)
    return render(request, "error.html", {"title": "Not found", "message": message}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    message = "Something went wrong on our side. It has been logged; try again in a moment."
    if _wants_json(request):
        return JsonResponse({"message": message}, status=500)
    # No context processors here: the failure may be the database itself.
    return render(request, "error.html", {"title": "Server error", "message": message}, status=500)
