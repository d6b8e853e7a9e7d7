"""SSM hybrid activations, as the SSM API reference describes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError


def test_create_activation_returns_id_and_20_char_code(aws):
    """CreateActivation: returns ActivationId and a secret ActivationCode (AWS codes are
    20 characters); RegistrationLimit defaults to 1 and ExpirationDate to 24 hours.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateActivation.html"""
    ssm = aws("ssm")
    out = ssm.create_activation(
        IamRole="ecsAnywhereRole",
        Description="edge",
        DefaultInstanceName="edge",
        Tags=[{"Key": "site", "Value": "lyon"}],
    )
    assert len(out["ActivationCode"]) == 20
    act = ssm.describe_activations()["ActivationList"][0]
    assert act["ActivationId"] == out["ActivationId"]
    assert act["RegistrationLimit"] == 1
    assert act["RegistrationsCount"] == 0
    assert act["Expired"] is False
    assert act["IamRole"] == "ecsAnywhereRole"
    assert act["DefaultInstanceName"] == "edge"
    assert act["Description"] == "edge"
    assert act["Tags"] == [{"Key": "site", "Value": "lyon"}]
    lifetime = act["ExpirationDate"] - act["CreatedDate"]
    assert timedelta(hours=23, minutes=59) < lifetime <= timedelta(hours=24, seconds=1)
    assert "ActivationCode" not in act


@pytest.mark.parametrize(
    "kwargs",
    [
        {"RegistrationLimit": 0},
        {"RegistrationLimit": 1001},
        {"ExpirationDate": datetime.now(UTC) + timedelta(days=31)},
        {"ExpirationDate": datetime.now(UTC) - timedelta(hours=1)},
    ],
)
def test_create_activation_validates_limit_and_expiry(aws, sandbox, kwargs):
    """RegistrationLimit is 1-1000; ExpirationDate must be in the future and at most
    30 days ahead; violations are ValidationException (CreateActivation reference)."""
    ssm = boto3.client(
        "ssm",
        region_name="us-east-1",
        endpoint_url=sandbox.url,
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )
    with pytest.raises(ClientError) as err:
        ssm.create_activation(IamRole="ecsAnywhereRole", **kwargs)
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_describe_activations_filters_and_pages(aws):
    """DescribeActivations: Filters ActivationIds / DefaultInstanceName / IamRole, and
    MaxResults + NextToken paging.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeActivations.html"""
    ssm = aws("ssm")
    ids = [
        ssm.create_activation(IamRole="roleA" if i % 2 else "roleB", DefaultInstanceName=f"n{i}")[
            "ActivationId"
        ]
        for i in range(5)
    ]
    got = ssm.describe_activations(
        Filters=[{"FilterKey": "ActivationIds", "FilterValues": ids[:2]}]
    )
    assert {a["ActivationId"] for a in got["ActivationList"]} == set(ids[:2])
    got = ssm.describe_activations(Filters=[{"FilterKey": "IamRole", "FilterValues": ["roleA"]}])
    assert len(got["ActivationList"]) == 2
    got = ssm.describe_activations(
        Filters=[{"FilterKey": "DefaultInstanceName", "FilterValues": ["n4"]}]
    )
    assert [a["ActivationId"] for a in got["ActivationList"]] == [ids[4]]
    page1 = ssm.describe_activations(MaxResults=2)
    assert len(page1["ActivationList"]) == 2 and page1["NextToken"]
    seen = [a["ActivationId"] for a in page1["ActivationList"]]
    token = page1["NextToken"]
    while token:
        page = ssm.describe_activations(MaxResults=2, NextToken=token)
        seen += [a["ActivationId"] for a in page["ActivationList"]]
        token = page.get("NextToken")
    assert seen == ids


def test_delete_activation_and_unknown_id(aws):
    """DeleteActivation removes it; an unknown id is InvalidActivationId.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DeleteActivation.html"""
    ssm = aws("ssm")
    aid = ssm.create_activation(IamRole="ecsAnywhereRole")["ActivationId"]
    ssm.delete_activation(ActivationId=aid)
    assert ssm.describe_activations()["ActivationList"] == []
    with pytest.raises(ClientError) as err:
        ssm.delete_activation(ActivationId=aid)
    assert err.value.response["Error"]["Code"] == "InvalidActivationId"


def test_activation_expires_as_time_passes(aws, sandbox):
    """Describe shows Expired=true after ExpirationDate (manual clock: ticks move time)."""
    ssm = aws("ssm")
    ssm.create_activation(IamRole="r", ExpirationDate=datetime.now(UTC) + timedelta(seconds=5))
    assert ssm.describe_activations()["ActivationList"][0]["Expired"] is False
    sandbox.client.tick(4)
    assert ssm.describe_activations()["ActivationList"][0]["Expired"] is True
