"""Sync Docker hosts now (all enabled hosts, or one)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from clusters.docker_hosts import docker_host_sync, docker_hosts_sync_all
from clusters.models import DockerHost


class Command(BaseCommand):
    help = "Sync containers from Docker hosts: sync_docker [--host NAME]"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["host"]:
            host = DockerHost.objects.filter(name=options["host"]).first()
            if host is None:
                raise CommandError(f"no Docker host named {options['host']!r}")
            result = docker_host_sync(host_id=host.pk)
            results = [result] if result is not None else []
        else:
            results = docker_hosts_sync_all()
        failed = 0
        for r in results:
            name = DockerHost.objects.get(pk=r.host_id).name
            if r.ok:
                self.stdout.write(
                    f"{name}: ok, {r.calls} API call(s), {r.created} new, {r.updated} changed, "
                    f"{r.gone} gone, {r.inspected} inspected"
                )
            else:
                failed += 1
                self.stdout.write(f"{name}: unreachable: {r.error}")
        if failed and options["host"]:
            raise CommandError("the host could not be reached")
