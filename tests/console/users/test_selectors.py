"""The users list reads a fixed number of queries, whatever the number of users."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clusters.core.roles import ADMIN, OPERATOR, VIEWER
from console.users import accounts
from console.users.selectors import user_rows

pytestmark = pytest.mark.django_db


def _count() -> tuple[int, list[tuple[str, str | None]]]:
    with CaptureQueriesContext(connection) as queries:
        rows = user_rows()
    return len(queries), [(r.user.username, r.role) for r in rows]


def test_user_rows_fixed_queries_and_roles(admin_user, viewer, operator) -> None:
    few, rows = _count()
    assert rows == [("ada-admin", ADMIN), ("otto-operator", OPERATOR), ("vera-viewer", VIEWER)]
    for n in range(8):
        accounts.user_create(actor=admin_user, username=f"u{n}", email="", role=VIEWER)
    accounts.user_deactivate(actor=admin_user, user_id=viewer.pk)
    many, rows = _count()
    assert many == few
    assert rows[-1] == ("vera-viewer", VIEWER)  # deactivated: last, role still shown
