"""A mirrored service with four deployments over three task definitions, the first
mirrored before Fleetdeck kept container details (for the page and API tests)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from clusters.aws.ecs_task_definitions import _container_definition
from deployments.models import Deployment, Service, TaskDefinition
from tests.console import fleet

ARN = f"arn:aws:ecs:us-east-1:{fleet.ACCOUNT_ID}:task-definition"
LEGACY_KEYS = ("name", "image", "cpu", "memory", "memoryReservation", "essential", "portMappings")


@dataclass
class History:
    service: Service
    tds: list[TaskDefinition]
    deployments: list[Deployment]  # oldest first


def task_definition(revision: int, *, legacy: bool = False, **container: Any) -> TaskDefinition:
    raw = {"name": "web", "image": "example/api:1", "cpu": 128, "memory": 256, **container}
    c = _container_definition(raw)
    if legacy:  # as an older Fleetdeck mirrored it
        c = {k: v for k, v in c.items() if k in LEGACY_KEYS}
    return TaskDefinition.objects.create(
        arn=f"{ARN}/api:{revision}",
        family="api",
        revision=revision,
        network_mode="bridge",
        containers=[c],
    )


def history_create() -> History:
    cluster = fleet.cluster(name="prod")
    service = fleet.service(cluster, "api")
    secret = [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/db"}]
    tds = [
        task_definition(1, legacy=True),
        task_definition(2, environment=[{"name": "LOG_LEVEL", "value": "info"}], secrets=secret),
        task_definition(
            3,
            image="example/api:2",
            memory=512,
            environment=[{"name": "LOG_LEVEL", "value": "debug"}],
            secrets=secret,
        ),
    ]
    now = timezone.now()
    plan = [(tds[0], 40, "INACTIVE"), (tds[1], 30, "INACTIVE"), (tds[1], 20, "ACTIVE")]
    plan.append((tds[2], 10, "PRIMARY"))
    deployments = [
        fleet.deployment(
            service,
            rollout="FAILED" if status == "PRIMARY" else "COMPLETED",
            status=status,
            created=now - timedelta(minutes=minutes),
            task_definition=td,
        )
        for td, minutes, status in plan
    ]
    service.task_definition = tds[2]
    service.save(update_fields=["task_definition"])
    return History(service, tds, deployments)


def page_text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def row_changes(page: str, deployment_id: str) -> str:
    """The text of a service page's "what this deployment changed" cell (in its
    Deployments table; the Deployment history table lists the same ids)."""
    table = page.split('<section class="card" id="deployments">', 1)[1].split("</section>", 1)[0]
    (row,) = [r for r in table.split("<tr") if f'<td class="mono">{deployment_id}</td>' in r]
    return page_text(row.split('data-col="changes">', 1)[1].split("</td>", 1)[0])
