"""A logged-in user without a role gets one clear page (who they are, that an admin
must give them a role, which admins to ask), not a 403 loop."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from console.users import accounts
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

SAYS_NO_ROLE = b"You are signed in as <strong>nora-norole</strong> but have no role yet"


def _admins_listed(html: bytes) -> list[str]:
    block = re.search(rb'<ul id="admins">(.*?)</ul>', html, re.S)
    return re.findall(r"<li>([\w-]+)", block.group(1).decode()) if block else []


def test_login_lands_on_the_no_role_page(nobody, admin_user, second_admin, operator) -> None:
    client = Client()
    response = client.post(reverse("login"), {"username": "nora-norole", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("users:no-role")
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert SAYS_NO_ROLE in page.content
    assert _admins_listed(page.content) == ["abe-admin", "ada-admin"]  # operators can't help
    menu = re.search(rb'<nav class="mainnav"[^>]*aria-label="Main">(.*?)</nav>', page.content, re.S)
    assert menu and b"<a " not in menu.group(1)  # no links that would only answer 403
    # Back at the login page while signed in: the same page, not the dashboard's 403.
    assert client.get(reverse("login"))["Location"] == reverse("users:no-role")


def test_every_page_explains_instead_of_a_bare_403(nobody, admin_user) -> None:
    client = Client()
    client.force_login(nobody)
    for url in ("/", reverse("timeline"), reverse("clusters:registrations"), reverse("users:list")):
        response = client.get(url)
        assert response.status_code == 403, url
        assert SAYS_NO_ROLE in response.content, url
        assert _admins_listed(response.content) == ["ada-admin"]
    api_style = client.get("/", HTTP_ACCEPT="application/json")
    assert api_style.status_code == 403
    assert "have no role yet" in api_style.json()["message"]


def test_deactivated_admins_are_not_offered(nobody, admin_user, second_admin) -> None:
    accounts.user_deactivate(actor=admin_user, user_id=second_admin.pk)
    client = Client()
    client.force_login(nobody)
    assert _admins_listed(client.get(reverse("users:no-role")).content) == ["ada-admin"]


def test_with_no_admin_at_all_it_says_how_to_make_one(nobody) -> None:
    client = Client()
    client.force_login(nobody)
    page = client.get(reverse("users:no-role"))
    assert b"There is no active admin" in page.content
    assert b"manage.py ensure_admin" in page.content


def test_once_given_a_role_the_page_sends_them_on(nobody, admin_user) -> None:
    client = Client()
    assert client.login(username="nora-norole", password=PASSWORD)
    accounts.user_role_set(actor=admin_user, user_id=nobody.pk, role="viewer")
    response = client.get(reverse("users:no-role"))
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert client.get("/").status_code == 200
