"""Load: on-call users polling the dashboard and the timeline while syncs run.

Against gunicorn + PostgreSQL (FLEETDECK_TEST_POSTGRES_URL from scripts/services.py,
or DATABASE_URL) and the AWS sandbox holding a 5,000-task fleet (50 services x 100
tasks on 200 external instances):

- a sync of the whole account every 30 s (in this process, as the worker would run
  it), with the fleet changing between syncs (tasks stopped and replaced);
- N users (default 50), each loading the dashboard and the timeline once, then
  every 5 s polling both as the browser does (the dashboard's live fragment and
  the timeline's ``?after=`` poll);
- the same users and pattern against /healthz first: the baseline of this run.

Prints p50/p95/p99 latency and the error count of each, and the p95 against the
baseline. A bounded thread pool with urllib, loopback only.

    make bench                                   (60 s, as part of every benchmark)
    .venv/bin/python scripts/services.py -- .venv/bin/python bench/load.py --minutes 5
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
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stats:
    ms: list[float] = field(default_factory=list)
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def line(self, label: str, base: Stats | None = None) -> str:
        ratio = ""
        if base is not None and base.ms:
            ratio = f"  p95 {pct(self.ms, 0.95) / pct(base.ms, 0.95):5.1f}x baseline"
        return (
            f"  {label:30} n={len(self.ms):5}  p50 {pct(self.ms, 0.5):7.1f}  "
            f"p95 {pct(self.ms, 0.95):7.1f}  p99 {pct(self.ms, 0.99):7.1f} ms  "
            f"errors {self.errors}{ratio}"
        )


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


def gunicorn_start(workers: int, threads: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "console.settings_test",
        "DATABASE_URL": f"postgres://{db.get('USER') or ''}{password}@{db['HOST']}:"
        f"{db.get('PORT') or 5432}/{db['NAME']}",
        "FLEETDECK_DATA_DIR": str(settings.DATA_DIR),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "console.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
         "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2)
            return proc, url
        except Exception:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("gunicorn did not start")


class _Seedable:
    """tests.ecs_seed.seed_external_fleet wants an object with .url and .client."""

    def __init__(self, client: Any) -> None:
        self.client, self.url = client, client.base_url


class Syncer(threading.Thread):
    """A sync of the account every ``period`` s; the fleet changes in between."""

    def __init__(self, account_id: int, sandbox: Any, period: float) -> None:
        super().__init__(daemon=True)
        self.account_id, self.sandbox, self.period = account_id, sandbox, period
        self.stop = threading.Event()
        self.durations: list[float] = []
        self.failed = 0

    def run(self) -> None:
        from deployments.models import Task
        from deployments.sync import account_sync

        try:
            while not self.stop.wait(self.period):
                victims = list(
                    Task.objects.filter(last_status="RUNNING", gone_at__isnull=True)
                    .order_by("?")
                    .values_list("arn", flat=True)[:10]
                )
                for arn in victims:
                    self.sandbox.stop_task(arn, exit_code=1, reason="load bench churn")
                self.sandbox.tick(2)
                start = time.perf_counter()
                run = account_sync(account_id=self.account_id)
                self.durations.append(time.perf_counter() - start)
                if run is None or run.status != "succeeded":
                    self.failed += 1
        finally:
            connection.close()


def users(
    url: str, cookie: str, n: int, seconds: float, interval: float, paths: list[str]
) -> dict[str, Stats]:
    """``n`` users: each GETs every path once, then polls them every ``interval`` s.
    ``paths`` may use {dash_live} and {timeline_after}, filled from the first loads."""
    stats: dict[str, Stats] = {}
    for p in paths:
        stats[p] = Stats()
        stats["first " + p] = Stats()
    stop_at = time.monotonic() + seconds

    def fetch(path: str, key: str) -> str:
        request = urllib.request.Request(url + path, headers={"Cookie": cookie})
        start = time.perf_counter()
        body = ""
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = response.read().decode(errors="replace")
                ok = response.status in (200, 204, 286)
        except urllib.error.HTTPError as exc:
            ok = exc.code in (204, 286)
        except Exception:
            ok = False
        elapsed = (time.perf_counter() - start) * 1000
        s = stats[key]
        with s.lock:
            s.ms.append(elapsed)
            s.errors += 0 if ok else 1
        return body

    def user(index: int) -> None:
        time.sleep(interval * index / n)  # browsers do not open in lockstep
        polls: dict[str, str] = {}
        for p in paths:
            body = fetch(p, "first " + p)
            if p == "/":
                versions = dict(re.findall(r'name="(v_[\w-]+)" value="([0-9a-f]+)"', body))
                polls[p] = "/?part=live&" + "&".join(f"{k}={v}" for k, v in versions.items())
            elif p == "/timeline/":
                newest = re.search(r"after=(\d+)", body)
                polls[p] = f"/timeline/?after={newest.group(1) if newest else 0}"
            else:
                polls[p] = p
        while time.monotonic() < stop_at:
            next_at = time.monotonic() + interval
            for p in paths:
                fetch(polls[p], p)
            time.sleep(max(0.0, next_at - time.monotonic()))

    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(user, range(n)))
    return stats


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--sync-every", type=float, default=30.0)
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--tasks-per-service", type=int, default=100)
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--baseline-seconds", type=float, default=20.0)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("bench/load.py needs PostgreSQL: run it under scripts/services.py")

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, keepdb=False)
    sandbox_proc, sandbox = sandbox_start()
    try:
        return run(args, sandbox)
    finally:
        os.killpg(sandbox_proc.pid, signal.SIGTERM)
        sandbox_proc.wait(20)
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args: Any, sandbox: Any) -> int:
    from clusters.aws.session import clients_forget
    from clusters.models import AwsAccount
    from clusters.roles import VIEWER, role_groups_ensure
    from deployments.models import Task
    from deployments.sync import account_sync
    from tests.ecs_seed import seed_external_fleet
    from tests.factories import UserFactory

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
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
    print(
        f"postgresql: sandbox fleet of {tasks:,} running tasks / {args.services} services / "
        f"{args.instances} instances seeded in {seeded:.0f} s; first sync {first_sync:.1f} s"
    )
    role_groups_ensure()
    user: Any = UserFactory(username="load-viewer")
    user.groups.add(Group.objects.get(name=VIEWER))
    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    syncer = Syncer(account.pk, sandbox, args.sync_every)
    proc, url = gunicorn_start(args.workers, args.threads)
    seconds = args.minutes * 60
    try:
        syncer.start()
        print(
            f"gunicorn {args.workers} workers x {args.threads} threads; {args.users} users "
            f"polling every {args.interval:g} s; account sync every {args.sync_every:g} s"
        )
        base = users(url, cookie, args.users, args.baseline_seconds, args.interval, ["/healthz"])
        print(f"baseline ({args.baseline_seconds:g} s):")
        print(base["/healthz"].line("/healthz poll"))
        load = users(url, cookie, args.users, seconds, args.interval, ["/", "/timeline/"])
    finally:
        syncer.stop.set()
        syncer.join(timeout=120)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    b = base["/healthz"]
    print(f"load ({seconds:g} s):")
    print(load["/"].line("dashboard live poll", b))
    print(load["/timeline/"].line("timeline live poll", b))
    print(load["first /"].line("dashboard first load", b))
    print(load["first /timeline/"].line("timeline first load", b))
    both = Stats(ms=load["/"].ms + load["/timeline/"].ms,
                 errors=load["/"].errors + load["/timeline/"].errors)  # fmt: skip
    print(both.line("all polls", b))
    durations = syncer.durations
    print(
        f"syncs during the run: {len(durations)} (failed {syncer.failed}), "
        f"p50 {pct(durations, 0.5):.1f} s, max {max(durations, default=float('nan')):.1f} s"
    )
    target = pct(both.ms, 0.95) <= 300 and both.errors == 0
    print(f"target p95 <= 300 ms and 0 errors: {'met' if target else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
