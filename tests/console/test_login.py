from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import PASSWORD


@pytest.mark.django_db
def test_login_is_throttled_after_repeated_failures(viewer) -> None:
    client = Client()
    for _ in range(5):
        response = client.post("/login/", {"username": viewer.username, "password": "nope"})
        assert response.status_code == 200
    # Even the right password is refused while locked out, with a clear message.
    response = client.post("/login/", {"username": viewer.username, "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed attempts" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_successful_login_clears_the_failure_count(viewer) -> None:
    client = Client()
    for _ in range(3):
        client.post("/login/", {"username": viewer.username, "password": "nope"})
    response = client.post("/login/", {"username": viewer.username, "password": PASSWORD})
    assert response.status_code == 302
    client.logout()
    for _ in range(3):
        response = client.post("/login/", {"username": viewer.username, "password": "nope"})
    assert response.status_code == 200  # 3 + 3 failures, but the success reset the count


@pytest.mark.django_db
def test_login_form_needs_csrf(viewer) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": viewer.username, "password": PASSWORD})
    assert response.status_code == 403
