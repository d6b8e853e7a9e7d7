"""The watcher process against the real engine: events reach the timeline live,
and a watcher killed in the middle catches up on restart with no loss and no
duplicates."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from clusters.docker_sync import TIMELINE_ACTIONS, docker_host_create
from clusters.models import Container, DockerHost, Event, EventSource
from clusters.watcher import backoff_delays
from tests.clusters.docker_helpers import (
    DOCKER_URL,
    TEST_LABEL,
    watcher_kill,
    watcher_start,
)
from tests.peers import wait_until

HEALTHCHECK_FAILS = {"test": ["CMD", "false"], "interval": 300_000_000, "retries": 1}


def _engine_events(engine, since: float) -> Counter[tuple[str, str]]:
    """What the engine itself says happened to our containers since ``since``."""
    raw = engine.client.api.events(
        since=int(since) - 1,
        until=int(time.time()) + 1,
        decode=True,
        filters={"type": "container", "label": f"{TEST_LABEL}={engine.run_id}"},
    )
    out: Counter[tuple[str, str]] = Counter()
    for e in raw:
        if e["Action"].split(":", 1)[0] in TIMELINE_ACTIONS and e["timeNano"] >= since * 1e9:
            out[(e["Actor"]["ID"], e["Action"])] += 1
    return out


def _timeline(ids: set[str]) -> Counter[tuple[str, str]]:
    return Counter(
        (e.container_id, e.details["action"])
        for e in Event.objects.filter(source=EventSource.DOCKER, container_id__in=ids)
    )


def test_backoff_grows_to_a_cap():
    assert backoff_delays(7) == [1, 2, 4, 8, 16, 30, 30]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_watcher_restart_loses_nothing_and_duplicates_nothing(engine, artifacts_dir):
    host = docker_host_create(name="local", endpoint=DOCKER_URL)
    assert host.events_cursor_nanos is not None
    started = host.events_cursor_nanos / 1e9
    log = artifacts_dir / "watcher-test.log"
    log.unlink(missing_ok=True)
    proc = watcher_start(log)
    try:
        _wait_connected(host)
        # Live phase: a start, an OOM kill, a failing healthcheck.
        a = engine.run("a")
        oom = engine.run(
            "oom", "head -c 200m /dev/zero | tail", mem_limit="16m", memswap_limit="16m"
        )
        sick = engine.run("sick", healthcheck=HEALTHCHECK_FAILS)
        wait_until(
            lambda: (
                Event.objects.filter(container_id=oom.id, details__action="oom").exists()
                and Event.objects.filter(
                    container_id=sick.id, details__action="health_status: unhealthy"
                ).exists()
                and Event.objects.filter(container_id=a.id, details__action="start").exists()
            ),
            timeout=60,
        )
        live = list(Event.objects.filter(container_id__in={a.id, oom.id, sick.id}))
        lags = sorted((e.recorded_at - e.occurred_at).total_seconds() for e in live)
        assert lags[-1] <= 2.0, f"event-to-timeline lag {lags[-1]:.2f}s > 2s"
        die = Event.objects.get(container_id=oom.id, details__action="die")
        assert "exit code 137" in die.message and die.severity == "warning"
        assert Event.objects.get(container_id=oom.id, details__action="oom").severity == "error"
    finally:
        watcher_kill(proc)  # SIGKILL: no goodbye, cursor as it was

    # While no watcher runs: kill one, start one, create one, restart one.
    a.kill()
    a.wait(timeout=20)
    b = engine.run("b")
    c = engine.create("c")
    b.restart(timeout=1)

    DockerHost.objects.filter(pk=host.pk).update(watcher_connected_at=None)
    proc = watcher_start(log)
    try:
        _wait_connected(host)
        ids = {a.id, b.id, c.id, oom.id, sick.id}

        def caught_up() -> bool:
            return sum(_timeline(ids).values()) >= sum(_engine_events(engine, started).values())

        wait_until(caught_up, timeout=30, interval=0.3)
        time.sleep(1.0)  # anything extra (a duplicate) would show up now
        expected = _engine_events(engine, started)
        assert _timeline(ids) == expected
        assert expected[(a.id, "die")] == 1 and expected[(b.id, "restart")] == 1
        row = wait_until(
            lambda: Container.objects.filter(container_id=a.id, state="exited").first(), timeout=10
        )
        assert row.exit_code == 137
        assert Container.objects.get(container_id=oom.id).oom_killed
        assert Container.objects.get(container_id=c.id).state == "created"
    finally:
        watcher_kill(proc)


def _wait_connected(host) -> None:
    wait_until(
        lambda: DockerHost.objects.filter(pk=host.pk, watcher_connected_at__isnull=False).exists(),
        timeout=20,
    )
