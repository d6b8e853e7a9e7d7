from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from clusters.core.roles import ADMIN, OPERATOR, VIEWER, role_groups_ensure
from tests.peers import REPO

from .factories import UserFactory

# The AWS peer (sandbox) fixtures: sandbox_server, sandbox, aws_env.
pytest_plugins = ["tests.sandbox_plugin"]
# The real Docker engine fixtures: engine, tcp_proxy.
pytest_plugins += ["tests.clusters.docker_helpers"]

ARTIFACTS = REPO / "artifacts"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Locks, throttles and heartbeats live in the cache; no test inherits another's."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave screenshots and logs for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def _user_with_role(role: str, username: str):  # type: ignore[no-untyped-def]
    role_groups_ensure()
    user = UserFactory(username=username)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def viewer(db):  # type: ignore[no-untyped-def]
    return _user_with_role(VIEWER, "vera-viewer")


@pytest.fixture
def operator(db):  # type: ignore[no-untyped-def]
    return _user_with_role(OPERATOR, "otto-operator")


@pytest.fixture
def admin_user(db):  # type: ignore[no-untyped-def]
    return _user_with_role(ADMIN, "ada-admin")


@pytest.fixture
def second_admin(db):  # type: ignore[no-untyped-def]
    return _user_with_role(ADMIN, "abe-admin")


def _client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client(viewer) -> Client:  # type: ignore[no-untyped-def]
    return _client_for(viewer)


@pytest.fixture
def operator_client(operator) -> Client:  # type: ignore[no-untyped-def]
    return _client_for(operator)


@pytest.fixture
def admin_client_(admin_user) -> Client:  # type: ignore[no-untyped-def]
    return _client_for(admin_user)


@pytest.fixture
def anon_client() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.fixture(scope="session")
def redis_url() -> str:
    from tests.peers import peer_missing

    url = os.environ.get("REDIS_URL", "")
    if not url:
        peer_missing("Redis (REDIS_URL; run the suite with `make test`)")
    return url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the session, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    from tests.peers import CHROMIUM_ARGS, chromium_path, peer_missing

    path = chromium_path()
    if path is None:
        peer_missing("Chromium (/usr/bin/chromium)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def browser_login(page, live_server, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
