"""The users pages through HTTP: who may see them, the create -> link -> password
flow, inline errors, the last-admin refusal on the page, and the menu entry."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from clusters.core.roles import ADMIN, OPERATOR, VIEWER, user_role
from clusters.models import AuditEntry

from .conftest import post

pytestmark = pytest.mark.django_db
User = get_user_model()


def _routes(pk: int) -> list[tuple[str, str]]:
    return [
        ("get", reverse("users:list")),
        ("get", reverse("users:new")),
        ("post", reverse("users:new")),
        ("get", reverse("users:detail", args=[pk])),
        ("post", reverse("users:role", args=[pk])),
        ("post", reverse("users:deactivate", args=[pk])),
        ("post", reverse("users:reactivate", args=[pk])),
        ("post", reverse("users:password-link", args=[pk])),
    ]


def test_only_admins_reach_the_users_pages(viewer_client, operator_client, admin_client_, viewer):
    for client in (viewer_client, operator_client):
        for method, url in _routes(viewer.pk):
            response = post(client, url) if method == "post" else client.get(url)
            assert response.status_code == 403, (method, url)
    for name in ("users:list", "users:new"):
        assert admin_client_.get(reverse(name)).status_code == 200
    page = admin_client_.get(reverse("users:detail", args=[viewer.pk]))
    assert page.status_code == 200
    assert b'data-role="viewer"' in page.content


def test_the_list_shows_every_user_with_their_role(admin_client_, viewer, operator, nobody):
    nobody.is_active = False
    nobody.save()
    html = admin_client_.get(reverse("users:list")).content.decode()
    for name, role in (("vera-viewer", VIEWER), ("otto-operator", OPERATOR), ("ada-admin", ADMIN)):
        row = re.search(rf'<tr data-user="{name}">(.*?)</tr>', html, re.S)
        assert row and f'data-role="{role}"' in row.group(1), name
    row = re.search(r'<tr data-user="nora-norole" class="gone">(.*?)</tr>', html, re.S)
    assert row and 'data-role="none"' in row.group(1) and "deactivated" in row.group(1)


def _create(admin_client_: Client, **data: str):  # type: ignore[no-untyped-def]
    return post(admin_client_, reverse("users:new"), data)


def test_create_shows_a_one_time_link_that_sets_the_password(admin_client_) -> None:
    response = _create(admin_client_, username="olga", email="olga@example.com", role=OPERATOR)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    link = re.search(r'id="set-password-link"[^>]*value="([^"]+)"', response.content.decode())
    assert link, response.content
    olga = User.objects.get(username="olga")
    assert user_role(olga) == OPERATOR and not olga.has_usable_password()

    anonymous = Client(enforce_csrf_checks=True)
    form_page = anonymous.get(link.group(1), follow=True)
    assert b"Choose the password for <strong>olga</strong>" in form_page.content
    url = form_page.redirect_chain[-1][0]
    done = post(anonymous, url, {"new_password1": "plant-3-line", "new_password2": "plant-3-line"})
    assert done.status_code == 302 and done["Location"] == reverse("login")
    assert Client().login(username="olga", password="plant-3-line")
    entry = AuditEntry.objects.get(action="user.password_set")
    assert entry.actor == olga

    again = Client().get(link.group(1), follow=True)  # used once: no more
    assert b'id="link-invalid"' in again.content


def test_create_form_errors_are_inline(admin_client_, viewer) -> None:
    bad = _create(admin_client_, username="has space", email="not-an-email", role="root")
    assert bad.status_code == 400
    errors = bad.context["form"].errors
    assert set(errors) == {"username", "email", "role"}
    assert b"Enter a valid username" in bad.content
    taken = _create(admin_client_, username="Vera-Viewer", email="", role=VIEWER)
    assert taken.status_code == 400
    assert b"A user named Vera-Viewer already exists." in taken.content
    assert not AuditEntry.objects.exists()


def test_role_change_from_the_page(admin_client_, viewer) -> None:
    response = post(admin_client_, reverse("users:role", args=[viewer.pk]), {"role": ADMIN})
    assert response.status_code == 302
    assert user_role(User.objects.get(pk=viewer.pk)) == ADMIN
    invalid = post(admin_client_, reverse("users:role", args=[viewer.pk]), {"role": "god"})
    assert invalid.status_code == 400
    assert b"Select a valid choice" in invalid.content


def test_the_last_admin_is_refused_on_the_page(admin_client_, admin_user) -> None:
    url = reverse("users:role", args=[admin_user.pk])
    response = post(admin_client_, url, {"role": VIEWER})
    assert response.status_code == 409
    assert b"You are the last active admin" in response.content
    confirm = {"username": admin_user.username}
    response = post(admin_client_, reverse("users:deactivate", args=[admin_user.pk]), confirm)
    assert response.status_code == 409
    assert b"You are the last active admin" in response.content
    assert User.objects.get(pk=admin_user.pk).is_active


def test_deactivate_needs_the_page_it_was_shown_on(admin_client_, viewer, operator) -> None:
    url = reverse("users:deactivate", args=[viewer.pk])
    assert post(admin_client_, url).status_code == 400  # empty: nothing happens
    stale = post(admin_client_, url, {"username": operator.username})
    assert stale.status_code == 400 and b"out of date" in stale.content
    assert User.objects.get(pk=viewer.pk).is_active
    done = post(admin_client_, url, {"username": viewer.username})
    assert done.status_code == 302
    assert not User.objects.get(pk=viewer.pk).is_active
    back = post(
        admin_client_, reverse("users:reactivate", args=[viewer.pk]), {"username": "vera-viewer"}
    )
    assert back.status_code == 302 and User.objects.get(pk=viewer.pk).is_active


def test_a_new_link_for_a_forgotten_password(admin_client_, viewer) -> None:
    url = reverse("users:password-link", args=[viewer.pk])
    response = post(admin_client_, url, {"username": viewer.username})
    assert response.status_code == 200
    assert b"New set-password link for vera-viewer" in response.content
    assert AuditEntry.objects.get(action="user.set_password_link").details["had_password"]


def test_a_deactivated_account_link_stops_working(admin_client_, viewer) -> None:
    response = post(
        admin_client_,
        reverse("users:password-link", args=[viewer.pk]),
        {"username": viewer.username},
    )
    link = re.search(r'value="(http[^"]+)"', response.content.decode())
    assert link
    post(
        admin_client_, reverse("users:deactivate", args=[viewer.pk]), {"username": viewer.username}
    )
    page = Client().get(link.group(1), follow=True)
    assert b'id="link-invalid"' in page.content


def test_the_menu_shows_users_to_admins_only(admin_client_, operator_client) -> None:
    users_link = f'href="{reverse("users:list")}"'.encode()
    assert users_link in admin_client_.get(reverse("timeline")).content
    assert users_link not in operator_client.get(reverse("timeline")).content
