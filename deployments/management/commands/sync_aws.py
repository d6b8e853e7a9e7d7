from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clusters.aws.errors import AwsError
from clusters.mirror.sync import SyncLockBusy
from clusters.models import AwsAccount, Cluster, SyncRun
from deployments.sync import account_sync, cluster_sync


def summary(run: SyncRun, label: str) -> str:
    calls = ", ".join(f"{k} {v}" for k, v in sorted(run.calls.items())) or "none"
    line = (
        f"{label}: {run.status} in {run.duration_seconds or 0:.2f}s; "
        f"calls {run.total_calls} ({calls}); created {run.created_count}, "
        f"updated {run.updated_count}, gone {run.gone_count}"
    )
    if run.budget_wait_ms:
        line += f"; waited {run.budget_wait_seconds:.2f}s for the API budget"
    if run.errors:
        line += f"; errors: {'; '.join(run.errors)[:300]}"
    return line


class Command(BaseCommand):
    help = "Sync AWS accounts (or one cluster) into the mirror now, synchronously."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", help="account name (default: every enabled account)")
        parser.add_argument("--cluster", help="cluster name (only this cluster)")

    def handle(self, *args: Any, **opts: Any) -> None:
        accounts = AwsAccount.objects.filter(enabled=True)
        if opts["account"]:
            accounts = AwsAccount.objects.filter(name=opts["account"])
            if not accounts.exists():
                raise CommandError(f"no account named {opts['account']!r}")
        failed = False
        for account in accounts:
            if opts["cluster"]:
                clusters = Cluster.objects.filter(account=account, name=opts["cluster"])
                if not clusters.exists():
                    # Not mirrored yet: discover the account's clusters first.
                    account_sync(account_id=account.pk)
                    clusters = Cluster.objects.filter(account=account, name=opts["cluster"])
                for cluster in clusters:
                    try:
                        run = cluster_sync(cluster_id=cluster.pk)
                    except (AwsError, SyncLockBusy) as exc:
                        self.stdout.write(f"{account.name}/{cluster.region}/{cluster.name}: {exc}")
                        failed = True
                        continue
                    if run is not None:
                        failed |= run.status != "succeeded"
                        self.stdout.write(
                            summary(run, f"{account.name}/{cluster.region}/{cluster.name}")
                        )
                continue
            try:
                parent = account_sync(account_id=account.pk)
            except AwsError as exc:
                self.stdout.write(f"{account.name}: {exc}")
                failed = True
                continue
            if parent is None:
                continue
            children = SyncRun.objects.filter(
                account=account, cluster__isnull=False, started_at__gte=parent.started_at
            ).select_related("cluster")
            for run in reversed(children):
                assert run.cluster is not None
                self.stdout.write(
                    summary(run, f"{account.name}/{run.cluster.region}/{run.cluster.name}")
                )
            self.stdout.write(summary(parent, f"{account.name} (total)"))
            failed |= parent.status != "succeeded"
        if failed:
            raise CommandError("some syncs failed (see above)")
