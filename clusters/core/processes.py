"""Long-running management commands (the Docker watcher, the event-stream follower):
one way to turn SIGTERM and SIGINT into a stop that their loops wait on."""

from __future__ import annotations

import signal
import threading


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (supervisors and Ctrl-C): loops wait on it
    instead of sleeping, so they finish their step and return promptly."""
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return stop
