"""The IAM policy in docs/security.md is exactly what the code calls: nothing the
AWS adapters call is missing (the action would fail in a real account with
AccessDenied while passing against the sandbox, which checks no IAM), and nothing
is granted that no code uses (least privilege).

The adapters in clusters/aws/ are the only code that talks to AWS (import-linter
enforces it); each module talks to one service."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = {
    "ecs.py": "ecs",
    "ecs_actions.py": "ecs",
    "ecs_instances.py": "ecs",
    "ssm.py": "ssm",
    "cloudmap.py": "servicediscovery",
    "session.py": "sts",
    "logs.py": "logs",
    "sqs_queues.py": "sqs",
    "eventbridge.py": "events",
}
# Permissions a call needs besides its own action (AWS documents these):
# CreateActivation with Tags needs ssm:AddTagsToResource, and its IamRole needs
# iam:PassRole on that role.
IMPLIED = {"ssm:CreateActivation": {"ssm:AddTagsToResource", "iam:PassRole"}}
# Batch calls IAM authorizes with the single call's action (SQS documents this).
AUTHORIZED_AS = {"sqs:DeleteMessageBatch": "sqs:DeleteMessage"}


def _policy_actions() -> set[str]:
    text = (ROOT / "docs" / "security.md").read_text()
    section = text.split("## The IAM policy Fleetdeck needs", 1)[1]
    block = re.search(r"```json\n(.*?)```", section, re.S)
    assert block, "docs/security.md has no JSON policy block"
    policy = json.loads(block.group(1))
    actions: set[str] = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        listed = statement["Action"]
        actions |= {listed} if isinstance(listed, str) else set(listed)
    assert not any("*" in a for a in actions), "wildcard actions are not least privilege"
    return actions


def _called_actions() -> set[str]:
    needed: set[str] = set()
    for filename, service in ADAPTERS.items():
        client = boto3.client(  # type: ignore[call-overload]
            service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        by_method = client.meta.method_to_api_mapping
        operations = set(by_method.values())
        tree = ast.parse((ROOT / "clusters" / "aws" / filename).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in by_method:
                needed.add(f"{service}:{by_method[node.attr]}")
            elif isinstance(node, ast.Constant) and str(node.value) in operations:
                needed.add(f"{service}:{node.value!s}")  # EcsReader._call("DescribeTasks", ...)
    for action in list(needed):
        needed |= IMPLIED.get(action, set())
    return {AUTHORIZED_AS.get(action, action) for action in needed}


def test_the_documented_policy_grants_every_call_the_code_makes() -> None:
    called = _called_actions()
    assert {"ecs:DescribeTasks", "ecs:UpdateService", "ssm:CreateActivation"} <= called
    assert "servicediscovery:GetInstancesHealthStatus" in called
    missing = called - _policy_actions()
    assert not missing, f"docs/security.md's policy lacks {sorted(missing)}"


def test_the_documented_policy_grants_nothing_unused() -> None:
    unused = _policy_actions() - _called_actions()
    assert not unused, f"docs/security.md's policy grants unused {sorted(unused)}"
