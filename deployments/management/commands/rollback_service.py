"""``manage.py rollback_service``: roll a service back to the last revision that
completed, with the functions the service page uses.

Without ``--wait`` the rollback is queued for the worker through the outbox, as the
page does. With ``--wait`` the command process (not a web request) makes the AWS
call and follows the rollout itself, with the worker's own functions
(``redeploy_execute``, ``redeploy_refresh``), so it needs no running worker; exit 0
when AWS reports the rollback COMPLETED, 1 when it failed, 2 when it was refused.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from clusters.models import Cluster
from deployments.models import Redeploy, RedeployStatus, Service
from deployments.redeploy import redeploy_execute, redeploy_refresh
from deployments.rollback import RollbackRefused, rollback_plan, service_rollback

REFUSED = 2


class Command(BaseCommand):
    help = "Roll a service back to the last revision that completed (or --to REVISION)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", required=True, help="AWS account name in Fleetdeck")
        parser.add_argument("--cluster", required=True, help="cluster name")
        parser.add_argument("--service", required=True, help="service name")
        parser.add_argument("--reason", required=True, help="why (goes in the audit log)")
        parser.add_argument("--to", default="", help="revision: api:1, 1 or the task def ARN")
        parser.add_argument("--wait", action="store_true", help="follow until AWS reports the end")

    def handle(self, *args: Any, **opts: Any) -> None:
        service = _service(opts["account"], opts["cluster"], opts["service"])
        plan = rollback_plan(service=service, to_revision=opts["to"])
        try:
            result = service_rollback(
                service_id=service.pk,
                actor=None,
                reason=opts["reason"],
                to_revision=opts["to"],
                dispatch=not opts["wait"],
            )
        except RollbackRefused as exc:
            raise CommandError(f"refused: {exc.message}", returncode=REFUSED) from exc
        rollback = result.redeploy
        verb = "requested" if result.created else "already under way"
        self.stdout.write(
            f"rollback #{rollback.pk} of {service.name} to {rollback.target_revision}: {verb}"
        )
        if result.created:
            self.stdout.write(f"method: {plan.method_summary}")
        if not opts["wait"]:
            return
        if not result.created and rollback.status == RedeployStatus.QUEUED:
            raise CommandError("a queued rollback belongs to the worker; run without --wait")
        rollback = self._follow(rollback)
        if rollback.status != RedeployStatus.COMPLETED:
            raise CommandError(f"rollback #{rollback.pk} failed: {rollback.aws_error}")
        self.stdout.write(f"completed: {service.name} runs {rollback.target_revision}")

    def _follow(self, rollback: Redeploy) -> Redeploy:
        """Make the AWS call (once: execute moves the row from queued by
        compare-and-set) and read the rollout until it is terminal, printing changes."""
        current = redeploy_execute(redeploy_id=rollback.pk) or rollback
        last = ""
        while True:
            line = _progress_line(current)
            if line != last:
                self.stdout.write(line)
                last = line
            if current.is_terminal:
                return current
            time.sleep(settings.FLEETDECK_REDEPLOY_POLL_SECONDS)
            current = redeploy_refresh(redeploy_id=rollback.pk) or current


def _progress_line(rollback: Redeploy) -> str:
    deployment = rollback.deployment
    if deployment is None:
        return f"{rollback.status}: deployment {rollback.aws_deployment_id or '(not started)'}"
    return (
        f"{rollback.status}: deployment {deployment.deployment_id} {deployment.status} "
        f"rollout {deployment.rollout_state or '?'} "
        f"{deployment.running_count}/{deployment.desired_count} running"
    )


def _service(account: str, cluster: str, name: str) -> Service:
    clusters = list(
        Cluster.objects.filter(account__name=account, name=cluster, gone_at__isnull=True)
    )
    if len(clusters) != 1:
        found = "no" if not clusters else f"{len(clusters)} (one per region)"
        raise CommandError(f"{found} cluster named {cluster!r} in account {account!r}")
    service = Service.objects.filter(cluster=clusters[0], name=name, gone_at__isnull=True).first()
    if service is None:
        raise CommandError(f"no service named {name!r} in {account}/{cluster}")
    return service
