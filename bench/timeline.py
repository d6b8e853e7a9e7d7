"""Timeline benchmark: a page of 50 events out of 1,000,000 stored.

Stores N events (default 1,000,000) in a throw-away test database (SQLite, or
PostgreSQL when DATABASE_URL points at one), then renders timeline pages through
the real view with Django's test client and prints server time per page
(p50/p95) and the SQL query count, next to a baseline in the same run: the bare
``SELECT ... ORDER BY occurred_at DESC, id DESC LIMIT 50``.

    .venv/bin/python bench/timeline.py [--events 1000000] [--repeat 30]   (SQLite)
    .venv/bin/python scripts/services.py -- .venv/bin/python bench/timeline.py
        (SQLite, then PostgreSQL: FLEETDECK_TEST_POSTGRES_URL is set by services.py)

Not a timed test: it prints numbers for docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.timeline.selectors import TimelineFilters

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings_test")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

SOURCES = ["ecs-service-event", "task", "deployment", "container-instance", "docker", "sync"]
SEVERITIES = ["info", "info", "info", "warning", "info", "info", "info", "error"]


def _case(column: str, values: list[str]) -> str:
    whens = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values))
    return f"CASE ({column}) % {len(values)} {whens} END"


def populate(total: int) -> None:
    """Insert ``total`` events with one INSERT ... SELECT (fast on both databases).

    Event n happened n/2 seconds before now (pairs share a timestamp, so the id
    tie-breaker is exercised); 5 clusters, 50 services, 8 hosts; one event in 10,000
    carries the word "kernel" (a rare search term)."""
    if connection.vendor == "postgresql":
        numbers = f"SELECT g AS n FROM generate_series(1, {total}) AS g"
        when = "date_trunc('second', now()) - (n / 2) * interval '1 second'"
        text = "CAST(n AS text)"
    else:
        numbers = (
            f"WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq "
            f"WHERE n < {total}) SELECT n FROM seq"
        )
        when = "strftime('%Y-%m-%d %H:%M:%S', 'now', '-' || (n / 2) || ' seconds')"
        text = "CAST(n AS TEXT)"
    arn = "'arn:aws:ecs:us-east-1:123456789012:"
    sql = f"""
        INSERT INTO clusters_event (occurred_at, recorded_at, source, severity, account,
            region, cluster_arn, service_arn, task_arn, instance_arn, docker_host,
            container_id, message, details, dedupe_key)
        SELECT {when}, {when}, {_case("n", SOURCES)}, {_case("n / 7", SEVERITIES)},
            '123456789012', 'us-east-1',
            {arn}cluster/cluster-' || {text.replace("n", "(n % 5)")},
            {arn}service/cluster-' || {text.replace("n", "(n % 5)")} || '/svc-'
                || {text.replace("n", "(n % 50)")},
            {arn}task/cluster-' || {text.replace("n", "(n % 5)")} || '/' || {text},
            '', 'host-' || {text.replace("n", "(n % 8)")}, '',
            CASE WHEN n % 10000 = 0 THEN 'kernel: oom-killer invoked for task ' || {text}
                 ELSE 'Task ' || {text} || ' stopped: Essential container in task exited'
            END,
            '{{}}', 'bench|' || {text}
        FROM ({numbers}) AS numbers
    """
    with connection.cursor() as cursor:
        cursor.execute(sql)
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE clusters_event")
        else:
            cursor.execute("ANALYZE")


def measure(fn: Callable[[], object], repeat: int) -> list[float]:
    fn()  # warm caches
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    # Not setup_test_environment(): its instrumented template rendering would add
    # to the server time measured here; the test client only needs the host.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    _bench_database(args)
    pg_url = os.environ.get("FLEETDECK_TEST_POSTGRES_URL", "")
    if connection.vendor == "sqlite" and pg_url and not os.environ.get("DATABASE_URL"):
        # The same run on PostgreSQL, in a child process (settings are per process).
        print(flush=True)
        subprocess.run(
            [sys.executable, __file__, "--events", str(args.events), "--repeat", str(args.repeat)],
            env={**os.environ, "DATABASE_URL": pg_url},
            check=True,
        )


def _bench_database(args: argparse.Namespace) -> None:
    old_name = connection.creation.create_test_db(verbosity=0, keepdb=False)
    try:
        start = time.perf_counter()
        populate(args.events)
        print(
            f"{connection.vendor}: stored {args.events:,} events in "
            f"{time.perf_counter() - start:.1f} s"
        )
        run(args.repeat)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(repeat: int) -> None:
    from clusters.core.roles import VIEWER, role_groups_ensure
    from console.timeline.selectors import TimelineFilters, timeline_events
    from tests.factories import UserFactory

    role_groups_ensure()
    user: Any = UserFactory(username="bench-viewer")
    user.groups.add(Group.objects.get(name=VIEWER))
    client = Client()
    client.force_login(user)

    def baseline() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT * FROM clusters_event ORDER BY occurred_at DESC, id DESC LIMIT 50"
            )
            cursor.fetchall()

    base_times = measure(baseline, repeat)
    print(
        f"{'baseline: bare SELECT … LIMIT 50':40} p50 {p(base_times, 0.5):7.2f} ms  "
        f"p95 {p(base_times, 0.95):7.2f} ms  queries 1"
    )
    first = timeline_events(TimelineFilters())
    cursor_deep = first.next_cursor
    for _ in range(200):  # 10,000 events deep
        cursor_deep = timeline_events(TimelineFilters(), cursor=cursor_deep).next_cursor
    cases = [
        ("page 1, no filter", ""),
        ("page 201 (keyset, 10,000 deep)", f"cursor={cursor_deep}"),
        ("service=svc-7 (name)", "service=svc-7"),
        ("severity=error + cluster name", "severity=error&cluster=cluster-3"),
        ("source=docker + host", "source=docker&host=host-2"),
        ("q=essential (common term)", "q=essential"),
        ("q=kernel (1 in 10,000)", "q=kernel"),
        (
            "embed fragment, service ARN",
            "embed=1&service=arn:aws:ecs:us-east-1:123456789012:service/cluster-2/svc-12",
        ),
        ("live poll, nothing new", f"after={first.newest_id}"),
    ]
    for label, query in cases:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"/timeline/?{query}")
        assert response.status_code in (200, 204), (label, response.status_code)
        view_queries = len(ctx.captured_queries)
        # The selector alone (the view adds session, user and permission queries).
        filters = _filters_from(query)
        after = _param(query, "after")
        with CaptureQueriesContext(connection) as ctx:
            timeline_events(
                filters, cursor=_param(query, "cursor"), after=int(after) if after else None
            )
        selector_queries = len(ctx.captured_queries)

        def view(q: str = query) -> object:
            return client.get(f"/timeline/?{q}")

        times = measure(view, repeat)

        def selector(f: TimelineFilters = filters, q: str = query) -> object:
            a = _param(q, "after")
            return timeline_events(f, cursor=_param(q, "cursor"), after=int(a) if a else None)

        sel_times = measure(selector, repeat)
        print(
            f"{label:40} view p50 {p(times, 0.5):7.2f} ms p95 {p(times, 0.95):7.2f} ms | "
            f"selector p50 {p(sel_times, 0.5):7.2f} ms "
            f"({p(sel_times, 0.5) / p(base_times, 0.5):5.1f}x baseline) | "
            f"queries: selector {selector_queries} (baseline 1), whole view {view_queries}"
        )


def _param(query: str, name: str) -> str | None:
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == name:
            return value
    return None


def _filters_from(query: str) -> TimelineFilters:
    from console.timeline.forms import TIMELINE_FILTER_FIELDS, TimelineFilterForm

    params = {
        k: v
        for k, v in (part.partition("=")[::2] for part in query.split("&") if part)
        if k in TIMELINE_FILTER_FIELDS
    }
    return TimelineFilterForm(params or None).filters()


if __name__ == "__main__":
    main()
