"""Login with throttling: repeated failures for one user name from one address
lock that pair out for a while, so passwords cannot be guessed at speed.

Not django-axes (issue 13 weighed it): axes flags the failure that reaches its limit
as locked out and answers that very attempt with the lockout page, while the
console's rule (tests/console/test_login.py) is that the fifth failure still shows
the form and the next attempt is refused with 429; with a limit of six, axes lets
that next attempt in. Matching it would take a custom axes backend, more code than
this module."""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from clusters.core.roles import user_role

MAX_FAILURES = 5
LOCKOUT_SECONDS = 15 * 60


def _key(request: HttpRequest) -> str:
    username = (request.POST.get("username") or "").strip().lower()
    address = request.META.get("REMOTE_ADDR", "")
    digest = hashlib.sha256(f"{address}|{username}".encode()).hexdigest()[:32]
    return f"fleetdeck:login-failures:{digest}"


def _failures(request: HttpRequest) -> int:
    try:
        return int(cache.get(_key(request), 0))
    except Exception:  # a cache outage must not lock everybody out
        return 0


def _count_failure(request: HttpRequest) -> None:
    key = _key(request)
    try:
        if not cache.add(key, 1, timeout=LOCKOUT_SECONDS):
            cache.incr(key)
    except Exception:  # cache outage: throttling degrades, login still works
        return


class ThrottledLoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if _failures(request) >= MAX_FAILURES:
            form = self.get_form()
            form.errors.clear()
            form.add_error(
                None,
                "Too many failed attempts. Wait 15 minutes before trying again, "
                "or ask an admin to reset your password.",
            )
            response = self.render_to_response(self.get_context_data(form=form))
            response.status_code = 429
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        _count_failure(self.request)
        return super().form_invalid(form)

    def get_default_redirect_url(self) -> str:
        # Someone without a role would land on a 403: send them to the page that
        # says what is missing and whom to ask.
        if user_role(self.request.user) is None:
            return reverse("users:no-role")
        return super().get_default_redirect_url()

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        # A cache outage (Redis stopped) must not turn a good login into a 500.
        with contextlib.suppress(Exception):
            cache.delete(_key(self.request))
        return super().form_valid(form)
