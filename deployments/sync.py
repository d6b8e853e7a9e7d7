"""Syncing one cluster (and whole accounts) from AWS into the mirror.

``cluster_sync`` is the orchestrator: cluster counts, container instances (via
``clusters.mirror.sync``), services with their deployments and events, task definitions,
tasks with their containers (the writers are in ``deployments.workload_sync``).
Calls are the minimum the API allows (see ``clusters.aws.ecs``); a task mirrored as
STOPPED is final and never described again; only changed rows are written.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field

from django.conf import settings

from clusters.aws.ecs import ClusterInfo, EcsReader
from clusters.aws.errors import AwsError, AwsTransientError
from clusters.aws.session import account_discover_id
from clusters.core.jobs import job_enqueue
from clusters.mirror.sync import (
    SyncLockBusy,
    SyncStats,
    account_clusters_sync,
    account_mark_synced,
    account_reader,
    cluster_instances_sync,
    cluster_lock,
    cluster_mark_synced,
    cluster_refresh,
    instances_fetch,
    sync_run_finish,
    sync_run_progress,
    sync_run_start,
    sync_runs_abandoned_close,
)
from clusters.models import AwsAccount, Cluster, SyncRun
from deployments.deployment_history import cluster_history_sync
from deployments.health import health_refresh
from deployments.models import Service
from deployments.reconcile import reconcile_is_light
from deployments.selectors import failed_containers_without_last_words
from deployments.task_sync import cluster_tasks_sync, service_tasks_sync
from deployments.workload_sync import (
    STOPPED,
    cluster_services_sync,
    services_fetch,
    services_mirrored,
    services_refreshed,
)

log = logging.getLogger(__name__)
LAST_WORDS_TASK = "deployments.logs.tasks.queue_last_words"


# --- orchestration ---------------------------------------------------------
def cluster_sync(
    *,
    cluster_id: int,
    run_id: int | None = None,
    reader: EcsReader | None = None,
    described: ClusterInfo | None = None,
    final: bool = True,
    reconcile: bool = False,
) -> SyncRun | None:
    """Sync one cluster, then re-evaluate its health (whatever the sync's outcome:
    a failed sync is a reason too). Returns its finished ``SyncRun``. ``reconcile``:
    the periodic sync, which may be a light one (``deployments.reconcile``)."""
    try:
        return _cluster_sync(
            cluster_id=cluster_id,
            run_id=run_id,
            reader=reader,
            described=described,
            final=final,
            reconcile=reconcile,
        )
    finally:
        health_refresh_quietly([cluster_id])
        last_words_queue_quietly(cluster_id)


def health_refresh_quietly(cluster_ids: list[int]) -> None:
    """A bug in the health rules must not fail the sync (nor hide its own error), nor
    the event stream's apply: logged, and the 30 s fleet refresh tries again."""
    try:
        health_refresh(cluster_ids=cluster_ids)
    except Exception:
        log.exception("health refresh after the sync of clusters %s failed", cluster_ids)


def last_words_queue_quietly(cluster_id: int) -> None:
    """When containers failed since the last look, queue the reads of their last lines
    (deployments.logs, by task name: one log call each, in a worker, capped per run).
    One indexed query when nothing failed. Never fails the sync."""
    try:
        if (
            settings.FLEETDECK_LAST_WORDS_PER_SYNC > 0
            and failed_containers_without_last_words(cluster_id).exists()
        ):
            job_enqueue(LAST_WORDS_TASK, cluster_id)
    except Exception:
        log.exception("queueing last words after the sync of cluster %s failed", cluster_id)


def _cluster_sync(
    *,
    cluster_id: int,
    run_id: int | None,
    reader: EcsReader | None,
    described: ClusterInfo | None,
    final: bool,
    reconcile: bool = False,
) -> SyncRun | None:
    """Sync one cluster. Returns its finished ``SyncRun`` (None: no such cluster).

    Permanent AWS errors are recorded on the run and the cluster and returned;
    transient ones are recorded and re-raised (the Celery task retries them; with
    ``final=False`` the run stays open for the retry). ``SyncLockBusy`` is raised
    when another sync of the cluster is running.
    """
    cluster = Cluster.objects.select_related("account").filter(pk=cluster_id).first()
    if cluster is None:
        return None
    run = SyncRun.objects.filter(pk=run_id).first() if run_id else None
    light = reconcile and run is None and reconcile_is_light(cluster)
    started = time.monotonic()
    stats = SyncStats()
    try:
        with cluster_lock(cluster_id=cluster.pk):
            run = run or sync_run_start(account=cluster.account, cluster=cluster, light=light)
            sync_runs_abandoned_close(cluster=cluster, keep_run_id=run.pk)
            reader = reader or account_reader(account=cluster.account, region=cluster.region)
            before = Counter(reader.calls)
            # A retry continues its run: the earlier attempts' waits stay counted.
            waited = reader.budget_wait_ms - run.budget_wait_ms
            try:
                _cluster_phases(cluster, reader, run, stats, described, before)
            except AwsError as exc:
                stats.budget_wait_ms = reader.budget_wait_ms - waited
                stats.errors.append(f"{exc.operation or 'AWS'}: {exc}")
                calls = Counter(reader.calls)
                calls.subtract(before)
                retry = isinstance(exc, AwsTransientError) and not final
                if retry:
                    sync_run_progress(
                        run=run, phase=f"retrying after {exc.code}", stats=stats, calls=+calls
                    )
                else:
                    sync_run_finish(run=run, stats=stats, calls=+calls, ok=False, started=started)
                cluster_mark_synced(cluster=cluster, ok=False, error=str(exc))
                if isinstance(exc, AwsTransientError):
                    exc.sync_run_id = run.pk  # so a retry continues this run
                    raise
                return run
            calls = Counter(reader.calls)
            calls.subtract(before)
            stats.budget_wait_ms = reader.budget_wait_ms - waited
            sync_run_finish(run=run, stats=stats, calls=+calls, ok=True, started=started)
            cluster_mark_synced(cluster=cluster, ok=True, error="; ".join(stats.errors)[:500])
    except SyncLockBusy:
        if run is not None:
            _cluster_lock_busy(run=run, stats=stats, final=final, started=started)
        raise
    return run


