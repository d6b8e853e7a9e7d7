"""The health refresh reads a fixed number of queries whatever the fleet size, and
an unchanged fleet writes nothing."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deployments.health import health_refresh
from deployments.models import Service
from tests.console import fleet

pytestmark = pytest.mark.django_db


def _queries() -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert health_refresh() == 0  # nothing changed since the last refresh
    return len(ctx.captured_queries)


def test_queries_do_not_grow_with_the_fleet() -> None:
    c = fleet.cluster(fleet.account("small"))
    fleet.deployment(fleet.service(c, "one"))
    fleet.instance(c)
    health_refresh()
    small = _queries()
    fleet.big_fleet(services=500, tasks=5000, instances=300)
    started = time.monotonic()
    assert health_refresh() > 500  # the first verdict of every new row is written
    first = time.monotonic() - started
    assert _queries() == small
    assert Service.objects.filter(health_state="failing").exists()  # big_fleet: FAILED rollouts
    # Generous: it runs every 30 s in a worker; this catches an accidental N+1.
    assert first < 20, f"first refresh of 800 subjects took {first:.1f} s"
