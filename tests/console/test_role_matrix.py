"""The role matrix, generated from the URL resolver.

Every view x {anonymous, viewer, operator, admin} x {GET, POST}. Each view must
declare its role with ``@role_required`` (or be a DRF view with permission
classes, or be on the short public list); a new view that declares nothing fails
here. Dummy URL arguments must give a clean 404/405/403, never a 500.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import get_resolver

from clusters.core.roles import ADMIN, OPERATOR, ROLES, VIEWER
from tests.console.test_access import _concrete, _walk

# /metrics checks its own bearer token (tests/console/test_metrics.py); a one-time
# set-password link is opened logged out (its token is the check).
PUBLIC = {"login", "healthz", "metrics", "users:set-password"}
# Any logged-in user, whatever their role, may log out; the no-role page is for
# logged-in users without a role (others are sent to the dashboard).
ANY_USER = {"logout", "users:no-role"}
RANK = {None: -1, VIEWER: 0, OPERATOR: 1, ADMIN: 2}


def _declared_role(callback) -> str | None:  # type: ignore[no-untyped-def]
    role = getattr(callback, "fleetdeck_role", None)
    if role:
        return str(role)
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is not None and getattr(view_class, "permission_classes", None):
        return "api"
    return None


def views() -> list[tuple[str, str, str | None]]:
    found = []
    for route, name, pattern in _walk(get_resolver().url_patterns):
        if route.startswith("admin/"):
            continue
        found.append((_concrete(route), name, _declared_role(pattern.callback)))
    return found


def test_every_view_declares_a_role() -> None:
    exempt = PUBLIC | ANY_USER
    undeclared = [(p, name) for p, name, role in views() if role is None and name not in exempt]
    assert undeclared == [], f"views without @role_required: {undeclared}"


@pytest.fixture
def clients(viewer, operator, admin_user) -> dict[str | None, Client]:
    result: dict[str | None, Client] = {None: Client()}
    for role, user in ((VIEWER, viewer), (OPERATOR, operator), (ADMIN, admin_user)):
        client = Client()  # CSRF is tested separately; here only roles are the subject
        client.force_login(user)
        result[role] = client
    return result


@pytest.mark.django_db
def test_role_matrix(clients) -> None:
    failures = []
    for path, name, needed in views():
        if name in PUBLIC or needed is None:
            continue
        for role in (None, *ROLES):
            for method in ("get", "post"):
                response = getattr(clients[role], method)(path)
                status = response.status_code
                if status >= 500:
                    failures.append((method, path, role, status, "server error"))
                elif role is None:
                    if needed == "api":
                        ok = status in (401, 403, 405)
                    else:
                        ok = status == 302 and "/login/" in response.headers.get("Location", "")
                    if not ok:
                        failures.append((method, path, role, status, "anonymous got in"))
                elif needed != "api" and RANK[role] < RANK[needed]:
                    if status not in (403, 405):
                        failures.append((method, path, role, status, f"needs {needed}"))
                elif status == 403:
                    failures.append((method, path, role, status, "wrongly forbidden"))
    assert failures == []


@pytest.mark.django_db
def test_a_user_without_a_role_gets_the_no_role_page_everywhere(django_user_model) -> None:
    """Logged in but holding no role: every page answers 403 with the page that says
    so and whom to ask (console/users), never a bare refusal or a redirect loop."""
    client = Client()
    client.force_login(django_user_model.objects.create_user("nora-norole"))
    failures = []
    for path, _name, needed in views():
        if needed in (None, "api"):
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            if response.status_code == 405:
                continue
            if response.status_code != 403 or b'id="no-role"' not in response.content:
                failures.append((method, path, response.status_code))
    assert failures == []


@pytest.mark.django_db
def test_every_post_needs_a_csrf_token_and_no_get_changes_state(admin_user) -> None:
    from clusters.models import AuditEntry, Event

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    failures = []
    for path, name, needed in views():
        if needed in (None, "api"):
            continue
        response = client.post(path)
        if response.status_code not in (403, 405):
            failures.append((path, response.status_code))
    assert failures == [], f"POST accepted without a CSRF token: {failures}"

    before = (AuditEntry.objects.count(), Event.objects.count())
    for path, _name, needed in views():
        if needed not in (None, "api"):
            client.get(path)
    assert (AuditEntry.objects.count(), Event.objects.count()) == before
