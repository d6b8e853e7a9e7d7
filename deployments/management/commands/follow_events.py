"""Follow every account's ECS event stream until SIGTERM/SIGINT (docs/event-stream.md)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from clusters.aws.errors import AwsError
from clusters.core.processes import stop_on_signals
from clusters.models import AwsAccount
from clusters.stream.setup import event_stream_setup
from deployments.stream.follow import follow

# Demo mode: the sandbox may still be starting; how long to keep trying.
DEMO_SETUP_ATTEMPTS = 30
DEMO_SETUP_PAUSE_SECONDS = 2.0


class Command(BaseCommand):
    help = "Long-poll the accounts' ECS event queues (setup_event_stream) and apply the events."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--wait", type=int, default=20, help="SQS long-poll seconds (at most 20)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        stop = stop_on_signals()
        self.stdout.write("follow_events: following the ECS event streams", ending="\n")
        self.stdout.flush()
        if settings.FLEETDECK_DEMO:
            threading.Thread(target=self._demo_stream, args=(stop,), daemon=True).start()
        follow(stop=stop, wait_seconds=max(0, min(20, options["wait"])))
        self.stdout.write("follow_events: stopped", ending="\n")

    def _demo_stream(self, stop: threading.Event) -> None:
        """`make run`'s demo: the sandbox forgets its queues when it restarts, so the demo
        account's stream is made again (idempotently) at each start, once the sandbox
        answers; the demo then shows changes within a second, in stream mode."""
        account = AwsAccount.objects.filter(name="demo", enabled=True).first()
        if account is None:
            return
        for _ in range(DEMO_SETUP_ATTEMPTS):
            try:
                event_stream_setup(account=account)
            except AwsError:
                if stop.wait(DEMO_SETUP_PAUSE_SECONDS):
                    return
                continue
            self.stdout.write("follow_events: demo stream ready", ending="\n")
            self.stdout.flush()
            return
