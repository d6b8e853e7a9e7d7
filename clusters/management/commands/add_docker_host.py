"""Register a Docker host after a connection test."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from clusters.docker_hosts import docker_host_create


class Command(BaseCommand):
    help = "Add a Docker host: add_docker_host NAME ENDPOINT [--instance ARN]"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "endpoint", help="unix:///var/run/docker.sock, tcp://HOST:PORT, ssh://USER@HOST"
        )
        parser.add_argument("--instance", default="", help="container instance ARN to link")
        parser.add_argument("--tls-ca", default="")
        parser.add_argument("--tls-cert", default="")
        parser.add_argument("--tls-key", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            host = docker_host_create(
                name=options["name"],
                endpoint=options["endpoint"],
                tls_ca_path=options["tls_ca"],
                tls_cert_path=options["tls_cert"],
                tls_key_path=options["tls_key"],
                instance_arn=options["instance"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            f"added Docker host {host.name}: {host.endpoint} "
            f"(engine {host.engine_version}, {host.os})"
        )
