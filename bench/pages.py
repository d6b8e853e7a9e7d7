"""Dashboard benchmark: 5,000 tasks / 500 services / 300 instances (+ 24 h of samples).

Builds the fleet in a throw-away test database (SQLite, or PostgreSQL when
DATABASE_URL points at one), then:

1. renders the dashboard through the real view (Django test client) and prints
   server time p50/p95 and the SQL query count for the page, the 5-second live
   poll and the trends fragment, next to a baseline in the same run (/healthz);
2. starts gunicorn on 127.0.0.1 against the same database and runs N clients
   (default 20) that each load the page once, then poll the live fragment every
   5 s, as the browser does; prints p50/p95 latency next to the same load
   pattern against /healthz.

    .venv/bin/python scripts/services.py -- bash -c \\
        'DATABASE_URL=$FLEETDECK_TEST_POSTGRES_URL .venv/bin/python bench/pages.py'

Not a timed test: it prints numbers for docs/notes and docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings_test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


CPU: dict[int, list[float]] = {}


def measure(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall-clock ms per call; this process's CPU ms per call go to CPU[id(list)]
    (CPU time hardly moves when other processes load the machine)."""
    fn()
    times: list[float] = []
    cpu: list[float] = []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    CPU[id(times)] = cpu
    return times


