"""The shared API budget: throttled calls with 4 workers syncing 20 clusters of one
account, under the budget vs without it (the baseline), in the same run.

    .venv/bin/python bench/api_budget.py [--clusters 20 --workers 4 --scale 0.25]

Starts a sandbox (manual clock) and seeds 20 small external clusters (2 instances,
2 services x 2 tasks each); a first, unthrottled account sync mirrors them. Then the
sandbox throttles like ECS ("Request throttling for the Amazon ECS API": one token
bucket per Region and action category, at ``--scale`` of the documented sizes so a
round takes seconds, not minutes) and 4 worker threads, each sync with its own
fresh client (as 4 worker processes would), sync the 20 clusters (``cluster_sync``)
twice: once without the budget (each client alone with botocore's adaptive retries),
once under it (``FLEETDECK_API_BUDGET_PERCENT`` = 80 % of the scaled rates, in the
shared cache: Redis under ``make bench``). Reported: the requests ECS throttled,
failed syncs, wall time and the waits the runs recorded (``SyncRun.budget_wait_ms``).
Target: no throttled request under the budget.
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from sync import setup_django, start_sandbox  # noqa: E402


def seed(sandbox: object, clusters: int) -> None:
    from tests.ecs_seed import seed_external_fleet

    for i in range(clusters):
        seed_external_fleet(
            sandbox, cluster=f"c{i:02d}", instances=2, services=2, tasks_per_service=2
        )


def sync_round(cluster_ids: list[int], workers: int) -> tuple[float, int, int]:
    """(seconds, failed syncs, budget wait ms) of syncing every cluster once."""
    from django.db import connection

    from deployments.sync import cluster_sync

    todo: queue.Queue[int] = queue.Queue()
    for pk in cluster_ids:
        todo.put(pk)
    failed = [0]
    waited = [0]
    lock = threading.Lock()

    def worker() -> None:
        try:
            while True:
                try:
                    pk = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    run = cluster_sync(cluster_id=pk)
                    ok = run is not None and run.status == "succeeded"
                    wait = run.budget_wait_ms if run is not None else 0
                except Exception:  # a sync that gave up after its retries
                    ok, wait = False, 0
                with lock:
                    failed[0] += 0 if ok else 1
                    waited[0] += wait
        finally:
            connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, failed[0], waited[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--scale", type=float, default=0.25)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="fleetdeck-bench-budget-")
    os.environ.setdefault("FLEETDECK_DATA_DIR", tmp)
    proc, url = start_sandbox()
    try:
        setup_django(os.path.join(tmp, "bench.sqlite3"))
        from django.conf import settings

        from clusters.aws.session import clients_forget
        from clusters.models import AwsAccount, Cluster
        from deployments.sync import account_sync
        from sandbox.client import SandboxClient

        class _Sandbox:
            url = ""
            client: SandboxClient

        sandbox = _Sandbox()
        sandbox.url, sandbox.client = url, SandboxClient(url)
        seed(sandbox, args.clusters)
        clients_forget()
        account = AwsAccount.objects.create(
            name="bench", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=url
        )
        first = account_sync(account_id=account.pk)
        assert first is not None and first.status == "succeeded", first and first.errors
        ids = list(Cluster.objects.filter(account=account).values_list("pk", flat=True))
        print(
            f"{len(ids)} clusters, {args.workers} workers, sandbox throttling at "
            f"{args.scale:g} x ECS's documented rates; cache: "
            f"{settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}"
        )
        rows = []
        for label, on in (("no budget (baseline)", False), ("shared budget", True)):
            settings.FLEETDECK_API_BUDGET = on
            settings.FLEETDECK_API_BUDGET_PERCENT = max(1, round(80 * args.scale))
            sandbox.client.throttle(enabled=True, scale=args.scale)  # full buckets
            seconds, failed, waited = sync_round(ids, args.workers)
            state = sandbox.client.throttle_state()
            total = state["throttled"] + state["admitted"]
            rows.append((label, state["throttled"], total, failed, seconds, waited))
            time.sleep(1)
        print(
            f"{'':22} {'throttled':>9} {'requests':>8} {'failed syncs':>12} "
            f"{'wall s':>7} {'budget wait s':>13}"
        )
        for label, throttled, total, failed, seconds, waited in rows:
            print(
                f"{label:22} {throttled:9d} {total:8d} {failed:12d} {seconds:7.1f} "
                f"{waited / 1000:13.1f}"
            )
        base, budget = rows[0], rows[1]
        share = budget[1] / base[1] if base[1] else 0.0
        print(
            f"throttled requests under the budget: {budget[1]} vs {base[1]} without "
            f"({share:.2f}x); wall time {budget[4] / base[4]:.2f}x the baseline's"
        )
        return 0 if budget[1] == 0 else 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
