"""Benchmark the AWS mirror sync against a bare boto3 fetch and the AWS CLI.

    .venv/bin/python bench/sync.py [--tasks 2000 --services 200 --instances 100]
                                   [--repeat 3] [--no-cli]

Starts a sandbox (manual clock), seeds one external cluster, then in the same run:
- counts the HTTP requests of a full sync (sandbox's request counter) vs the
  minimum the API allows;
- times our full sync (fresh mirror) vs a bare boto3 script making exactly the
  minimum calls against the same server (no writes);
- times a no-change re-sync (must write 0 rows) vs the bare fetch without the
  one-off DescribeTaskDefinition and deployment history calls;
- times the AWS CLI doing the same listing (one process per call, as a shell
  script would), if `aws` is installed.
Targets: calls <= minimum; full sync <= 1.25x bare boto3; re-sync <= 1.1x bare fetch.
The deployment history adds, on a first sync only, N = S + ceil(D/20) + ceil(R/20)
calls for S services, D deployments and R distinct revisions (one ListServiceDeployments
per never-listed service, the describes 20 ARNs a call); a no-change re-sync makes none.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLUSTER = "bench"
# A first sync's calls that a no-change re-sync does not repeat.
ONE_OFF = (
    "DescribeTaskDefinition",
    "ListServiceDeployments",
    "DescribeServiceDeployments",
    "DescribeServiceRevisions",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sandbox() -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--port", str(port), "--clock", "manual"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    url = f"http://127.0.0.1:{port}"
    from sandbox.client import SandboxClient

    client = SandboxClient(url)
    for _ in range(300):
        try:
            client.health()
            break
        except Exception:
            time.sleep(0.1)
    return proc, url


def setup_django(db_path: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "console.settings_test"
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)


def minimum_calls(
    tasks: int, services: int, instances: int, tds: int, deployments: int = 0, revisions: int = 0
) -> dict[str, int]:
    """A first sync's minimum. The deployment history: one listing per service (never
    listed; one page up to 100 deployments), its deployments and revisions described 20
    a call. A no-change re-sync's minimum drops DescribeTaskDefinition and the history."""
    pages = lambda n: max(1, math.ceil(n / 100))  # noqa: E731
    history = {
        "ListServiceDeployments": services,
        "DescribeServiceDeployments": math.ceil(deployments / 20),
        "DescribeServiceRevisions": math.ceil(revisions / 20),
    }
    return {
        **{op: n for op, n in history.items() if n},
        "ListClusters": 1,
        "DescribeClusters": 1,
        "ListContainerInstances": pages(instances),
        "DescribeContainerInstances": math.ceil(instances / 100),
        "ListServices": pages(services),
        "DescribeServices": math.ceil(services / 10),
        "DescribeTaskDefinition": tds,
        "ListTasks": pages(tasks) + 1,
        "DescribeTasks": math.ceil(tasks / 100),
    }


def bare_fetch(url: str, *, task_definitions: bool) -> float:
    """The minimum calls, made by a plain boto3 script, results kept in memory."""
    from tests.ecs_seed import boto

    ecs = boto("ecs", url)
    started = time.perf_counter()

    def listing(method: str, key: str, **kw: Any) -> list[str]:
        out: list[str] = []
        token = None
        while True:
            page = getattr(ecs, method)(
                maxResults=100, **kw, **({"nextToken": token} if token else {})
            )
            out += page[key]
            token = page.get("nextToken")
            if not token:
                return out

    clusters = listing("list_clusters", "clusterArns")
    ecs.describe_clusters(clusters=clusters)
    cis = listing("list_container_instances", "containerInstanceArns", cluster=CLUSTER)
    for i in range(0, len(cis), 100):
        ecs.describe_container_instances(
            cluster=CLUSTER, containerInstances=cis[i : i + 100], include=["TAGS"]
        )
    svcs = listing("list_services", "serviceArns", cluster=CLUSTER)
    tds: set[str] = set()
    for i in range(0, len(svcs), 10):
        for s in ecs.describe_services(cluster=CLUSTER, services=svcs[i : i + 10])["services"]:
            tds.add(s["taskDefinition"])
    running = listing("list_tasks", "taskArns", cluster=CLUSTER, desiredStatus="RUNNING")
    stopped = listing("list_tasks", "taskArns", cluster=CLUSTER, desiredStatus="STOPPED")
    arns = running + stopped
    for i in range(0, len(arns), 100):
        ecs.describe_tasks(cluster=CLUSTER, tasks=arns[i : i + 100])
    if task_definitions:  # the one-off calls of a first sync
        for td in sorted(tds):
            ecs.describe_task_definition(taskDefinition=td)
        _history_fetch(ecs, svcs)
    return time.perf_counter() - started


