"""In Chromium: an admin creates a user and copies the one-time link, the new user
opens it logged out, chooses a password and logs in; a user without a role lands on
the page that says so; the only admin's request form says nobody can approve it."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from clusters.models import AwsAccount, Cluster
from tests.conftest import browser_login
from tests.factories import PASSWORD


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_admin_creates_a_user_who_sets_a_password_and_logs_in(
    browser, page, live_server, admin_user, artifacts_dir
) -> None:
    shots = artifacts_dir / "users"
    shots.mkdir(exist_ok=True)
    browser_login(page, live_server, admin_user.username, PASSWORD)
    page.click("nav.mainnav >> text=Users")
    page.wait_for_url(re.compile(r"/users/$"))
    page.click("#new-user")
    page.fill("#id_username", "has space")
    page.check("input[name=role][value=operator]")
    page.click("#user-form button[type=submit]")
    assert "Enter a valid username" in page.inner_text("#field-username")
    page.screenshot(path=str(shots / "01-new-user-errors.png"), full_page=True)
    page.fill("#id_username", "olga")
    page.fill("#id_email", "olga@example.com")
    page.click("#user-form button[type=submit]")
    link = page.input_value("#set-password-link")
    page.screenshot(path=str(shots / "02-set-password-link.png"), full_page=True)

    newcomer_context = browser.new_context(viewport={"width": 1366, "height": 900})
    newcomer = newcomer_context.new_page()
    newcomer.goto(link)
    assert "Choose the password for olga" in newcomer.inner_text("main")
    newcomer.fill("#id_new_password1", "plant-3-packaging")
    newcomer.fill("#id_new_password2", "plant-3-packaging")
    newcomer.screenshot(path=str(shots / "03-choose-password.png"), full_page=True)
    newcomer.click("#set-password-form button[type=submit]")
    newcomer.wait_for_url(re.compile(r"/login/"))
    browser_login(newcomer, live_server, "olga", "plant-3-packaging")
    assert "olga · operator" in newcomer.inner_text(".whoami")
    newcomer_context.close()

    page.goto(f"{live_server.url}/users/")
    assert "operator" in page.inner_text("tr[data-user=olga]")
    page.screenshot(path=str(shots / "04-users-list.png"), full_page=True)
    page.click("tr[data-user=ada-admin] a")
    page.check("input[name=role][value=viewer]")
    page.click("#role-form button[type=submit]")
    assert "You are the last active admin" in page.inner_text("#role")
    page.screenshot(path=str(shots / "05-last-admin-refused.png"), full_page=True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_no_role_page_and_the_only_admin_notice(
    page, live_server, admin_user, artifacts_dir
) -> None:
    shots = artifacts_dir / "users"
    shots.mkdir(exist_ok=True)
    get_user_model().objects.create_user("nora-norole", password=PASSWORD)
    browser_login(page, live_server, "nora-norole", PASSWORD)
    assert page.url.endswith("/users/no-role/")
    text = page.inner_text("#no-role")
    assert "You are signed in as nora-norole but have no role yet" in text
    assert "ada-admin" in page.inner_text("#admins")
    page.screenshot(path=str(shots / "06-no-role.png"), full_page=True)
    page.click("#no-role button[type=submit]")  # log out
    page.wait_for_url(re.compile(r"/login/"))

    account = AwsAccount.objects.create(name="prod", regions=["eu-west-1"])
    arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/edge"
    Cluster.objects.create(account=account, region="eu-west-1", arn=arn, name="edge")
    browser_login(page, live_server, admin_user.username, PASSWORD)
    page.goto(f"{live_server.url}/registrations/new/")
    assert "You are the only admin." in page.inner_text("#only-admin")
    page.screenshot(path=str(shots / "07-only-admin-request.png"), full_page=True)
