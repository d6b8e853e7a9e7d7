"""Load: on-call users polling the dashboard and the timeline while syncs run.

Every component runs as its own process, as ``make run``'s Procfile starts them,
with production settings (``console.settings``, ``DJANGO_DEBUG=false``, plain
HTTP as ``make run``: so the dashboard's 2 s per-process cache and production's
password hasher are on), against PostgreSQL and Redis from scripts/services.py:

- gunicorn with the Procfile's flags (2 workers x 4 threads, --graceful-timeout 5,
  access log; ``--workers``/``--threads`` to change);
- a Celery worker with the Procfile's flags (prefork, concurrency 2), to which
  this script sends ``deployments.tasks.sync_all_accounts`` every 30 s as beat
  does (the account's cluster list, then one ``sync_cluster`` per cluster); just
  before each, 10 running tasks are stopped in the sandbox, whose scheduler
  replaces them, so every sync has changes to write;
- the AWS sandbox holding a 5,000-task fleet (50 services x 100 tasks on 200
  external instances);
- locust, headless (bench/locustfile.py): N users (default 50, spawned 10/s) log
  in through the login form; once all have, they send their pattern to /healthz
  for 20 s (the baseline of this run: same users, cadence and request count),
  then open the dashboard and the timeline and every 5 s send the browser's polls
  (the dashboard's live fragment with the versions it holds, the timeline's
  ``?after=`` poll; the trends fragment every 60 s).

What differs from production: the sandbox stands in for AWS on the same cores
(its CPU time is printed; AWS's is not on the console's machine); beat's other
schedules (Docker hosts, registrations, drift, samples, alerts) do not run;
PostgreSQL is scripts/services.py's throwaway server (fsync off); the broker and
cache are Redis as in compose.yaml (``make run`` without REDIS_URL uses its
embedded broker and the database cache).

Prints locust's p50/p95/p99 and failures per request name, each p95 against the
baseline's; the polls by answer (204 or content) and by whether a sync was
running when they started; the syncs' durations (their SyncRun rows); the CPU
time of each process. Loopback only; bounded in time.

    make bench                                   (the issue's 5 minutes, with every benchmark)
    .venv/bin/python scripts/services.py -- .venv/bin/python bench/load.py --minutes 1  (quick)
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings_test")
if not os.environ.get("DATABASE_URL") and os.environ.get("FLEETDECK_TEST_POSTGRES_URL"):
    os.environ["DATABASE_URL"] = os.environ["FLEETDECK_TEST_POSTGRES_URL"]

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from bench import _load_names as names  # noqa: E402
from bench._load_report import report  # noqa: E402

LOGIN_TIMEOUT = 180.0
# Variables of this (test-settings) process that must not reach the production-
# settings processes it starts.
TEST_ONLY_ENV = ("FLEETDECK_TESTING", "FLEETDECK_SQLITE_TEST_NAME", "DJANGO_ALLOW_ASYNC_UNSAFE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sandbox_start() -> tuple[subprocess.Popen[str], Any]:
    from sandbox.client import SandboxClient

    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        env.pop(key, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--port", str(port), "--clock", "manual",
         "--seed", "none"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, text=True, start_new_session=True,
    )  # fmt: skip
    client = SandboxClient(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            client.health()
            break
        except Exception:
            time.sleep(0.2)
    else:
        proc.kill()
        raise SystemExit("sandbox did not start")
    return proc, client


def production_env(data_dir: Path) -> dict[str, str]:
    """The environment ``make run`` gives its processes (scripts/run.sh), pointed at
    this run's database and Redis."""
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    env = {k: v for k, v in os.environ.items() if k not in TEST_ONLY_ENV}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "DJANGO_DEBUG": "false",
            "FLEETDECK_HTTPS": "false",
            "PYTHONUNBUFFERED": "1",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "FLEETDECK_ENCRYPTION_KEYS": settings.FLEETDECK_ENCRYPTION_KEYS[0],
            "FLEETDECK_DATA_DIR": str(data_dir),
            # This script sends the fan-out on its own cadence (as beat); a sync at the
            # worker's start would land in the baseline.
            "FLEETDECK_SYNC_ON_START": "false",
            "DATABASE_URL": f"postgres://{db.get('USER') or ''}{password}@{db['HOST']}:"
            f"{db.get('PORT') or 5432}/{db['NAME']}",
        }
    )
    return env


