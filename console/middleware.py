from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseBase

# DRF authenticates API calls itself (tokens or session) and answers 401 as JSON;
# /metrics checks its own bearer token. Everything else needs a logged-in user.
_SELF_AUTHENTICATING_PREFIXES = ("/api/", "/metrics")


class FleetdeckLoginRequiredMiddleware(LoginRequiredMiddleware):
    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponseBase],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        if request.path.startswith(_SELF_AUTHENTICATING_PREFIXES):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class PermissionsPolicyMiddleware:
    """The one security header neither Django nor django-csp sets."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        return response


class MissingObjectIs404Middleware:
    """A service asked for a row that does not exist (a stale link, a guessed id):
    that is a 404 for the person asking, never a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.core.exceptions import ObjectDoesNotExist

        if isinstance(exception, ObjectDoesNotExist):
            from console.errors import not_found

            return not_found(request)
        return None


class NulCharacterIs400Middleware:
    """A NUL character in a query string or form field is never meaningful here,
    and PostgreSQL refuses it in any text column or filter (a DataError, i.e. a
    500). Refuse it up front with a clear 400, for every view at once."""

    MESSAGE = "The request contains a NUL character (\\x00), which no field accepts."

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._has_nul(request):
            from console.errors import bad_request_message

            return bad_request_message(request, self.MESSAGE)
        return self.get_response(request)

    @staticmethod
    def _has_nul(request: HttpRequest) -> bool:
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            return True
        if any("\x00" in k or "\x00" in v for k, vs in request.GET.lists() for v in vs):
            return True
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            return any("\x00" in k or "\x00" in v for k, vs in request.POST.lists() for v in vs)
        return False
