"""The Celery app, and every periodic schedule Fleetdeck runs, in one place."""

from __future__ import annotations

import logging
import os
import signal
from datetime import timedelta

from billiard.process import current_process
from celery import Celery
from celery.signals import worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
logger = logging.getLogger(__name__)

app = Celery("fleetdeck")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Every package that holds a tasks.py, in one list; a task's name is its module path.
app.autodiscover_tasks(
    [
        "clusters.core",
        "clusters.mirror",
        "clusters.docker_hosts",
        "clusters.registration",
        "deployments",
        "deployments.drift",
        "deployments.health",
        "deployments.logs",
        "deployments.redeploy",
        "deployments.samples",
        "deployments.service_map",
        "console.alerts",
        "console.ops",
    ]
)


def _interval(name: str, default: int) -> timedelta:
    from django.conf import settings

    return timedelta(seconds=int(getattr(settings, name, default)))


@app.on_after_finalize.connect
def declare_schedules(sender: Celery, **_: object) -> None:
    """All periodic work. A schedule names a task by its dotted path so this module
    does not import the apps (and so the layers stay one-way)."""
    sender.conf.beat_schedule = {
        "heartbeat": {
            "task": "console.ops.tasks.heartbeat",
            "schedule": timedelta(seconds=30),
        },
        "jobs-resend": {
            # The outbox sweep: what the broker refused during an outage runs once
            # it is back (clusters/core/jobs.py).
            "task": "clusters.core.tasks.jobs_resend",
            "schedule": timedelta(seconds=15),
        },
    }
    sender.conf.beat_schedule.update(_app_schedules())


def _app_schedules() -> dict[str, dict[str, object]]:
    """Schedules of later capabilities, declared here so there is one list.

    A task named here that is not (yet) registered is skipped, so a schedule can
    be declared before its task lands without beat sending unknown messages.
    """
    wanted: dict[str, dict[str, object]] = {
        "aws-sync-all": {
            # The fan-out lives in deployments: a cluster sync writes workloads too.
            "task": "deployments.tasks.sync_all_accounts",
            "schedule": _interval("FLEETDECK_SYNC_INTERVAL_SECONDS", 30),
        },
        "docker-sync-all": {
            "task": "clusters.docker_hosts.tasks.sync_all_docker_hosts",
            "schedule": _interval("FLEETDECK_DOCKER_SYNC_INTERVAL_SECONDS", 30),
        },
        "registration-activations-refresh": {
            "task": "clusters.registration.tasks.activations_refresh_all",
            "schedule": _interval("FLEETDECK_REGISTRATION_INTERVAL_SECONDS", 30),
        },
        "registration-waiting-room-scan": {
            "task": "clusters.registration.tasks.waiting_room_scan_all",
            "schedule": _interval("FLEETDECK_REGISTRATION_INTERVAL_SECONDS", 30),
        },
        "health-refresh": {
            # Health also changes with time alone (stale data, a crash window ageing
            # out): the whole fleet is re-evaluated; syncs refresh their cluster at once.
            "task": "deployments.health.tasks.health_refresh_fleet",
            "schedule": _interval("FLEETDECK_HEALTH_INTERVAL_SECONDS", 30),
        },
        "drift-evaluate": {
            "task": "deployments.drift.tasks.evaluate_drift",
            "schedule": _interval("FLEETDECK_DOCKER_SYNC_INTERVAL_SECONDS", 30),
        },
        "prune-history": {
            # Prunes stopped tasks and deployments, then clusters' own history.
            "task": "deployments.tasks.prune_history",
            "schedule": timedelta(hours=1),
        },
        "sample-services": {
            "task": "deployments.samples.tasks.sample_services",
            "schedule": timedelta(seconds=60),
        },
        "evaluate-alerts": {
            "task": "console.alerts.tasks.evaluate_alerts",
            "schedule": _interval("FLEETDECK_ALERT_INTERVAL_SECONDS", 60),
        },
        "redeploys-sweep": {
            "task": "deployments.redeploy.tasks.sweep",
            "schedule": timedelta(minutes=1),
        },
        "prune-events": {
            "task": "clusters.core.tasks.prune_events",
            "schedule": timedelta(hours=1),
        },
    }
    wanted.update(_cloudmap_schedules())
    return {name: entry for name, entry in wanted.items() if entry["task"] in app.tasks}


def _cloudmap_schedules() -> dict[str, dict[str, object]]:
    """The service map's Cloud Map mirror (docs/service-map.md): the catalogue on a slow
    schedule, instances and their health on the sync cadence."""
    return {
        "cloudmap-catalog": {
            "task": "deployments.service_map.tasks.cloudmap_catalog_all",
            "schedule": _interval("FLEETDECK_CLOUDMAP_CATALOG_INTERVAL_SECONDS", 900),
        },
        "cloudmap-instances": {
            "task": "deployments.service_map.tasks.cloudmap_instances_all",
            "schedule": _interval("FLEETDECK_SYNC_INTERVAL_SECONDS", 30),
        },
    }


@worker_ready.connect
def resend_jobs_on_start(sender: object = None, **_: object) -> None:
    """A worker that starts after an outage sends what waited, without waiting for beat."""
    try:
        app.send_task("clusters.core.tasks.jobs_resend")
    except Exception:  # the broker went away again; beat's schedule catches up
        logger.warning("could not queue the outbox sweep at start")


@worker_ready.connect
def sync_fleet_on_start(sender: object = None, **_: object) -> None:
    """First run: sync every enabled account as soon as a worker is up, instead of
    after beat's first interval. Queued through the outbox like any job (kept and
    resent if the broker refuses it). Never a double sync: the fan-out runs once per
    half interval however many workers start (and beat's first tick with them), and
    each cluster's sync holds the cluster's lock."""
    from django.conf import settings
    from django.db import connection

    if not settings.FLEETDECK_SYNC_ON_START:
        return
    from clusters.core.jobs import job_enqueue

    try:
        job_enqueue("deployments.tasks.sync_all_accounts")
    except Exception:  # the database is not there yet; beat's schedule catches up
        logger.warning("could not queue the sync at start", exc_info=True)
    finally:
        connection.close()  # the worker's main process holds no connection between tasks


@worker_process_init.connect
def _pool_children_leave_sigterm_to_the_worker(**_: object) -> None:
    """A supervisor that stops a process by signalling its whole process group
    (honcho under `make run`, systemd's default KillMode) also hits the prefork
    children; they died mid-shutdown and the worker then waited for them forever
    (Celery 5.7, measured), so honcho had to SIGKILL it. The worker alone decides:
    its warm shutdown closes the pool and each child exits after its task; a hard
    time limit still ends a child (billiard follows SIGTERM with SIGKILL)."""
    if current_process().name == "MainProcess":
        return  # the solo pool sends this signal from the worker itself
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
