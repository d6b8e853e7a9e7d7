"""Create (idempotently) an account's ECS event stream: per region an SQS queue and
its dead-letter queue, the EventBridge rule and the queue policy (docs/event-stream.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from clusters.aws.errors import AwsError
from clusters.models import AwsAccount
from clusters.stream.setup import event_stream_setup


class Command(BaseCommand):
    help = "Create the SQS queues and EventBridge rule that stream an account's ECS events."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--account", required=True, help="the account's name in Fleetdeck")

    def handle(self, *args: Any, **options: Any) -> None:
        account = AwsAccount.objects.filter(name=options["account"]).first()
        if account is None:
            raise CommandError(f"no account named {options['account']!r}")
        try:
            lines = event_stream_setup(account=account)
        except AwsError as exc:
            raise CommandError(f"AWS refused: {exc}") from exc
        for line in lines:
            self.stdout.write(line)
        self.stdout.write(
            f"{account.name}: event stream ready; run `manage.py follow_events` to follow it"
        )
