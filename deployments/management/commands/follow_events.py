"""Follow every account's ECS event stream until SIGTERM/SIGINT (docs/event-stream.md)."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from deployments.stream.follow import follow


class Command(BaseCommand):
    help = "Long-poll the accounts' ECS event queues (setup_event_stream) and apply the events."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--wait", type=int, default=20, help="SQS long-poll seconds (at most 20)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        stop = threading.Event()

        def _stop(signum: int, frame: object) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        self.stdout.write("follow_events: following the ECS event streams", ending="\n")
        self.stdout.flush()
        follow(stop=stop, wait_seconds=max(0, min(20, options["wait"])))
        self.stdout.write("follow_events: stopped", ending="\n")