def _cluster_lock_busy(*, run: SyncRun, stats: SyncStats, final: bool, started: float) -> None:
    """Another sync holds the cluster: a last attempt fails its run, others wait."""
    if final:
        stats.errors.append("another sync of this cluster was running")
        stats.budget_wait_ms = run.budget_wait_ms
        sync_run_finish(run=run, stats=stats, calls=Counter(), ok=False, started=started)
    else:
        run.phase = "waiting for another sync of this cluster"
        run.save(update_fields=["phase"])


def service_sync(*, service_id: int) -> SyncStats | None:
    """Refresh one service, its deployments and its tasks from AWS (one
    DescribeServices, two ListTasks, the DescribeTasks they need) with the same
    writers as a full sync, under the cluster's lock. For a worker that must not
    report what the mirror has not caught up with yet (a redeploy at its end).

    Raises ``SyncLockBusy`` while a sync of the cluster runs, and ``AwsError``s;
    None when the service is not mirrored. The cluster's last sync is untouched:
    this is not one."""
    service = Service.objects.select_related("cluster__account").filter(pk=service_id).first()
    if service is None:
        return None
    cluster = service.cluster
    stats = SyncStats()
    with cluster_lock(cluster_id=cluster.pk):
        reader = account_reader(account=cluster.account, region=cluster.region)
        infos = reader.services(cluster.arn, [service.arn])
        cluster_services_sync(
            cluster=cluster, reader=reader, stats=stats, infos=infos, complete=False
        )
        service_tasks_sync(cluster=cluster, reader=reader, stats=stats, service_id=service.pk)
    health_refresh(cluster_ids=[cluster.pk])  # the page that waited for this reads it
    return stats


def sync_run_fail(*, run_id: int, message: str) -> None:
    """Close a run whose task gave up (retries exhausted)."""
    run = SyncRun.objects.filter(pk=run_id, status="running").first()
    if run is not None:
        stats = SyncStats(errors=[*run.errors, message], budget_wait_ms=run.budget_wait_ms)
        sync_run_finish(run=run, stats=stats, calls=Counter(run.calls), ok=False, started=0)
        run.duration_ms = None
        run.save(update_fields=["duration_ms"])


def _cluster_phases(
    cluster: Cluster,
    reader: EcsReader,
    run: SyncRun,
    stats: SyncStats,
    described: ClusterInfo | None,
    before: Counter[str],
) -> None:
    def progress(phase: str) -> None:
        calls = Counter(reader.calls)
        calls.subtract(before)
        sync_run_progress(run=run, phase=phase, stats=stats, calls=+calls)

    progress("cluster")
    if described is None:
        infos = reader.clusters([cluster.arn])
        described = next((i for i in infos if i.arn == cluster.arn), None)
    cluster_refresh(cluster=cluster, info=described, stats=stats)
    if described is None or described.status == "INACTIVE":
        return
    # Every listing and describe starts now, on the reader's pool; the database
    # work of one phase overlaps the fetches of the next ones.
    arn = cluster.arn
    mirrored = services_mirrored(cluster) if run.light else None  # light: the differences
    f_instances = reader.submit(instances_fetch, reader=reader, cluster_arn=arn)
    f_services = reader.submit(services_fetch, reader=reader, cluster_arn=arn, mirrored=mirrored)
    f_running = reader.submit(reader.task_arns, arn, "RUNNING")
    # A light reconcile lists no STOPPED tasks: a live row missing from the RUNNING
    # listing is described anyway, to learn how it stopped.
    f_stopped = _listed_nothing() if run.light else reader.submit(reader.task_arns, arn, STOPPED)
    try:
        progress("instances")
        instances = cluster_instances_sync(
            cluster=cluster, reader=reader, stats=stats, infos=f_instances.result()
        )
        progress("services")
        service_infos = f_services.result()
        services = cluster_services_sync(
            cluster=cluster, reader=reader, stats=stats, infos=service_infos, complete=not run.light
        )
        services_refreshed(cluster, service_infos, since=run.started_at)
        progress("deployment history")
        cluster_history_sync(cluster=cluster, reader=reader, stats=stats, infos=service_infos)
        progress("tasks")
        cluster_tasks_sync(
            cluster=cluster,
            reader=reader,
            stats=stats,
            instances=instances,
            services=services,
            listings=(f_running, f_stopped),
            light=run.light,
        )
    finally:
        for f in (f_instances, f_services, f_running, f_stopped):
            f.cancel()
        # Wait for fetches still in flight so no call outlives the sync (and its lock).
        for f in (f_instances, f_services, f_running, f_stopped):
            if not f.cancelled():
                f.exception()