def _history_fetch(ecs: Any, services: list[str]) -> None:
    """The deployment history of every service (a first sync's minimum)."""
    deps: list[str] = []
    for svc in services:
        page = ecs.list_service_deployments(cluster=CLUSTER, service=svc, maxResults=100)
        deps += [d["serviceDeploymentArn"] for d in page["serviceDeployments"]]
    revs: set[str] = set()
    for i in range(0, len(deps), 20):
        out = ecs.describe_service_deployments(serviceDeploymentArns=deps[i : i + 20])
        revs |= {d["targetServiceRevision"]["arn"] for d in out["serviceDeployments"]}
    ordered = sorted(revs)
    for i in range(0, len(ordered), 20):
        ecs.describe_service_revisions(serviceRevisionArns=ordered[i : i + 20])


def cli_fetch(url: str, services: int) -> float:
    """The same listing with the AWS CLI, one process per call (how a script does it)."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    base = ["aws", "--endpoint-url", url, "--output", "json", "ecs"]
    import json

    def run(*args: str) -> Any:
        out = subprocess.run([*base, *args], env=env, capture_output=True, text=True, check=True)
        return json.loads(out.stdout or "{}")

    started = time.perf_counter()
    clusters = run("list-clusters")["clusterArns"]
    run("describe-clusters", "--clusters", *clusters)
    cis = run("list-container-instances", "--cluster", CLUSTER)["containerInstanceArns"]
    for i in range(0, len(cis), 100):
        run(
            "describe-container-instances",
            "--cluster",
            CLUSTER,
            "--include",
            "TAGS",
            "--container-instances",
            *cis[i : i + 100],
        )
    svcs = run("list-services", "--cluster", CLUSTER)["serviceArns"]
    for i in range(0, len(svcs), 10):
        run("describe-services", "--cluster", CLUSTER, "--services", *svcs[i : i + 10])
    arns = run("list-tasks", "--cluster", CLUSTER)["taskArns"]
    arns += run("list-tasks", "--cluster", CLUSTER, "--desired-status", "STOPPED")["taskArns"]
    for i in range(0, len(arns), 100):
        run("describe-tasks", "--cluster", CLUSTER, "--tasks", *arns[i : i + 100])
    return time.perf_counter() - started


def mirror_wipe() -> None:
    from clusters.models import Cluster, ContainerInstance, Event, SyncRun
    from deployments.models import Deployment, Service, Task, TaskContainer, TaskDefinition

    for model in (
        TaskContainer,
        Task,
        Deployment,
        Service,
        TaskDefinition,
        ContainerInstance,
        SyncRun,
        Cluster,
        Event,
    ):
        model.objects.all().delete()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-cli", action="store_true")
    args = parser.parse_args()
    per_service = max(1, args.tasks // args.services)

    tmp = tempfile.mkdtemp(prefix="fleetdeck-bench-")
    proc, url = start_sandbox()
    try:
        setup_django(os.path.join(tmp, "bench.sqlite3"))
        from django.conf import settings

        from clusters.aws.session import clients_forget
        from clusters.models import AwsAccount
        from deployments.models import ServiceDeployment, ServiceRevision, TaskDefinition
        from deployments.sync import account_sync
        from sandbox.client import SandboxClient
        from tests.ecs_seed import seed_external_fleet

        class _Sandbox:
            def __init__(self) -> None:
                self.url = url
                self.client = SandboxClient(url)

        sandbox = _Sandbox()
        t0 = time.perf_counter()
        seed_external_fleet(
            sandbox,
            cluster=CLUSTER,
            instances=args.instances,
            services=args.services,
            tasks_per_service=per_service,
            cpu=8192,
            memory=16384,
        )
        n_tasks = per_service * args.services
        print(
            f"seeded {n_tasks} tasks / {args.services} services / {args.instances} instances "
            f"in {time.perf_counter() - t0:.1f}s at {url}"
        )
        clients_forget()
        account = AwsAccount.objects.create(
            name="bench",
            regions=["us-east-1"],
            auth_mode="endpoint",
            endpoint_url=url,
            account_id="123456789012",
        )
        # warm up both clients (connection pools, botocore loaders)
        bare_fetch(url, task_definitions=False)
        account_sync(account_id=account.pk)

        full, bare_full, resync, bare = [], [], [], []
        calls_full: dict[str, int] = {}
        calls_resync: dict[str, int] = {}
        writes_resync = []
        for _ in range(args.repeat):
            mirror_wipe()
            bare_full.append(bare_fetch(url, task_definitions=True))
            sandbox.client.reset_request_counts()
            t = time.perf_counter()
            run = account_sync(account_id=account.pk)
            full.append(time.perf_counter() - t)
            assert run is not None and run.status == "succeeded", run and run.errors
            calls_full = {k.split(":", 1)[1]: v for k, v in sandbox.client.request_counts().items()}
            bare.append(bare_fetch(url, task_definitions=False))
            sandbox.client.reset_request_counts()
            t = time.perf_counter()
            run2 = account_sync(account_id=account.pk)
            resync.append(time.perf_counter() - t)
            assert run2 is not None
            writes_resync.append(run2.created_count + run2.updated_count + run2.gone_count)
            calls_resync = {
                k.split(":", 1)[1]: v for k, v in sandbox.client.request_counts().items()
            }
        tds = TaskDefinition.objects.count()
        minimum = minimum_calls(
            n_tasks,
            args.services,
            args.instances,
            tds,
            ServiceDeployment.objects.count(),
            ServiceRevision.objects.count(),
        )
        min_resync = {**minimum}
        for op in ONE_OFF:
            min_resync.pop(op, None)
        med = statistics.median
        print()
        print(f"{'':<28}{'full sync':>17}{'no-change re-sync':>20}")
        print(f"{'operation':<28}{'ours':>8}{'minimum':>9}{'ours':>11}{'minimum':>9}")
        for op in sorted(set(minimum) | set(calls_full) | set(calls_resync)):
            print(
                f"{op:<28}{calls_full.get(op, 0):>8}{minimum.get(op, 0):>9}"
                f"{calls_resync.get(op, 0):>11}{min_resync.get(op, 0):>9}"
            )
        # Last words (deployments.logs): no log call in the sync itself; after a sync
        # that saw failed containers, a worker makes one GetLogEvents per newly failed
        # container, at most FLEETDECK_LAST_WORDS_PER_SYNC of them.
        cap = f"<={settings.FLEETDECK_LAST_WORDS_PER_SYNC}"
        print(f"{'GetLogEvents (last words)*':<28}{0:>8}{cap:>9}{0:>11}{cap:>9}")
        total, total_min = sum(calls_full.values()), sum(minimum.values())
        print(f"{'total (full sync)':<28}{total:>8}{total_min:>9}   ratio {total / total_min:.2f}")
        rs, rs_min = sum(calls_resync.values()), sum(min_resync.values())
        print(f"{'total (re-sync)':<28}{rs:>8}{rs_min:>9}   ratio {rs / rs_min:.2f}")
        print()
        print(
            "* by a worker after the sync, one per newly failed container, capped per sync "
            f"(FLEETDECK_LAST_WORDS_PER_SYNC={settings.FLEETDECK_LAST_WORDS_PER_SYNC})"
        )
        print(f"median of {args.repeat}:")
        print(
            f"  full sync        {med(full):6.2f}s   bare boto3 {med(bare_full):6.2f}s   "
            f"ratio {med(full) / med(bare_full):.2f}  (target <= 1.25)"
        )
        print(
            f"  no-change resync {med(resync):6.2f}s   bare fetch {med(bare):6.2f}s   "
            f"ratio {med(resync) / med(bare):.2f}  (target <= 1.10); rows written: "
            f"{max(writes_resync)}"
        )
        if args.no_cli:
            print("  AWS CLI: skipped (--no-cli)")
        elif shutil.which("aws") is None:
            print("  AWS CLI: not installed (pip install awscli to compare)")
        else:
            cli = cli_fetch(url, args.services)
            print(
                f"  AWS CLI listing  {cli:6.2f}s   ours (full sync) is {cli / med(full):.1f}x "
                f"faster; bare boto3 is {cli / med(bare_full):.1f}x faster"
            )
        ok = (
            total <= total_min
            and rs <= rs_min
            and med(full) <= 1.25 * med(bare_full)
            and med(resync) <= 1.10 * med(bare)
            and max(writes_resync) == 0
        )
        print("\nRESULT:", "all targets met" if ok else "some targets missed")
        return 0 if ok else 1
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
