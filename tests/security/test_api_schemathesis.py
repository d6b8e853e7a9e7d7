"""Schemathesis against the JSON API's own OpenAPI schema (/api/v1/schema), as a
logged-in viewer with a DRF token: no 5xx anywhere and every response conforms
to the schema (status codes, content type, body shape)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token

from clusters.models import AwsAccount, Cluster, Event


def _wsgi():  # the Django WSGI app, built after pytest-django configured settings
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


@pytest.fixture
def api_token(viewer) -> str:
    account = AwsAccount.objects.create(
        name="acct", regions=["us-east-1"], auth_mode="endpoint", account_id="123456789012"
    )
    cluster = Cluster.objects.create(
        account=account,
        region="us-east-1",
        arn="arn:aws:ecs:us-east-1:123456789012:cluster/edge",
        name="edge",
    )
    Event.objects.create(
        source="task", message="<b>hello</b>", dedupe_key="st-1", cluster_arn=cluster.arn
    )
    return Token.objects.create(user=viewer).key


lazy = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def _keep_test_connection() -> Iterator[None]:
    """Schemathesis drives Django's real WSGI handler, which closes the database
    connection after each request; inside a test transaction, keep it (as
    Django's own test client does)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(api_token, _keep_test_connection):
    return schemathesis.openapi.from_wsgi(
        "/api/v1/schema", _wsgi(), headers={"Authorization": f"Token {api_token}"}
    )


@pytest.mark.django_db
@lazy.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case, api_token) -> None:
    # The schema offers two schemes (token header, session cookie); this run
    # authenticates with the token, so drop any generated session cookie. The
    # ignored_auth check then probes without and with a wrong token (must be 401).
    if case.cookies:
        case.cookies.pop("sessionid", None)
    auth = {"Authorization": f"Token {api_token}"}
    response = case.call(headers=auth)
    assert response.status_code < 500, (case.path, case.query, response.status_code)
    case.validate_response(response, headers=auth)