def _listed_nothing() -> Future[list[str]]:
    done: Future[list[str]] = Future()
    done.set_result([])
    return done


def account_sync(
    *, account_id: int, run_id: int | None = None, regions: list[str] | None = None
) -> SyncRun | None:
    """Discover every cluster of every region of an account and sync each in turn.

    The account's run aggregates the calls and counts of its clusters' runs. A
    cluster whose lock is busy is skipped (it is being synced already)."""
    account = AwsAccount.objects.filter(pk=account_id).first()
    if account is None:
        return None
    run = (SyncRun.objects.filter(pk=run_id).first() if run_id else None) or sync_run_start(
        account=account
    )
    started = time.monotonic()
    tally = _AccountTally()
    for region in regions or account.regions or ["us-east-1"]:
        reader = account_reader(account=account, region=region)
        found = _account_region_discover(account, region, reader, run, tally)
        for cluster, info in found:
            if cluster.gone_at is None:
                _account_cluster_sync(cluster, info, reader, run, tally)
        tally.stats.budget_wait_ms += reader.budget_wait_ms
    stats = tally.stats
    sync_run_finish(run=run, stats=stats, calls=tally.calls, ok=tally.ok, started=started)
    account_mark_synced(account=account, ok=tally.ok, error="; ".join(stats.errors)[:4000])
    health_refresh(cluster_ids=[], host_ids=[], account_ids=[account.pk])
    if tally.transient is not None and not tally.ok and not stats.created + stats.updated:
        raise tally.transient
    return run


@dataclass
class _AccountTally:
    """What an account's run adds up over its regions and clusters."""

    stats: SyncStats = field(default_factory=SyncStats)
    calls: Counter[str] = field(default_factory=Counter)
    ok: bool = True
    transient: AwsTransientError | None = None


def _account_region_discover(
    account: AwsAccount, region: str, reader: EcsReader, run: SyncRun, tally: _AccountTally
) -> list[tuple[Cluster, ClusterInfo]]:
    """The clusters of one region (none when listing them failed: recorded)."""
    try:
        if not account.account_id:
            account.account_id = account_discover_id(account=account, region=region)
            account.save(update_fields=["account_id"])
            tally.calls["GetCallerIdentity"] += 1
        sync_run_progress(
            run=run, phase=f"{region}: clusters", stats=tally.stats, calls=tally.calls
        )
        found = account_clusters_sync(
            account=account, region=region, reader=reader, stats=tally.stats
        )
    except AwsError as exc:
        tally.ok = False
        tally.stats.errors.append(f"{region}: {exc}")
        tally.calls.update(reader.calls)
        if isinstance(exc, AwsTransientError):
            tally.transient = exc
        return []
    tally.calls.update(reader.calls)
    return list(found)


def _account_cluster_sync(
    cluster: Cluster, info: ClusterInfo, reader: EcsReader, run: SyncRun, tally: _AccountTally
) -> None:
    """Sync one cluster of the account with the region's reader; add up its run."""
    stats = tally.stats
    phase = f"{cluster.region}: {cluster.name}"
    sync_run_progress(run=run, phase=phase, stats=stats, calls=tally.calls)
    before = Counter(reader.calls)
    try:
        child = cluster_sync(cluster_id=cluster.pk, reader=reader, described=info)
    except SyncLockBusy:
        return
    except AwsTransientError as exc:
        tally.ok = False
        tally.transient = exc
        stats.errors.append(f"{cluster.region}/{cluster.name}: {exc}")
        child = None
    after = Counter(reader.calls)
    after.subtract(before)
    tally.calls.update(+after)
    if child is not None:
        stats.created += child.created_count
        stats.updated += child.updated_count
        stats.gone += child.gone_count
        if child.status != "succeeded":
            tally.ok = False
            stats.errors.extend(f"{cluster.name}: {e}" for e in child.errors)
