"""Helpers for the users pages' tests."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD


def post(client: Client, url: str, data: dict[str, Any] | None = None) -> Any:
    """A POST that carries the CSRF token, as the browser's form would."""
    for page in ("timeline", "login"):  # a page with a form sets the cookie
        if "csrftoken" not in client.cookies:
            client.get(reverse(page))
    return client.post(url, data or {}, HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)


@pytest.fixture
def nobody(db):  # type: ignore[no-untyped-def]
    """A logged-in-able user who holds no role."""
    return get_user_model().objects.create_user(
        "nora-norole", email="nora@example.com", password=PASSWORD
    )
