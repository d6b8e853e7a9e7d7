"""Login is required everywhere except the login page and the health check.

The URL list is discovered by walking the resolver, so a new page is covered the
moment it is added.
"""

from __future__ import annotations

import json
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve

PUBLIC = {"login", "healthz", "users:set-password"}
POST_ONLY = {"logout"}
# For a logged-in user without a role; anyone with a role is sent to the dashboard.
NO_ROLE_ONLY = {"users:no-role"}


def _walk(patterns, prefix: str = "", namespace: str = ""):  # type: ignore[no-untyped-def]
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = p.namespace or namespace
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            name = f"{namespace}:{p.name}" if namespace and p.name else (p.name or "")
            yield prefix + str(p.pattern), name, p


def _concrete(route: str) -> str:
    """Turn a route or regex into a requestable path with dummy arguments."""
    path = re.sub(r"<int:[^>]+>", "1", route)
    path = re.sub(r"<[^>]+>", "x", path)
    path = re.sub(r"\(\?P<[^>]+>[^)]*\)", "x", path)  # regex groups (admin)
    path = path.replace("^", "").replace("$", "").replace("\\", "")
    path = re.sub(r"[?*+]", "", path)
    return "/" + path.lstrip("/")


def all_routes() -> list[tuple[str, str]]:
    routes = []
    for route, name, _ in _walk(get_resolver().url_patterns):
        if route.startswith("admin/") or route.startswith("^static"):
            continue  # Django admin keeps its own login; it is tested below
        routes.append((_concrete(route), name))
    return routes


@pytest.mark.django_db
@pytest.mark.parametrize("path,name", all_routes())
def test_anonymous_request_needs_login(anon_client, path: str, name: str) -> None:
    response = anon_client.get(path)
    if name in PUBLIC:
        assert response.status_code in (200, 503)
        return
    if path.startswith("/api/"):
        assert response.status_code == 401, (path, response.status_code)
        assert "message" in json.loads(response.content)
    elif path.startswith("/metrics"):
        assert response.status_code in (401, 403)
    else:
        assert response.status_code == 302, (path, response.status_code)
        assert response.headers["Location"].startswith("/login/")


@pytest.mark.django_db
def test_route_walk_finds_the_shell_pages() -> None:
    names = {name for _, name in all_routes()}
    assert {"dashboard", "timeline", "deployments:clusters", "deployments:services"} <= names


@pytest.mark.django_db
def test_django_admin_needs_its_own_login(anon_client) -> None:
    response = anon_client.get("/admin/")
    assert response.status_code == 302
    assert "/login/" in response.headers["Location"]


@pytest.mark.django_db
def test_viewer_sees_every_shell_page(viewer_client) -> None:
    above_viewer = {
        name
        for _, name, p in _walk(get_resolver().url_patterns)
        if getattr(p.callback, "fleetdeck_role", "viewer") != "viewer"
    }
    for path, name in all_routes():
        has_arguments = "x" in path.split("/") or "1" in path.split("/")
        token_only = path.startswith(("/api/", "/metrics"))  # own auth, tested elsewhere
        if name in PUBLIC | POST_ONLY | NO_ROLE_ONLY | above_viewer or token_only or has_arguments:
            continue
        response = viewer_client.get(path)
        # Pages that need a higher role refuse a viewer; POST-only endpoints refuse GET.
        if response.status_code == 405:
            continue
        role = getattr(resolve(path).func, "fleetdeck_role", "viewer")
        if role != "viewer":
            assert response.status_code == 403, (path, response.status_code)
            continue
        assert response.status_code == 200, (path, response.status_code)


@pytest.mark.django_db
def test_user_without_role_is_forbidden(client, django_user_model) -> None:
    user = django_user_model.objects.create_user("nobody", password="x-very-long-password")
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 403
    assert b"viewer role" in response.content
    # ... and told why, on the page (tests/console/users/test_no_role.py has the rest).
    assert b"You are signed in as <strong>nobody</strong> but have no role yet" in response.content


@pytest.mark.django_db
def test_api_answers_with_token_and_role(viewer) -> None:
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    token = Token.objects.create(user=viewer)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = api.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json() == {"username": viewer.username, "role": "viewer"}


@pytest.mark.django_db
def test_logout_is_post_only_and_csrf_protected(viewer_client) -> None:
    assert viewer_client.get("/logout/").status_code == 405
    # The enforce_csrf_checks client has no token: the POST is refused.
    assert viewer_client.post("/logout/").status_code == 403
