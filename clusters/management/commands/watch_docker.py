"""Follow every Docker host's event stream until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand

from clusters.core.processes import stop_on_signals
from clusters.docker_hosts.watcher import watch_forever


class Command(BaseCommand):
    help = "Follow the event streams of all enabled Docker hosts and write them to the timeline."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--rescan", type=float, default=5.0, help="seconds between host list checks"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        stop = stop_on_signals()
        self.stdout.write("watch_docker: following Docker hosts' events", ending="\n")
        self.stdout.flush()
        watch_forever(stop=stop, rescan_seconds=options["rescan"])
