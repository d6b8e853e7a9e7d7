"""PostgreSQL goes away and comes back: requests fail cleanly (a 503 page for
people, a 503 JSON body for the API, never a stack trace) and recover by
themselves once the database accepts connections again.

The outage is real: the test database stops accepting connections
(ALTER DATABASE ... ALLOW_CONNECTIONS false) and every backend the app holds is
killed with pg_terminate_backend. Runs in the PostgreSQL pass of `make test`."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from django.db import close_old_connections, connection
from django.test import Client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pg_admin() -> Iterator[psycopg.Connection]:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: runs in the PostgreSQL pass of make test")
    params = connection.settings_dict
    admin = psycopg.connect(
        host=params["HOST"],
        port=params["PORT"],
        user=params["USER"],
        password=params["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    yield admin
    admin.execute(f'ALTER DATABASE "{params["NAME"]}" ALLOW_CONNECTIONS true')
    admin.close()


def _drop(admin: psycopg.Connection, name: str) -> int:
    admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    rows = admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        [name],
    ).fetchall()
    return len(rows)


def _get(client: Client, path: str):
    # Django's real WSGI handler runs close_old_connections at every request start
    # (the test client switches that off); do what production does.
    close_old_connections()
    return client.get(path)


def test_database_outage_is_a_clean_503_and_recovers(pg_admin, viewer) -> None:
    name = connection.settings_dict["NAME"]
    client = Client(raise_request_exception=False)
    client.force_login(viewer)
    assert _get(client, "/").status_code == 200
    assert _get(client, "/api/v1/clusters").status_code == 200

    assert _drop(pg_admin, name) >= 1  # the app's own connection was among them
    page = _get(client, "/")
    assert page.status_code == 503
    body = page.content.decode()
    assert "Database unavailable" in body
    assert "Traceback" not in body and "OperationalError" not in body
    assert page["Retry-After"] == "5"
    api = _get(client, "/api/v1/clusters")
    assert api.status_code == 503
    assert "database is unavailable" in api.json()["message"]
    # Repeated requests during the outage stay clean (no half-open connection reuse).
    assert _get(client, "/timeline/").status_code == 503

    pg_admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    assert _get(client, "/").status_code == 200
    assert _get(client, "/api/v1/clusters").status_code == 200
