"""Benchmark the ECS event stream against 30 s polling, in the same run.

    .venv/bin/python bench/stream.py [--tasks 2000 --changes 50 --window 300] [--doc]

Starts a sandbox (manual clock), seeds one external cluster (2,000 tasks by default),
syncs it once, runs `setup_event_stream` and starts `manage.py follow_events` as a
real process (SQLite database). Then:

- change -> mirror latency: each change stops one task in the sandbox, which publishes
  its Task State Change into EventBridge as ECS does (sandbox/ecs_events.py); the
  latency runs from the stop to the moment the mirror shows
  the task STOPPED (the bench reads the database every 20 ms). Polling's latency for
  the same changes at the same instants is computed, not waited for (that would take
  25 min): a change at time t waits for the next tick of a 30 s schedule started with
  the run, then for a full sync of the cluster, whose duration is measured here (a
  re-sync of the 2,000-task cluster with 5 changes in it, the median of 3); the task is
  written before the sync ends, so this slightly overstates polling.
- AWS calls per hour, 2,000 tasks, 10 changes a minute. Polling: 120 fan-outs an hour,
  each what the workers do (the account's ListClusters + DescribeClusters, then the
  cluster's full sync) with 5 changes in it (calls counted by the sandbox's request
  counter, measured once and multiplied). Stream + reconcile: every call of the
  follower during a measured window (default 300 s with 10 changes a minute, from a
  steady fleet: the latency phase's stops replaced first), extrapolated to an hour,
  plus an hour's reconciles as the fan-out makes them in stream mode: a light one
  every 300 s (measured after the window: it must find nothing the stream missed)
  except the hourly full one (measured as polling's). Each change in the window is
  made as AWS makes it: the task stops, its service starts a replacement (a
  scheduler tick), and the sandbox publishes every state change of both, of their
  instances and the deployment and service actions, as ECS does; the follower
  writes each at once, and batches its describes of the replacements and the
  refreshes of their services and cluster (FLEETDECK_STREAM_BATCH_SECONDS, 60).
  ECS calls are shown apart: they are the budget ECS throttles and the one that grows
  with the fleet; the SQS calls grow with the change rate only. The window is run a
  second time with FLEETDECK_STREAM_DESCRIBE_UNKNOWN=false (no describe of new
  tasks: written from their events' detail only).
Targets: stream p95 <= 2 s; stream + reconcile >= 10x fewer calls than polling.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sync import setup_django, start_sandbox  # noqa: E402

CLUSTER = "bench"
POLL_SECONDS = 30
RECONCILE_SECONDS = 300  # FLEETDECK_RECONCILE_SECONDS's default
FULL_SECONDS = 3600  # FLEETDECK_RECONCILE_FULL_SECONDS's default
BATCH_SECONDS = 60  # FLEETDECK_STREAM_BATCH_SECONDS's default


def _follower(db_path: str, data_dir: str, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    env = {
        **extra,
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "console.settings_test",
        "DATABASE_URL": f"sqlite:///{db_path}",
        "FLEETDECK_DATA_DIR": data_dir,
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "follow_events"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _aws_calls(counts: dict[str, int]) -> int:
    return sum(n for op, n in counts.items() if op.split(":")[0] in ("ecs", "sqs", "events", "sts"))


class Bench:
    def __init__(self, url: str, account_id: int) -> None:
        from sandbox.client import SandboxClient
        from tests.ecs_seed import boto

        self.url = url
        self.client = SandboxClient(url)
        self.ecs = boto("ecs", url)
        self.account_id = account_id
        self.bench_calls = 0  # the bench's own AWS calls in a window (none since the
        # sandbox publishes the events itself; kept so a bench change that adds some
        # still subtracts them)
        self.bench_ecs_calls = 0
        self.window_counts: list[dict[str, int]] = []  # each window's calls, by operation

    def running(self) -> list[str]:
        from deployments.models import Task

        arns = list(Task.objects.filter(last_status="RUNNING").values_list("arn", flat=True))
        random.Random(len(arns)).shuffle(arns)
        return arns

    def change(self, arn: str) -> float:
        """Stop ``arn`` in AWS (the sandbox publishes its Task State Change, as ECS
        does); the latency until the mirror shows it STOPPED."""
        from deployments.models import Task

        started = time.monotonic()
        self.client.stop_task(arn, exit_code=0, reason="bench")
        while not Task.objects.filter(arn=arn, last_status="STOPPED").exists():
            if time.monotonic() - started > 30:
                raise RuntimeError(f"{arn} not STOPPED in the mirror after 30 s")
            time.sleep(0.02)
        return time.monotonic() - started

    def change_replaced(self, arn: str) -> None:
        """A change as AWS makes it: the task stops and its service starts a replacement
        (one scheduler tick); the sandbox publishes every state change of both, as ECS
        does, and the follower describes the replacement (a task it does not know)."""
        self.client.stop_task(arn, exit_code=0, reason="bench")
        self.client.tick(1)

    def sync_once(self, changes: list[str], *, reconcile: bool = False) -> tuple[float, int, Any]:
        """One periodic fan-out's work for the account, as the workers do it (its
        cluster list: ListClusters, DescribeClusters; then ``cluster_sync`` of the
        cluster) with ``changes`` stopped first: (seconds, AWS calls, the cluster's run).
        ``reconcile``: the periodic sync in stream mode (a light one when allowed)."""
        from clusters.mirror.sync import SyncLockBusy
        from clusters.models import Cluster
        from deployments.reconcile import accounts_discover_clusters
        from deployments.sync import cluster_sync

        for arn in changes:
            self.client.stop_task(arn, exit_code=0, reason="bench")
        Cluster.objects.update(last_sync_at=None)  # the fan-out finds the sync due
        self.client.reset_request_counts()
        started = time.monotonic()
        (cluster_id,) = accounts_discover_clusters()
        while True:  # the follower may be writing the cluster (a worker would retry too)
            try:
                run = cluster_sync(cluster_id=cluster_id, reconcile=reconcile)
                break
            except SyncLockBusy:
                time.sleep(0.2)
        seconds = time.monotonic() - started
        assert run is not None and run.status == "succeeded", run and run.errors
        return seconds, _aws_calls(self.client.request_counts()), run


def _latencies(bench: Bench, changes: int) -> tuple[list[float], list[float]]:
    targets = bench.running()[:changes]
    t0 = time.monotonic()
    out, at = [], []
    for arn in targets:
        at.append(time.monotonic() - t0)
        out.append(bench.change(arn))
        time.sleep(0.1)
    return out, at


def _wait_polling(bench: Bench) -> None:
    bench.client.reset_request_counts()
    deadline = time.monotonic() + 30
    while not bench.client.request_counts().get("sqs:ReceiveMessage"):
        assert time.monotonic() < deadline, "follow_events never polled"
        time.sleep(0.1)


def _settle(bench: Bench) -> None:
    """Start from a steady fleet: the services replace the tasks the latency phase
    stopped (one scheduler tick), and the follower makes its follow-ups for them."""
    bench.client.tick(1)
    time.sleep(BATCH_SECONDS + 2)


def _window(bench: Bench, seconds: float, changes_per_minute: int) -> tuple[int, int]:
    """The follower's AWS calls (all, ECS only) during ``seconds`` with changes at
    the given rate, from a steady fleet."""
    _settle(bench)
    targets = bench.running()
    bench.client.reset_request_counts()
    bench.bench_calls = bench.bench_ecs_calls = 0
    every = 60.0 / changes_per_minute
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < seconds:
        if time.monotonic() - started >= n * every:
            bench.change_replaced(targets[n])
            n += 1
        time.sleep(0.05)
    counts = bench.client.request_counts()
    bench.window_counts.append(counts)
    ecs = sum(n for op, n in counts.items() if op.startswith("ecs:"))
    return _aws_calls(counts) - bench.bench_calls, ecs - bench.bench_ecs_calls


def _by_call(counts: dict[str, int]) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(counts.items()))


def _reconciles(bench: Bench) -> dict[str, float]:
    """A light reconcile's calls and what it found to change, once the follower has
    made its batched follow-ups; the reconcile calls of an hour: every
    ``RECONCILE_SECONDS`` a light one, every ``FULL_SECONDS`` a full one instead."""
    time.sleep(BATCH_SECONDS + 2)
    _seconds, light_calls, run = bench.sync_once([], reconcile=True)
    assert run.light, "the reconcile in stream mode was not light"
    per_hour = (3600 / RECONCILE_SECONDS - 3600 / FULL_SECONDS) * light_calls
    return {
        "light_calls": light_calls,
        "light_changed": run.created_count + run.updated_count + run.gone_count,
        "reconcile_h": per_hour,  # the full ones are added with the measured sync_calls
    }


def _seed(url: str, tasks: int) -> int:
    from clusters.aws.session import clients_forget
    from clusters.models import AwsAccount
    from deployments.sync import account_sync
    from sandbox.client import SandboxClient
    from tests.ecs_seed import seed_external_fleet

    class _Sandbox:
        def __init__(self) -> None:
            self.url = url
            self.client = SandboxClient(url)

    services = max(1, tasks // 20)
    seed_external_fleet(
        _Sandbox(),
        cluster=CLUSTER,
        instances=max(1, tasks // 20),
        services=services,
        tasks_per_service=20,
        cpu=8192,
        memory=16384,
    )
    clients_forget()
    account = AwsAccount.objects.create(
        name="bench", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=url
    )
    run = account_sync(account_id=account.pk)
    assert run is not None and run.status == "succeeded", run and run.errors
    return account.pk


def _report(args: argparse.Namespace, m: dict[str, float]) -> str:
    lines = [
        f"fleet: {m['tasks']:.0f} tasks; {args.changes} changes; follow_events a real process",
        "change -> mirror latency (s)      p50     p95     max",
        f"  event stream                  {m['s50']:6.2f}  {m['s95']:6.2f}  {m['smax']:6.2f}",
        f"  30 s polling (computed)       {m['p50']:6.2f}  {m['p95']:6.2f}  {m['pmax']:6.2f}",
        f"  ratio polling / stream (p95)  {m['p95'] / m['s95']:6.1f}x",
        f"  full sync of the cluster (median of 3, 5 changes): {m['sync_s']:.2f} s",
        "AWS calls per hour, 10 changes a minute",
        f"  polling: 120 x {m['sync_calls']:.0f} calls a fan-out = {m['poll_h']:.0f}",
        f"  stream follower: {m['window_calls']:.0f} calls ({m['window_ecs']:.0f} ECS) in"
        f" {args.window:.0f} s -> {m['follow_h']:.0f}/h",
        f"  + reconciles: {3600 / RECONCILE_SECONDS - 3600 / FULL_SECONDS:.0f} light x"
        f" {m['light_calls']:.0f} + {3600 / FULL_SECONDS:.0f} full x {m['sync_calls']:.0f}"
        f" = {m['reconcile_h']:.0f}/h (the light one changed {m['light_changed']:.0f} rows)",
        f"  stream + reconcile, all calls: {m['stream_h']:.0f}/h"
        f" -> {m['poll_h'] / m['stream_h']:.1f}x fewer",
        f"  stream + reconcile, ECS calls: {m['stream_ecs_h']:.0f}/h"
        f" -> {m['poll_h'] / m['stream_ecs_h']:.1f}x fewer (polling's calls are all ECS)",
        "  the same, new tasks written from their events"
        " (FLEETDECK_STREAM_DESCRIBE_UNKNOWN=false):",
        f"    follower {m['nd_calls']:.0f} calls ({m['nd_ecs']:.0f} ECS) in {args.window:.0f} s;"
        f" all {m['nd_h']:.0f}/h -> {m['poll_h'] / m['nd_h']:.1f}x fewer;"
        f" ECS {m['nd_ecs_h']:.0f}/h -> {m['poll_h'] / m['nd_ecs_h']:.1f}x fewer",
        f"targets: p95 <= 2 s: {'met' if m['s95'] <= 2 else 'MISSED'};"
        f" >= 10x fewer calls: all {'met' if m['poll_h'] / m['stream_h'] >= 10 else 'MISSED'},"
        f" ECS {'met' if m['poll_h'] / m['stream_ecs_h'] >= 10 else 'MISSED'}",
        f"follow_events SIGTERM -> exit: {m['stop_s']:.1f} s",
    ]
    return "\n".join(lines)


def _doc_write(text: str, elapsed: float) -> None:
    """Replace (or add) this benchmark's section of docs/performance.md, in the shape
    bench/run_all.py writes."""
    doc = ROOT / "docs" / "performance.md"
    about = (__doc__ or "").strip()
    section = (
        f"## stream\n\n{about}\n\nCommand: `make bench` (or `.venv/bin/python scripts/services.py"
        f" -- .venv/bin/python bench/stream.py`), {elapsed:.0f} s, ok.\n\n```\n{text}\n```\n"
    )
    body = doc.read_text()
    pattern = re.compile(r"## stream\n.*?(?=\n## |\Z)", re.S)
    body = (
        pattern.sub(lambda _: section.rstrip("\n"), body)
        if pattern.search(body)
        else body.rstrip("\n") + "\n\n" + section
    )
    doc.write_text(body if body.endswith("\n") else body + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--window", type=float, default=300.0)
    parser.add_argument("--rate", type=int, default=10, help="changes a minute in the window")
    parser.add_argument("--doc", action="store_true", help="write the figures into the doc")
    args = parser.parse_args()
    began = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="fleetdeck-bench-stream-")
    db = os.path.join(tmp, "bench.sqlite3")
    proc, url = start_sandbox()
    follower = None
    try:
        setup_django(db)
        from io import StringIO

        from django.core.management import call_command

        from deployments.models import Task

        account_id = _seed(url, args.tasks)
        call_command("setup_event_stream", account="bench", stdout=StringIO())
        bench = Bench(url, account_id)
        m: dict[str, float] = {"tasks": Task.objects.count()}
        follower = _follower(db, tmp, Path(tmp) / "follow.log")
        _wait_polling(bench)
        stream, at = _latencies(bench, args.changes)
        m |= {"s50": statistics.median(stream), "s95": _pct(stream, 0.95), "smax": max(stream)}
        syncs = [bench.sync_once(bench.running()[:5]) for _ in range(3)]
        m["sync_s"] = statistics.median(s for s, _, _ in syncs)
        m["sync_calls"] = statistics.median(c for _, c, _ in syncs)
        polled = [POLL_SECONDS - (t % POLL_SECONDS) + m["sync_s"] for t in at]
        m |= {"p50": statistics.median(polled), "p95": _pct(polled, 0.95), "pmax": max(polled)}
        m["window_calls"], m["window_ecs"] = _window(bench, args.window, args.rate)
        m["follow_h"] = m["window_calls"] * 3600 / args.window
        m["poll_h"] = 3600 / POLL_SECONDS * m["sync_calls"]
        m |= _reconciles(bench)
        m["reconcile_h"] += 3600 / FULL_SECONDS * m["sync_calls"]
        reconciles = m["reconcile_h"]
        m["stream_h"] = m["follow_h"] + reconciles
        m["stream_ecs_h"] = m["window_ecs"] * 3600 / args.window + reconciles
        stopping = time.monotonic()
        os.killpg(follower.pid, signal.SIGTERM)
        follower.wait(40)
        m["stop_s"] = time.monotonic() - stopping
        # The same window with new tasks written from their events (no describe).
        follower = _follower(
            db, tmp, Path(tmp) / "follow.log", FLEETDECK_STREAM_DESCRIBE_UNKNOWN="false"
        )
        _wait_polling(bench)
        m["nd_calls"], m["nd_ecs"] = _window(bench, args.window, args.rate)
        m["nd_h"] = m["nd_calls"] * 3600 / args.window + reconciles
        m["nd_ecs_h"] = m["nd_ecs"] * 3600 / args.window + reconciles
        text = _report(args, m) + "".join(
            f"\nfollower's calls, window {i + 1}: {_by_call(c)}"
            for i, c in enumerate(bench.window_counts)
        )
        print(text)
        if args.doc:
            _doc_write(text, time.monotonic() - began)
        return 0
    finally:
        if follower is not None and follower.poll() is None:
            os.killpg(follower.pid, signal.SIGKILL)
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    raise SystemExit(main())
