"""Forced redeploys with the Docker-backed agent: every task of the EXTERNAL
service is a real container on the local engine, Fleetdeck follows that engine
with the real watcher process (``manage.py watch_docker``), and the timeline
shows the host's side of the rollout (container start/die) next to ECS's, in
order and without duplicates."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from clusters.docker_hosts import docker_host_create
from clusters.models import DockerHost, Event, EventSource
from deployments.models import Redeploy, RedeployStatus
from deployments.redeploy import redeploy_execute, redeploy_refresh, service_force_redeploy
from tests.clusters.docker_helpers import DOCKER_URL, watcher_kill, watcher_start
from tests.deployments.redeploy_fleet import Fleet, fleet_create
from tests.peers import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TASK_ARN_LABEL = "com.amazonaws.ecs.task-arn"


@pytest.fixture(autouse=True)
def _sync_every_refresh(settings) -> None:
    """The tests tick the sandbox and refresh at once: no shared-sync gap."""
    settings.FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS = 0


@pytest.fixture
def docker_fleet(sandbox, engine, artifacts_dir) -> Iterator[tuple[Fleet, DockerHost]]:
    """Two external instances linked to the local engine, service ``web`` with 4
    tasks running as containers, the engine registered as a Docker host and the
    watcher process following it. Every container the sandbox starts carries the
    (per-run, unique) cluster label and is removed at the end."""
    cluster = f"rd{engine.run_id}"  # other runs share the engine
    log = artifacts_dir / "redeploy-docker-watcher.log"
    log.unlink(missing_ok=True)
    proc = None
    try:
        fleet = fleet_create(sandbox, desired=4, cluster=cluster, docker_url=DOCKER_URL)
        host = docker_host_create(name="edge-engine", endpoint=DOCKER_URL)
        proc = watcher_start(log)
        wait_until(
            lambda: DockerHost.objects.filter(
                pk=host.pk, watcher_connected_at__isnull=False
            ).exists(),
            timeout=20,
        )
        yield fleet, host
    finally:
        if proc is not None:
            watcher_kill(proc)
        for c in engine.client.containers.list(
            all=True, filters={"label": f"com.amazonaws.ecs.cluster={cluster}"}
        ):
            c.remove(force=True)


def _containers(engine: Any, cluster: str) -> dict[str, str]:
    """task ARN -> container id, for the running containers of ``cluster``."""
    found = engine.client.containers.list(filters={"label": f"com.amazonaws.ecs.cluster={cluster}"})
    by_task = {c.labels[TASK_ARN_LABEL]: c.id for c in found}
    assert len(by_task) == len(found), "one container per task"
    return by_task


def _follow(sandbox: Any, redeploy: Redeploy, ticks: int = 20) -> Redeploy:
    for _ in range(ticks):
        sandbox.client.tick(1)
        redeploy = redeploy_refresh(redeploy_id=redeploy.pk)  # type: ignore[assignment]
        if redeploy.is_terminal:
            return redeploy
    raise AssertionError(f"redeploy still {redeploy.status} after {ticks} ticks")


def _docker_events(container_ids: set[str]) -> list[Event]:
    return list(
        Event.objects.filter(source=EventSource.DOCKER, container_id__in=container_ids).order_by(
            "occurred_at", "id"
        )
    )


def _redeploy(sandbox: Any, fleet: Fleet, operator: Any, reason: str) -> Redeploy:
    result = service_force_redeploy(
        service_id=fleet.services["web"].pk, actor=operator, reason=reason, dispatch=False
    )
    redeploy = redeploy_execute(redeploy_id=result.redeploy.pk)
    assert redeploy is not None and redeploy.status == RedeployStatus.IN_PROGRESS
    return _follow(sandbox, redeploy)


def test_forced_redeploy_shows_the_hosts_container_events_in_order(
    sandbox, engine, docker_fleet, operator
) -> None:
    fleet, host = docker_fleet
    cluster = fleet.services["web"].cluster.name
    old = _containers(engine, cluster)  # task ARN -> container id
    old_tasks = set(fleet.ecs.list_tasks(cluster=cluster, serviceName="web")["taskArns"])
    assert set(old) == old_tasks and len(old_tasks) == 4

    redeploy = _redeploy(sandbox, fleet, operator, "pick up the new config")
    assert redeploy.status == RedeployStatus.COMPLETED, redeploy.aws_error
    new = _containers(engine, cluster)
    new_tasks = set(fleet.ecs.list_tasks(cluster=cluster, serviceName="web")["taskArns"])
    assert set(new) == new_tasks and len(new_tasks) == 4 and new_tasks.isdisjoint(old_tasks)
    described = fleet.ecs.describe_tasks(cluster=cluster, tasks=sorted(new_tasks))["tasks"]
    assert {t["taskArn"]: t["containers"][0]["runtimeId"] for t in described} == new

    # The watcher writes what the engine reports: wait for the 4 starts and 4 deaths.
    old_ids, new_ids = set(old.values()), set(new.values())

    def host_side_seen() -> bool:
        actions = Counter(
            (e.container_id in new_ids, e.details["action"])
            for e in _docker_events(old_ids | new_ids)
        )
        return actions[(True, "start")] == 4 and actions[(False, "die")] == 4

    wait_until(host_side_seen, timeout=20, interval=0.2)

    audit_event = Event.objects.get(source="audit", details__action="service.force_redeploy")
    ours = old_tasks | new_tasks
    events = [
        e
        for e in Event.objects.filter(occurred_at__gte=audit_event.occurred_at).order_by(
            "occurred_at", "id"
        )
        # The engine is shared: other runs' containers are not this rollout's.
        if e.source != EventSource.DOCKER or e.container_id in old_ids | new_ids
    ]
    docker = [e for e in events if e.source == EventSource.DOCKER]

    # No duplicates: each engine event once (the watcher writes it once per
    # container and action), and every other fact once.
    per_container = Counter((e.container_id, e.details["action"]) for e in docker)
    assert max(per_container.values()) == 1, per_container
    facts = [
        (e.source, e.message, e.task_arn, e.service_arn, e.details.get("eventId")) for e in events
    ]
    assert len(facts) == len(set(facts)), [f for f in facts if facts.count(f) > 1]

    # What the host saw: the 4 new containers started (none died), the 4 old ones
    # died; each docker event names its ECS task (the agent's label).
    starts = {e.container_id: i for i, e in enumerate(events) if e.details.get("action") == "start"}
    deaths = {e.container_id: i for i, e in enumerate(events) if e.details.get("action") == "die"}
    assert set(starts) == new_ids and set(deaths) == old_ids
    for e in docker:
        assert e.docker_host == host.name and e.task_arn in ours
        assert e.container_id == (new if e.task_arn in new_tasks else old)[e.task_arn]
    assert all(events[i].message.startswith("Container ecs-app-1-app-") for i in starts.values())

    def position(predicate: Any, what: str) -> int:
        for i, e in enumerate(events):
            if predicate(e):
                return i
        raise AssertionError(f"no {what} on the timeline: {[e.message for e in events]}")

    dep = redeploy.aws_deployment_id
    i_audit = position(lambda e: e.pk == audit_event.pk, "audit entry")
    i_start = position(
        lambda e: (
            e.source == "deployment" and e.message.startswith(f"Deployment {dep} of web started")
        ),
        "deployment start",
    )
    task_running = {
        t: position(
            lambda e, t=t: e.source == "task" and e.task_arn == t and "RUNNING" in e.message,
            f"start of {t}",
        )
        for t in new_tasks
    }
    task_stopped = {
        t: position(
            lambda e, t=t: e.source == "task" and e.task_arn == t and "stopped" in e.message,
            f"stop of {t}",
        )
        for t in old_tasks
    }
    i_steady = max(
        i for i, e in enumerate(events) if e.message == "(service web) has reached a steady state."
    )
    i_done = position(
        lambda e: e.message.startswith("Forced redeploy of web") and "completed" in e.message,
        "completion",
    )
    # Orders are compared only between timestamps from one clock: Fleetdeck's and the
    # engine's (this machine), or ECS's among themselves; the sandbox's manual clock
    # runs ahead of this machine's by 2 s a tick.
    # Audit, then the deployment, then the new containers start on the host ...
    assert i_audit < i_start < min(starts.values())
    # ... and with minimumHealthyPercent 100 the old containers die only after all new
    # ones started; ECS tells the same story (RUNNING before stopped); then steady
    # state, then completion.
    assert max(starts.values()) < min(deaths.values())
    assert max(task_running.values()) < min(task_stopped.values())
    assert max(task_stopped.values()) <= i_steady < i_done
    assert max(deaths.values()) < i_done


def test_failed_redeploy_starts_no_container_and_keeps_the_old_ones(
    sandbox, engine, docker_fleet, operator
) -> None:
    fleet, host = docker_fleet
    cluster = fleet.services["web"].cluster.name
    old = _containers(engine, cluster)
    assert len(old) == 4
    # The same task definition now crashes (exit 137) before its container runs.
    sandbox.client.crash_task_definition(fleet.task_definition_arn, exit_code=137)

    redeploy = _redeploy(sandbox, fleet, operator, "restart")
    assert redeploy.status == RedeployStatus.FAILED
    assert "deployment failed: tasks failed to start" in redeploy.aws_error

    # The host's view of a failed rollout: the same 4 old containers still run and
    # no container of the failed deployment ever started.
    assert _containers(engine, cluster) == old
    stopped = fleet.ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"]
    crashed = {
        t["taskArn"]
        for t in fleet.ecs.describe_tasks(cluster=cluster, tasks=stopped)["tasks"]
        if t["startedBy"] == redeploy.aws_deployment_id and t["containers"][0]["exitCode"] == 137
    }
    assert len(crashed) >= 3  # the circuit breaker's threshold
    # The watcher is live (a control): an old task stopped now shows up at once
    # (kill, die, then destroy: the agent removes the container).
    victim = sorted(old)[0]
    sandbox.client.stop_task(victim, exit_code=137)
    wait_until(
        lambda: Event.objects.filter(
            source="docker", container_id=old[victim], details__action="destroy"
        ).exists(),
        timeout=20,
        interval=0.2,
    )

    audit_event = Event.objects.get(source="audit", details__action="service.force_redeploy")
    events = list(
        Event.objects.filter(occurred_at__gte=audit_event.occurred_at).order_by("occurred_at", "id")
    )
    ours = set(old) | crashed
    docker = [e for e in events if e.source == "docker" and e.task_arn in ours]
    # Only the control's container: kill, die, destroy, each once, and after the failure.
    assert sorted(e.details["action"] for e in docker) == ["destroy", "die", "kill"]
    assert {(e.container_id, e.docker_host) for e in docker} == {(old[victim], host.name)}
    crash_events = [
        e for e in events if e.source == "task" and e.task_arn in crashed and "stopped" in e.message
    ]
    assert len(crash_events) == len(crashed) and all(e.severity == "warning" for e in crash_events)
    i_failed = _first(
        events,
        lambda e: e.message.startswith("Forced redeploy of web") and "failed" in e.message,
    )
    i_dep_failed = _first(events, lambda e: "deployment failed: tasks failed to start" in e.message)
    assert events[i_failed].severity == "error"
    i_audit = _first(events, lambda e: e.pk == audit_event.pk)
    i_crash = [events.index(e) for e in crash_events]
    assert i_audit < min(i_crash) and max(i_crash) < i_dep_failed <= i_failed


def _first(events: list[Event], predicate: Any) -> int:
    return next(i for i, e in enumerate(events) if predicate(e))
