"""docs/event-stream-iac.md: the CloudFormation template deploys (moto's CloudFormation
in the sandbox) and its rule delivers ECS's events to its queue; the Terraform makes the
same resources with the same settings (checked by structure: no HCL parser is installed).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from tests.peers import REPO
from tests.sandbox.helpers import activate_and_register, external_task_definition

DOC = (REPO / "docs" / "event-stream-iac.md").read_text()
DETAIL_TYPES = [
    "ECS Task State Change",
    "ECS Container Instance State Change",
    "ECS Deployment State Change",
    "ECS Service Action",
]


def _block(lang: str) -> str:
    match = re.search(rf"```{lang}\n(.*?)```", DOC, re.S)
    assert match, f"no {lang} block in docs/event-stream-iac.md"
    return match.group(1)


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (!Ref, !GetAtt, !Sub) kept as tagged values."""


_CfnLoader.add_multi_constructor(
    "!",
    lambda loader, tag, node: {tag: loader.construct_scalar(node)},  # type: ignore[arg-type]
)


def test_cloudformation_template_is_the_stream() -> None:
    template = yaml.load(_block("yaml"), Loader=_CfnLoader)
    res = template["Resources"]
    assert {r["Type"] for r in res.values()} == {
        "AWS::SQS::Queue",
        "AWS::Events::Rule",
        "AWS::SQS::QueuePolicy",
    }
    rule = res["EcsEventsRule"]["Properties"]
    assert rule["EventPattern"] == {"source": ["aws.ecs"], "detail-type": DETAIL_TYPES}
    assert rule["Targets"][0]["Arn"] == {"GetAtt": "EventQueue.Arn"}
    redrive = res["EventQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"GetAtt": "DeadLetterQueue.Arn"}
    (statement,) = res["EventQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"GetAtt": "EcsEventsRule.Arn"}}
    }


def test_terraform_makes_the_same_resources() -> None:
    hcl = _block("hcl")
    assert hcl.count("{") == hcl.count("}") and hcl.count("[") == hcl.count("]")
    resources = re.findall(r'^resource "([a-z_]+)" "([a-z_]+)"', hcl, re.M)
    assert sorted(resources) == [
        ("aws_cloudwatch_event_rule", "ecs"),
        ("aws_cloudwatch_event_target", "queue"),
        ("aws_sqs_queue", "dlq"),
        ("aws_sqs_queue", "events"),
        ("aws_sqs_queue_policy", "events"),
    ]
    assert re.findall(r'"(ECS [A-Za-z ]+)"', hcl) == DETAIL_TYPES
    assert 'source = ["aws.ecs"]' in hcl
    assert "deadLetterTargetArn = aws_sqs_queue.dlq.arn" in hcl
    assert '"aws:SourceArn" = aws_cloudwatch_event_rule.ecs.arn' in hcl
    assert 'Principal = { Service = "events.amazonaws.com" }' in hcl
    assert "arn       = aws_sqs_queue.events.arn" in hcl


@pytest.mark.usefixtures("sandbox")
def test_the_cloudformation_stack_delivers_ecs_events(aws: Any, sandbox: Any) -> None:
    """Deployed as a stack: the queue has the redrive policy, 20 s polls, the 60 s
    visibility timeout, and a task started afterwards reaches it as an ECS Task State
    Change event."""
    cfn, sqs = aws("cloudformation"), aws("sqs")
    cfn.create_stack(StackName="fleetdeck-stream", TemplateBody=_block("yaml"))
    stack = cfn.describe_stacks(StackName="fleetdeck-stream")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    url = sqs.get_queue_url(QueueName="fleetdeck-ecs-events")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] == 5
    assert attrs["RedrivePolicy"].find("fleetdeck-ecs-events-dlq") > 0
    assert (attrs["ReceiveMessageWaitTimeSeconds"], attrs["VisibilityTimeout"]) == ("20", "60")
    activate_and_register(aws, sandbox, n=1)
    ecs = aws("ecs")
    external_task_definition(ecs)
    arn = ecs.run_task(cluster="edge", taskDefinition="web", launchType="EXTERNAL")["tasks"][0][
        "taskArn"
    ]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2)
    bodies = [json.loads(m["Body"]) for m in got.get("Messages", [])]
    tasks = [b for b in bodies if b["detail-type"] == "ECS Task State Change"]
    assert [t["resources"] for t in tasks] == [[arn]]
