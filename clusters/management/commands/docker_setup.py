"""`make run`: register the local Docker socket as a host, once (idempotent)."""

from __future__ import annotations

import os
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from clusters.docker_hosts import docker_host_create
from clusters.models import DockerHost

SOCKET = "/var/run/docker.sock"


class Command(BaseCommand):
    help = "Register the local Docker engine (unix socket) as a Docker host if present."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--name", default="local")
        parser.add_argument("--socket", default=SOCKET)

    def handle(self, *args: Any, **options: Any) -> None:
        endpoint = f"unix://{options['socket']}"
        if DockerHost.objects.filter(endpoint=endpoint).exists():
            self.stdout.write(f"local Docker host already registered ({endpoint})")
            return
        if not os.path.exists(options["socket"]):
            self.stdout.write(f"no Docker socket at {options['socket']}: nothing to register")
            return
        try:
            host = docker_host_create(name=options["name"], endpoint=endpoint)
        except ValidationError as exc:
            # make run goes on without it; the page says how to add one later.
            self.stderr.write(f"local Docker engine not registered: {'; '.join(exc.messages)}")
            return
        self.stdout.write(
            f"registered local Docker host {host.name} (engine {host.engine_version})"
        )
