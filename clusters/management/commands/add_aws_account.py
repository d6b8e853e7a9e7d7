from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from clusters.mirror.accounts import account_upsert


class Command(BaseCommand):
    help = "Add (or update) an AWS account to mirror. Credentials are never stored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--region", action="append", required=True, dest="regions")
        parser.add_argument("--endpoint-url", default="")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--profile", default="")
        group.add_argument("--role-arn", default="")
        parser.add_argument("--external-id", default="")
        parser.add_argument("--disabled", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            account, created = account_upsert(
                name=opts["name"],
                regions=opts["regions"],
                endpoint_url=opts["endpoint_url"],
                profile=opts["profile"],
                role_arn=opts["role_arn"],
                external_id=opts["external_id"],
                enabled=not opts["disabled"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        verb = "added" if created else "updated"
        self.stdout.write(
            f"{verb} account {account.name} ({account.auth_mode}; "
            f"regions {', '.join(account.regions)})"
        )
