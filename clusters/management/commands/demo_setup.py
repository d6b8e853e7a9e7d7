from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from clusters.mirror.accounts import account_upsert


class Command(BaseCommand):
    help = "Point the 'demo' AWS account at a sandbox endpoint (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--endpoint-url", required=True)

    def handle(self, *args: Any, **opts: Any) -> None:
        account, created = account_upsert(
            name="demo", regions=["us-east-1", "eu-west-1"], endpoint_url=opts["endpoint_url"]
        )
        verb = "created" if created else "updated"
        self.stdout.write(f"demo account {verb}: {account.endpoint_url}")
