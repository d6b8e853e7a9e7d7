"""SSM adapter for ECS Anywhere onboarding: activations and managed instances.

Returns plain dataclasses. The activation code only ever leaves this module inside
``CreatedActivation.code``, which is kept out of ``repr`` so it cannot reach a log
line by accident.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from clusters.aws.errors import translate
from clusters.aws.session import aws_client


@dataclass(frozen=True)
class CreatedActivation:
    activation_id: str
    code: str = field(repr=False)


@dataclass(frozen=True)
class ActivationInfo:
    activation_id: str
    iam_role: str
    registration_limit: int
    registrations_count: int
    expires_at: datetime | None
    expired: bool
    created_at: datetime | None
    description: str
    default_instance_name: str
    tags: dict[str, str]


@dataclass(frozen=True)
class ManagedInstanceInfo:
    instance_id: str  # mi-…
    activation_id: str
    ping_status: str
    computer_name: str
    ip_address: str
    platform_name: str
    platform_version: str
    agent_version: str
    registered_at: datetime | None
    iam_role: str
    name: str


def _translate(exc: Exception) -> Exception:
    return translate(exc)


def _client(account: Any, region: str, *, max_attempts: int = 0) -> Any:
    return aws_client(account=account, region=region, service="ssm", max_attempts=max_attempts)


def _tags(raw: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in raw or []}


def create_activation(
    *,
    account: Any,
    region: str,
    iam_role: str,
    registration_limit: int,
    expires_at: datetime,
    default_instance_name: str = "",
    description: str = "",
    tags: dict[str, str] | None = None,
) -> CreatedActivation:
    params: dict[str, Any] = {
        "IamRole": iam_role,
        "RegistrationLimit": registration_limit,
        "ExpirationDate": expires_at,
    }
    if default_instance_name:
        params["DefaultInstanceName"] = default_instance_name
    if description:
        params["Description"] = description[:256]
    if tags:
        params["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    try:
        # One attempt: CreateActivation is not idempotent, and a blind SDK retry after
        # a lost response would leave a second live code behind. The task retries.
        out = _client(account, region, max_attempts=1).create_activation(**params)
    except (ClientError, BotoCoreError) as exc:
        raise _translate(exc) from None
    return CreatedActivation(activation_id=out["ActivationId"], code=out["ActivationCode"])


def _activation(raw: dict[str, Any]) -> ActivationInfo:
    return ActivationInfo(
        activation_id=raw["ActivationId"],
        iam_role=raw.get("IamRole", ""),
        registration_limit=int(raw.get("RegistrationLimit") or 0),
        registrations_count=int(raw.get("RegistrationsCount") or 0),
        expires_at=raw.get("ExpirationDate"),
        expired=bool(raw.get("Expired")),
        created_at=raw.get("CreatedDate"),
        description=raw.get("Description") or "",
        default_instance_name=raw.get("DefaultInstanceName") or "",
        tags=_tags(raw.get("Tags")),
    )


def describe_activations(
    *, account: Any, region: str, activation_ids: list[str] | None = None
) -> list[ActivationInfo]:
    """Every activation (all pages). A failure raises: the caller must not treat a
    partial listing as complete."""
    client = _client(account, region)
    params: dict[str, Any] = {"MaxResults": 50}
    if activation_ids:
        params["Filters"] = [{"FilterKey": "ActivationIds", "FilterValues": activation_ids}]
    found: list[ActivationInfo] = []
    try:
        while True:
            out = client.describe_activations(**params)
            found.extend(_activation(a) for a in out.get("ActivationList", []))
            token = out.get("NextToken")
            if not token:
                return found
            params["NextToken"] = token
    except (ClientError, BotoCoreError) as exc:
        raise _translate(exc) from None


def delete_activation(*, account: Any, region: str, activation_id: str) -> bool:
    """Delete; returns False when AWS no longer knows the activation (already gone)."""
    try:
        _client(account, region).delete_activation(ActivationId=activation_id)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("InvalidActivationId",):
            return False
        raise _translate(exc) from None
    except BotoCoreError as exc:
        raise _translate(exc) from None
    return True


def _instance(raw: dict[str, Any]) -> ManagedInstanceInfo:
    return ManagedInstanceInfo(
        instance_id=raw["InstanceId"],
        activation_id=raw.get("ActivationId") or "",
        ping_status=raw.get("PingStatus") or "",
        computer_name=raw.get("ComputerName") or "",
        ip_address=raw.get("IPAddress") or "",
        platform_name=raw.get("PlatformName") or "",
        platform_version=raw.get("PlatformVersion") or "",
        agent_version=raw.get("AgentVersion") or "",
        registered_at=raw.get("RegistrationDate"),
        iam_role=raw.get("IamRole") or "",
        name=raw.get("Name") or "",
    )


def iter_instance_information(
    *, account: Any, region: str, instance_ids: list[str] | None = None
) -> Iterator[ManagedInstanceInfo]:
    client = _client(account, region)
    params: dict[str, Any] = {"MaxResults": 50}
    if instance_ids:
        params["Filters"] = [{"Key": "InstanceIds", "Values": instance_ids}]
    try:
        while True:
            out = client.describe_instance_information(**params)
            for raw in out.get("InstanceInformationList", []):
                yield _instance(raw)
            token = out.get("NextToken")
            if not token:
                return
            params["NextToken"] = token
    except (ClientError, BotoCoreError) as exc:
        raise _translate(exc) from None


def describe_instance_information(
    *, account: Any, region: str, instance_ids: list[str] | None = None
) -> dict[str, ManagedInstanceInfo]:
    """Managed instances by ``mi-`` id (all pages)."""
    return {
        i.instance_id: i
        for i in iter_instance_information(
            account=account, region=region, instance_ids=instance_ids
        )
    }


def deregister_managed_instance(*, account: Any, region: str, instance_id: str) -> bool:
    """Deregister from SSM; False when SSM no longer knows the instance."""
    try:
        _client(account, region).deregister_managed_instance(InstanceId=instance_id)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "InvalidInstanceId":
            return False
        raise _translate(exc) from None
    except BotoCoreError as exc:
        raise _translate(exc) from None
    return True