def samples_populate() -> int:
    """24 h of one-a-minute samples for every service, with one INSERT ... SELECT."""
    now_minute = int(time.time() // 60)
    first = now_minute - 24 * 60
    if connection.vendor == "postgresql":
        minutes = f"generate_series({first}, {now_minute}) AS m"
        at = "to_timestamp(m * 60)"
        sql = f"""INSERT INTO deployments_servicesample
            (service_id, minute, sampled_at, desired_count, running_count, pending_count)
            SELECT s.id, m, {at}, s.desired_count,
                   CASE WHEN (m + s.id) % 97 = 0 THEN s.running_count - 1 ELSE s.running_count END,
                   0
            FROM deployments_service s CROSS JOIN {minutes}"""
    else:
        sql = f"""WITH RECURSIVE mins(m) AS (SELECT {first} UNION ALL SELECT m + 1 FROM mins
                  WHERE m < {now_minute})
            INSERT INTO deployments_servicesample
            (service_id, minute, sampled_at, desired_count, running_count, pending_count)
            SELECT s.id, m, datetime(m * 60, 'unixepoch'), s.desired_count,
                   CASE WHEN (m + s.id) % 97 = 0 THEN s.running_count - 1 ELSE s.running_count END,
                   0
            FROM deployments_service s CROSS JOIN mins"""
    with connection.cursor() as cursor:
        cursor.execute(sql)
        count = cursor.rowcount
        cursor.execute("ANALYZE")
    return int(count)


def in_process(client: Client, repeat: int) -> None:
    html = client.get("/").content.decode()
    versions = dict(re.findall(r'name="(v_[\w-]+)" value="([0-9a-f]+)"', html))
    live = "/?part=live&" + "&".join(f"{k}={v}" for k, v in versions.items())
    cases = [
        ("baseline: /healthz", "/healthz"),
        ("dashboard page", "/"),
        ("live poll (nothing changed: 204)", live),
        ("trends fragment (SVG)", "/?part=trends"),
        ("wallboard ?tv=1", "/?tv=1"),
        ("/metrics", "/metrics"),
    ]
    base = 0.0
    auth = f"Bearer {settings.FLEETDECK_METRICS_TOKEN}"
    for label, url in cases:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url, HTTP_AUTHORIZATION=auth)
        assert response.status_code in (200, 204), (label, response.status_code)
        queries = len(ctx.captured_queries)
        times = measure(lambda u=url: client.get(u, HTTP_AUTHORIZATION=auth), repeat)  # type: ignore[misc]
        base = base or p(times, 0.5)
        cpu = CPU[id(times)]
        print(
            f"{label:36} p50 {p(times, 0.5):7.1f} ms  p95 {p(times, 0.95):7.1f} ms  "
            f"({p(times, 0.5) / base:5.1f}x baseline)  Python CPU p50 {p(cpu, 0.5):6.1f} ms  "
            f"queries {queries}"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = f"{db['HOST']}:{db.get('PORT') or 5432}"
    return f"postgres://{db.get('USER') or ''}{password}@{host}/{db['NAME']}"


def start_gunicorn(
    workers: int, threads: int, cache_seconds: int
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "FLEETDECK_DASHBOARD_CACHE_SECONDS": str(cache_seconds),
        "DJANGO_SETTINGS_MODULE": "console.settings_test",
        "DATABASE_URL": database_url(),
        "FLEETDECK_DATA_DIR": str(settings.DATA_DIR),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "console.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2)
            break
        except Exception:
            time.sleep(0.2)
    else:
        proc.kill()
        raise SystemExit("gunicorn did not start")
    return proc, url


def load(
    url: str, cookie: str, first: str, poll: str, clients: int, seconds: float, interval: float
) -> tuple[list[float], list[float]]:
    """``clients`` threads: one GET of ``first``, then ``poll`` every ``interval`` s.
    Returns (first-load latencies, poll latencies) in ms."""
    firsts: list[float] = []
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def fetch(path: str, into: list[float]) -> None:
        request = urllib.request.Request(url + path, headers={"Cookie": cookie})
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
        with lock:
            into.append((time.perf_counter() - start) * 1000)

    def client(index: int) -> None:
        time.sleep(interval * index / clients)  # browsers do not open in lockstep
        fetch(first, firsts)
        while time.monotonic() < stop_at:
            next_at = time.monotonic() + interval
            fetch(poll, latencies)
            time.sleep(max(0.0, next_at - time.monotonic()))

    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(client, range(clients)))
    return firsts, latencies


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--interval", type=float, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--cache-seconds",
        type=int,
        default=2,
        help="FLEETDECK_DASHBOARD_CACHE_SECONDS for gunicorn (production default 2; 0 = off)",
    )
    args = parser.parse_args()

    setup_test_environment()
    settings.FLEETDECK_METRICS_TOKEN = "bench-token"
    old_name = connection.creation.create_test_db(verbosity=0, keepdb=False)
    try:
        from tests.console.fleet import big_fleet

        start = time.perf_counter()
        big_fleet(services=500, tasks=5000, instances=300)
        samples = samples_populate()
        print(
            f"{connection.vendor}: fleet of 5,000 tasks / 500 services / 300 instances "
            f"+ {samples:,} samples in {time.perf_counter() - start:.1f} s; "
            f"{os.cpu_count()} CPUs, load average {load_average()}"
        )
        run(args)
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args: Any) -> None:
    from clusters.core.roles import VIEWER, role_groups_ensure
    from tests.factories import UserFactory

    role_groups_ensure()
    user: Any = UserFactory(username="bench-viewer")
    user.groups.add(Group.objects.get(name=VIEWER))
    client = Client()
    client.force_login(user)
    in_process(client, args.repeat)

    html = client.get("/").content.decode()
    versions = dict(re.findall(r'name="(v_[\w-]+)" value="([0-9a-f]+)"', html))
    live = "/?part=live&" + "&".join(f"{k}={v}" for k, v in versions.items())
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    connection.close()  # the test DB must accept gunicorn's connections
    for cache_seconds in sorted({0, args.cache_seconds}):
        proc, url = start_gunicorn(args.workers, args.threads, cache_seconds)
        try:
            print(
                f"gunicorn {args.workers} workers x {args.threads} threads, "
                f"FLEETDECK_DASHBOARD_CACHE_SECONDS={cache_seconds}, {args.clients} clients "
                f"polling every {args.interval:g} s for {args.seconds:g} s:"
            )
            _, base = load(
                url, cookie, "/healthz", "/healthz", args.clients, args.seconds, args.interval
            )
            pages, polls = load(url, cookie, "/", live, args.clients, args.seconds, args.interval)
            for label, values in (
                ("baseline /healthz", base),
                ("dashboard live poll", polls),
                ("dashboard first page load", pages),
            ):
                print(
                    f"  {label:28} n={len(values):4}  p50 {p(values, 0.5):7.1f} ms  "
                    f"p95 {p(values, 0.95):7.1f} ms  ({p(values, 0.95) / p(base, 0.95):5.1f}x "
                    f"baseline p95)"
                )
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)


if __name__ == "__main__":
    main()
