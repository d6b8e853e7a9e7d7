"""Fixtures and helpers for the onboarding tests: a sandbox-backed account and
cluster, and shortcuts through the request -> approve -> activation steps."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config

from clusters import registration as reg_services
from clusters.aws.session import clients_forget
from clusters.models import Activation, AwsAccount, Cluster, RegistrationRequest


@dataclass
class Fleet:
    account: AwsAccount
    cluster: Cluster
    sandbox: Any

    def boto(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name="us-east-1",
            endpoint_url=self.sandbox.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1}),
        )


def make_fleet(sandbox: Any, name: str = "edge") -> Fleet:
    clients_forget()
    account = AwsAccount.objects.create(
        name="sandbox",
        auth_mode="endpoint",
        endpoint_url=sandbox.url,
        regions=["us-east-1"],
        account_id="123456789012",
    )
    ecs = boto3.client(
        "ecs",
        region_name="us-east-1",
        endpoint_url=sandbox.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    arn = ecs.create_cluster(clusterName=name)["cluster"]["clusterArn"]
    cluster = Cluster.objects.create(account=account, region="us-east-1", arn=arn, name=name)
    return Fleet(account=account, cluster=cluster, sandbox=sandbox)


@pytest.fixture
def fleet(sandbox, db) -> Fleet:  # type: ignore[no-untyped-def]
    return make_fleet(sandbox)


def spec(cluster: Cluster, **overrides: Any) -> reg_services.RequestSpec:
    values: dict[str, Any] = {
        "cluster": cluster,
        "registration_limit": 2,
        "expiry_hours": 24,
        "iam_role": "ecsAnywhereRole",
        "default_instance_name": "edge-box",
        "tags": {"site": "plant-3"},
        "gpu": False,
        "docker_install_source": "docker",
        "justification": "Two new line PCs at plant 3",
    }
    values.update(overrides)
    return reg_services.RequestSpec(**values)


def requested(operator: Any, cluster: Cluster, **overrides: Any) -> RegistrationRequest:
    reg, _ = reg_services.registration_request_create(
        actor=operator, spec=spec(cluster, **overrides), idempotency_token=uuid.uuid4()
    )
    return reg


def activated(operator: Any, admin: Any, cluster: Cluster, **overrides: Any) -> Activation:
    reg = requested(operator, cluster, **overrides)
    reg_services.registration_approve(actor=admin, registration_request_id=reg.pk)
    activation = reg_services.activation_create(registration_request_id=reg.pk)
    assert activation is not None
    return activation