@contextmanager
def process(
    argv: list[str], env: dict[str, str], log: Path, *, stop_timeout: float = 30
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process in its own group, stopped (TERM, then KILL) when the block ends."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield proc
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(stop_timeout)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def wait_http(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"{what} did not answer {url}")


def cpu_ticks(groups: dict[str, int], postmaster: int) -> dict[str, int]:
    """CPU time (clock ticks, user + system, with the children each process has
    reaped) of the processes of each process group, and of the PostgreSQL server
    (the postmaster and its children: backends come and go with CONN_MAX_AGE)."""
    totals = dict.fromkeys([*groups, "postgresql"], 0)
    label_of = {pgid: label for label, pgid in groups.items()}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        pid, ppid, pgrp = int(stat.parent.name), int(fields[1]), int(fields[2])
        ticks = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        if pgrp in label_of:
            totals[label_of[pgrp]] += ticks
        elif pid == postmaster or ppid == postmaster:
            totals["postgresql"] += ticks
    return totals


def postmaster_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = int(cursor.fetchone()[0])
    try:
        return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return -1  # PostgreSQL on another machine: not counted


class _Seedable:
    """tests.ecs_seed.seed_external_fleet wants an object with .url and .client."""

    def __init__(self, client: Any) -> None:
        self.client, self.url = client, client.base_url


class SyncSender(threading.Thread):
    """Sends the periodic sync as beat does, every ``period`` s from ``first_at``
    (epoch) until ``until``; the fleet changes just before each."""

    def __init__(self, sandbox: Any, first_at: float, period: float, until: float) -> None:
        super().__init__(daemon=True)
        self.sandbox, self.first_at, self.period, self.until = sandbox, first_at, period, until
        self.stop = threading.Event()
        self.sent: list[float] = []
        self.churn_errors = 0

    def run(self) -> None:
        from console.celery import app
        from deployments.models import Task

        at = self.first_at
        try:
            while at < self.until and not self.stop.wait(max(0.0, at - time.time())):
                victims = list(
                    Task.objects.filter(last_status="RUNNING", gone_at__isnull=True)
                    .order_by("?")
                    .values_list("arn", flat=True)[:10]
                )
                try:
                    for arn in victims:
                        self.sandbox.stop_task(arn, exit_code=1, reason="load bench churn")
                    self.sandbox.tick(2)
                except Exception:
                    self.churn_errors += 1
                app.send_task("deployments.tasks.sync_all_accounts")
                self.sent.append(time.time())
                at += self.period
        finally:
            connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--sync-every", type=float, default=30.0)
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--tasks-per-service", type=int, default=100)
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn (Procfile: 2)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn (Procfile: 4)")
    parser.add_argument("--baseline-seconds", type=float, default=20.0)
    parser.add_argument("--keep-logs", help="copy the processes' logs to this folder")
    args = parser.parse_args()
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        raise SystemExit("bench/load.py needs PostgreSQL and Redis: run it under services.py")

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, keepdb=False)
    sandbox_proc, sandbox = sandbox_start()
    try:
        return run(args, sandbox, sandbox_proc.pid)
    finally:
        os.killpg(sandbox_proc.pid, signal.SIGTERM)
        sandbox_proc.wait(20)
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def fleet_prepare(args: Any, sandbox: Any) -> int:
    """Seed the sandbox, mirror it once, and create the viewers; the account id."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from clusters.aws.session import clients_forget
    from clusters.core.roles import VIEWER, role_groups_ensure
    from clusters.models import AwsAccount
    from deployments.models import Task
    from deployments.sync import account_sync
    from tests.ecs_seed import seed_external_fleet
    from tests.factories import UserFactory

    start = time.perf_counter()
    seed_external_fleet(
        _Seedable(sandbox),
        cluster="load",
        instances=args.instances,
        services=args.services,
        tasks_per_service=args.tasks_per_service,
    )
    seeded = time.perf_counter() - start
    clients_forget()
    account = AwsAccount.objects.create(
        name="load", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.base_url
    )
    start = time.perf_counter()
    first = account_sync(account_id=account.pk)
    first_sync = time.perf_counter() - start
    assert first is not None and first.status == "succeeded", first.errors if first else None
    tasks = Task.objects.filter(last_status="RUNNING").count()
    with connection.cursor() as cursor:
        # Planner statistics, which a production database has (autovacuum) and a
        # freshly bulk-loaded one does not yet.
        cursor.execute("ANALYZE")
    print(
        f"postgresql: sandbox fleet of {tasks:,} running tasks / {args.services} services / "
        f"{args.instances} instances seeded in {seeded:.0f} s; first sync {first_sync:.1f} s"
    )
    role_groups_ensure()
    viewers = Group.objects.get(name=VIEWER)
    # Production's hasher (the web processes run production settings); hashed once.
    encoded = PBKDF2PasswordHasher().encode(os.environ["FLEETDECK_LOAD_PASSWORD"], "loadbench")
    for n in range(args.users):
        user: Any = UserFactory(username=names.USERNAME.format(n=n))
        user.password = encoded
        user.save(update_fields=["password"])
        user.groups.add(viewers)
    return int(account.pk)


def run(args: Any, sandbox: Any, sandbox_pgid: int) -> int:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ["FLEETDECK_LOAD_PASSWORD"] = secrets.token_urlsafe(16)
    fleet_prepare(args, sandbox)
    postmaster = postmaster_pid()
    connection.close()

    work = Path(tempfile.mkdtemp(prefix="fleetdeck-load-"))
    env = production_env(work)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    seconds = args.minutes * 60
    gunicorn = [
        sys.executable, "-m", "gunicorn", "console.wsgi:application", "--bind",
        f"127.0.0.1:{port}", "--workers", str(args.workers), "--threads", str(args.threads),
        "--graceful-timeout", "5", "--access-logfile", "-",
    ]  # fmt: skip
    worker = [
        sys.executable, "-m", "celery", "-A", "console", "worker", "--loglevel", "INFO",
        "--concurrency", "2", "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    with (
        process(gunicorn, env, work / "gunicorn.log") as web,
        process(worker, env, work / "worker.log", stop_timeout=60) as celery,
    ):
        wait_http(f"{url}/healthz", web, "gunicorn")
        samples, go = work / "samples.csv", work / "go"
        locust_env = {
            **os.environ,
            "FLEETDECK_LOAD_GO": str(go),
            "FLEETDECK_LOAD_INTERVAL": f"{args.interval:g}",
            "FLEETDECK_LOAD_USERS": str(args.users),
            "FLEETDECK_LOAD_SAMPLES": str(samples),
        }
        locust = [
            sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"),
            "--headless", "--host", url, "-u", str(args.users), "-r", f"{args.spawn_rate:g}",
            # An upper bound: this script stops locust (SIGTERM: it writes its stats).
            "-t", f"{int(LOGIN_TIMEOUT + args.baseline_seconds + seconds + 60)}s",
            "--stop-timeout", "10", "--only-summary", "--loglevel", "WARNING",
            "--json-file", str(work / "locust"), "--csv", str(work / "locust"),
        ]  # fmt: skip
        print(
            f"gunicorn {args.workers} workers x {args.threads} threads, celery worker "
            f"(prefork, 2), production settings; locust {args.users} users "
            f"(spawn {args.spawn_rate:g}/s) polling every {args.interval:g} s; "
            f"account sync sent every {args.sync_every:g} s"
        )
        with process(locust, locust_env, work / "locust.log") as loc:
            logins_wait(samples, args.users, loc)
            # Logins (production's PBKDF2) are done: baseline, then load, from now on.
            baseline_at = time.time() + 1
            load_at = baseline_at + args.baseline_seconds
            end = load_at + seconds
            go.with_suffix(".tmp").write_text(f"{baseline_at} {load_at} {end}")
            go.with_suffix(".tmp").rename(go)
            # The first sync lands after the first page loads, then one every period.
            sender = SyncSender(sandbox, load_at + min(10.0, args.sync_every), args.sync_every, end)
            sender.start()
            groups = {"gunicorn": web.pid, "celery worker": celery.pid,
                      "sandbox (the AWS stand-in)": sandbox_pgid, "locust": loc.pid}  # fmt: skip
            time.sleep(max(0.0, load_at - time.time()))
            cpu_before = cpu_ticks(groups, postmaster)
            time.sleep(max(0.0, end - time.time()))
            cpu_after = cpu_ticks(groups, postmaster)
            time.sleep(1)  # the last requests
            loc.send_signal(signal.SIGTERM)
            code = loc.wait(60)
        sender.stop.set()
        sender.join(30)
        syncs_wait(after=load_at)
    cpu = {k: (cpu_after[k] - cpu_before[k]) / os.sysconf("SC_CLK_TCK") for k in cpu_after}
    report(args, work, load_at, end, sender, code, cpu)
    if args.keep_logs:
        shutil.copytree(work, args.keep_logs, dirs_exist_ok=True)
    shutil.rmtree(work, ignore_errors=True)
    return 0


def logins_wait(samples: Path, users: int, loc: subprocess.Popen[bytes]) -> None:
    """Until every user has sent its login (locust appends each request to ``samples``)."""
    deadline = time.monotonic() + LOGIN_TIMEOUT
    while time.monotonic() < deadline:
        if loc.poll() is not None:
            raise SystemExit(f"locust exited with {loc.returncode} (see its log)")
        if samples.exists():
            lines = samples.read_text().splitlines()
            if sum(1 for line in lines if f",{names.LOGIN}," in line) >= users:
                return
        time.sleep(0.5)
    raise SystemExit(f"the {users} users did not log in within {LOGIN_TIMEOUT} s")


def syncs_wait(*, after: float) -> None:
    """Let the last sync finish (its duration is part of the figures)."""
    from clusters.models import SyncRun

    since = datetime.fromtimestamp(after, UTC)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not SyncRun.objects.filter(started_at__gte=since, status="running").exists():
            break
        time.sleep(1)
    connection.close()


if __name__ == "__main__":
    sys.exit(main())
