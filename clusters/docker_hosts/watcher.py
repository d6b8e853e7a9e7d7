"""The Docker watcher: follows every enabled host's event stream.

One thread per host. Each connects with ``since`` = the host's stored cursor, so
what happened while it was away (a restart, a network cut) is replayed first; the
timeline's dedupe keys make a replayed event a no-op. On errors it reconnects
with exponential backoff and jitter. The main loop picks up added and removed
hosts every few seconds.
"""

from __future__ import annotations

import logging
import random
import threading

from django.db import close_old_connections, connection
from django.utils import timezone

from clusters.docker_hosts import (
    container_refresh,
    docker_events_record,
    docker_host_sync,
    host_endpoint,
)
from clusters.docker_hosts import engine as dockerhosts
from clusters.models import Container, DockerHost

log = logging.getLogger("fleetdeck.watcher")

BACKOFF_START = 1.0
BACKOFF_MAX = 30.0
# Actions after which the container row is refreshed by one inspect.
REFRESH_ACTIONS = {"create", "start", "die", "oom", "restart", "stop", "pause", "unpause", "rename"}


class HostWatcher(threading.Thread):
    def __init__(self, host_id: int) -> None:
        super().__init__(name=f"docker-watch-{host_id}", daemon=True)
        self.host_id = host_id
        # Not `_stop`: that name is Thread._stop(), which join() calls.
        self._halt = threading.Event()
        self._stream: dockerhosts.EventStream | None = None

    def stop(self) -> None:
        self._halt.set()
        stream = self._stream
        if stream is not None:
            stream.close()

    def run(self) -> None:
        backoff = BACKOFF_START
        try:
            while not self._halt.is_set():
                try:
                    self._follow()
                    backoff = BACKOFF_START
                except dockerhosts.DockerHostError as exc:
                    self._note_error(str(exc))
                except Exception as exc:  # a bug must not kill the thread for good
                    log.exception("watcher for host %s failed", self.host_id)
                    self._note_error(f"{type(exc).__name__}: {exc}")
                if self._halt.is_set():
                    break
                delay = backoff * (0.8 + random.random() * 0.4)
                self._halt.wait(delay)
                backoff = min(backoff * 2, BACKOFF_MAX)
        finally:
            connection.close()

    def _note_error(self, error: str) -> None:
        log.warning("host %s: event stream error: %s", self.host_id, error)
        close_old_connections()
        DockerHost.objects.filter(pk=self.host_id).update(
            watcher_error=error[:2000], watcher_connected_at=None
        )

    def _follow(self) -> None:
        close_old_connections()
        host = DockerHost.objects.filter(pk=self.host_id, enabled=True).first()
        if host is None:
            self._halt.set()
            return
        stream = dockerhosts.EventStream(host_endpoint(host), since_nanos=host.events_cursor_nanos)
        self._stream = stream
        if self._halt.is_set():
            stream.close()
            return
        DockerHost.objects.filter(pk=host.pk).update(
            watcher_connected_at=timezone.now(), watcher_error=""
        )
        log.info("host %s: following events since %s", host.name, host.events_cursor_nanos)
        # The engine replays only its last 256 events, so a long outage can lose
        # timeline entries; a listing on every (re)connect at least makes the
        # container rows right again.
        try:
            docker_host_sync(host_id=host.pk)
        except Exception:
            log.exception("host %s: sync after connect failed", host.name)
        try:
            for event in stream:
                if self._halt.is_set():
                    break
                self._handle(host, event)
        finally:
            stream.close()
            self._stream = None
        if not self._halt.is_set():
            raise dockerhosts.DockerUnreachable("event stream ended")

    def _handle(self, host: DockerHost, event: dockerhosts.DockerEvent) -> None:
        close_old_connections()
        # Refresh first: recording advances the host's cursor, so a watcher killed
        # between the two would never replay the event, and the row would keep
        # what it was before (the flaky oom_killed of issue 13).
        try:
            self._refresh(host, event)
        except dockerhosts.DockerHostError as exc:
            log.warning("host %s: refresh of %s failed: %s", host.name, event.container_id, exc)
        docker_events_record(host=host, events=[event])

    def _refresh(self, host: DockerHost, event: dockerhosts.DockerEvent) -> None:
        base = event.action.split(":", 1)[0]
        if base == "destroy":
            container_refresh(host=host, container_id=event.container_id, removed=True)
        elif base in REFRESH_ACTIONS or base == "health_status":
            container_refresh(host=host, container_id=event.container_id)
        if base == "oom":
            # The event is the truth: the engine's State.OOMKilled lags it, and stays
            # false for good when the engine handles the exit before the OOM notice.
            Container.objects.filter(host=host, container_id=event.container_id).update(
                oom_killed=True
            )


def watch_forever(*, stop: threading.Event, rescan_seconds: float = 5.0) -> None:
    """Run watchers for all enabled hosts until ``stop`` is set."""
    watchers: dict[int, HostWatcher] = {}
    try:
        while not stop.is_set():
            close_old_connections()
            wanted = set(DockerHost.objects.filter(enabled=True).values_list("pk", flat=True))
            for host_id in wanted - watchers.keys():
                watchers[host_id] = HostWatcher(host_id)
                watchers[host_id].start()
            for host_id in list(watchers):
                w = watchers[host_id]
                if host_id not in wanted or not w.is_alive():
                    w.stop()
                    del watchers[host_id]
            stop.wait(rescan_seconds)
    finally:
        for w in watchers.values():
            w.stop()
        for w in watchers.values():
            w.join(timeout=5)
        connection.close()


def backoff_delays(n: int) -> list[float]:
    """The nominal reconnect delays (without jitter), for docs and tests."""
    out, b = [], BACKOFF_START
    for _ in range(n):
        out.append(b)
        b = min(b * 2, BACKOFF_MAX)
    return out


__all__ = ["HostWatcher", "backoff_delays", "watch_forever"]
