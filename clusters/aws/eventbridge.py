"""EventBridge adapter: the rule that sends the account's ``aws.ecs`` events of one
region to the stream's SQS queue. PutRule and PutTargets are idempotent; DescribeRule
and ListTargetsByRule say whether they were there already."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from clusters.aws.errors import AwsPermanentError, aws_call_errors
from clusters.aws.session import aws_client

ECS_DETAIL_TYPES = (
    "ECS Task State Change",
    "ECS Container Instance State Change",
    "ECS Deployment State Change",
    "ECS Service Action",
)
TARGET_ID = "fleetdeck-queue"


@dataclass(frozen=True)
class RuleRef:
    name: str
    arn: str
    created: bool
    target_created: bool


def ecs_event_pattern() -> dict[str, Any]:
    return {"source": ["aws.ecs"], "detail-type": list(ECS_DETAIL_TYPES)}


def ecs_rule_ensure(*, account: Any, region: str, name: str, queue_arn: str) -> RuleRef:
    """The rule for the four ECS detail types, targeting ``queue_arn``."""
    events = aws_client(account=account, region=region, service="events")
    with aws_call_errors():
        try:
            events.describe_rule(Name=name)
            created = False
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code != "ResourceNotFoundException":
                raise
            created = True
        arn = str(
            events.put_rule(
                Name=name,
                EventPattern=json.dumps(ecs_event_pattern()),
                State="ENABLED",
                Description="Fleetdeck: ECS events to the console's queue",
            )["RuleArn"]
        )
        targets = events.list_targets_by_rule(Rule=name).get("Targets", []) or []
        present = any(t.get("Id") == TARGET_ID and t.get("Arn") == queue_arn for t in targets)
        if not present:
            out = events.put_targets(Rule=name, Targets=[{"Id": TARGET_ID, "Arn": queue_arn}])
            if out.get("FailedEntryCount"):
                raise AwsPermanentError("PutTargetsFailed", str(out.get("FailedEntries")))
    return RuleRef(name=name, arn=arn, created=created, target_created=not present)
