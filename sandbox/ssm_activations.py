"""SSM hybrid activations and managed instances (absent from moto 5.2.5).

CreateActivation / DescribeActivations / DeleteActivation,
DescribeInstanceInformation and DeregisterManagedInstance are added to moto's
SSM response class; the state lives on moto's SSM backend object so moto's own
reset wipes it.
"""

from __future__ import annotations

import json
import secrets
import string
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.ssm.models import SimpleSystemManagerBackend
from moto.ssm.responses import SimpleSystemManagerResponse

from sandbox.paging import paginate
from sandbox.state import CLOCK

AGENT_VERSION = "3.3.1142.0"


class ValidationException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("ValidationException", message)


class InvalidActivationId(JsonRESTError):
    def __init__(self, message: str = "The activation ID is not valid.") -> None:
        super().__init__("InvalidActivationId", message)


class InvalidActivation(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidActivation", message)


class InvalidInstanceId(JsonRESTError):
    def __init__(self, message: str = "Instances were not found.") -> None:
        super().__init__("InvalidInstanceId", message)


@dataclass
class Activation:
    id: str
    code: str
    iam_role: str
    registration_limit: int
    expiration: float
    created: float
    description: str | None = None
    default_instance_name: str | None = None
    tags: list[dict[str, str]] = field(default_factory=list)
    registrations: int = 0
    deleted: bool = False

    @property
    def expired(self) -> bool:
        return CLOCK.timestamp() >= self.expiration

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ActivationId": self.id,
            "IamRole": self.iam_role,
            "RegistrationLimit": self.registration_limit,
            "RegistrationsCount": self.registrations,
            "ExpirationDate": self.expiration,
            "Expired": self.expired,
            "CreatedDate": self.created,
            "Tags": self.tags,
        }
        if self.description is not None:
            out["Description"] = self.description
        if self.default_instance_name is not None:
            out["DefaultInstanceName"] = self.default_instance_name
        return out


@dataclass
class ManagedInstance:
    id: str
    activation_id: str
    iam_role: str
    name: str
    computer_name: str
    ip_address: str
    registered: float
    ping_status: str = "Online"
    last_ping: float = field(default_factory=CLOCK.timestamp)
    platform_name: str = "Ubuntu"
    platform_version: str = "22.04"

    def render(self) -> dict[str, Any]:
        return {
            "InstanceId": self.id,
            "PingStatus": self.ping_status,
            "LastPingDateTime": self.last_ping,
            "AgentVersion": AGENT_VERSION,
            "IsLatestVersion": True,
            "PlatformType": "Linux",
            "PlatformName": self.platform_name,
            "PlatformVersion": self.platform_version,
            "ActivationId": self.activation_id,
            "IamRole": self.iam_role,
            "RegistrationDate": self.registered,
            "ResourceType": "ManagedInstance",
            "Name": self.name,
            "IPAddress": self.ip_address,
            "ComputerName": self.computer_name,
            "SourceId": self.id,
            "SourceType": "AWS::SSM::ManagedInstance",
        }


@dataclass
class SsmExt:
    activations: dict[str, Activation] = field(default_factory=dict)
    instances: dict[str, ManagedInstance] = field(default_factory=dict)


def ext(backend: SimpleSystemManagerBackend) -> SsmExt:
    found = backend.__dict__.get("_sandbox_ssm")
    if found is None:
        found = backend.__dict__["_sandbox_ssm"] = SsmExt()
    return found  # type: ignore[no-any-return]


def activation_code() -> str:
    """AWS activation codes are 20 characters."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(20))


def _ts(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def create_activation(
    backend: SimpleSystemManagerBackend,
    *,
    iam_role: str | None,
    registration_limit: int | None = None,
    expiration: Any = None,
    description: str | None = None,
    default_instance_name: str | None = None,
    tags: list[dict[str, str]] | None = None,
) -> Activation:
    if not iam_role:
        raise ValidationException(
            "1 validation error detected: Value null at 'iamRole' failed to satisfy constraint: "
            "Member must not be null"
        )
    limit = 1 if registration_limit is None else int(registration_limit)
    if not 1 <= limit <= 1000:
        raise ValidationException(
            f"1 validation error detected: Value '{limit}' at 'registrationLimit' failed to "
            "satisfy constraint: Member must have value between 1 and 1000"
        )
    now = CLOCK.timestamp()
    expires = _ts(expiration)
    if expires is None:
        expires = now + 24 * 3600
    elif expires <= now:
        raise ValidationException("ExpirationDate must be in the future.")
    elif expires > now + 30 * 24 * 3600 + 60:
        raise ValidationException("ExpirationDate cannot be more than 30 days in the future.")
    act = Activation(
        id=str(uuid.uuid4()),
        code=activation_code(),
        iam_role=iam_role.split("/")[-1],
        registration_limit=limit,
        expiration=expires,
        created=now,
        description=description,
        default_instance_name=default_instance_name,
        tags=tags or [],
    )
    ext(backend).activations[act.id] = act
    return act


def register_managed_instance(
    backend: SimpleSystemManagerBackend,
    *,
    activation_id: str,
    activation_code: str,
    hostname: str | None = None,
    ip: str | None = None,
) -> ManagedInstance:
    """What the SSM agent does with ``-register -id ... -code ...`` on the machine."""
    state = ext(backend)
    act = state.activations.get(activation_id)
    if act is None or act.deleted:
        raise InvalidActivation("Activation ID is not valid.")
    if not secrets.compare_digest(act.code, activation_code):
        raise InvalidActivation("Activation code is not valid.")
    if act.expired:
        raise InvalidActivation("Activation has expired.")
    if act.registrations >= act.registration_limit:
        raise InvalidActivation("Activation registration limit has been reached.")
    act.registrations += 1
    mid = "mi-" + secrets.token_hex(9)[:17]
    host = hostname or f"edge-{mid[3:9]}"
    inst = ManagedInstance(
        id=mid,
        activation_id=act.id,
        iam_role=act.iam_role,
        name=act.default_instance_name or host,
        computer_name=host,
        ip_address=ip or f"10.20.{secrets.randbelow(250)}.{secrets.randbelow(250) + 2}",
        registered=CLOCK.timestamp(),
    )
    state.instances[mid] = inst
    return inst


# --- response handlers patched onto moto's SSM response class ----------------


def _out(body: dict[str, Any]) -> tuple[str, dict[str, str]]:
    return json.dumps(body), {"Content-Type": "application/x-amz-json-1.1"}


def _create_activation(self: SimpleSystemManagerResponse) -> Any:
    act = create_activation(
        self.ssm_backend,
        iam_role=self._get_param("IamRole"),
        registration_limit=self._get_param("RegistrationLimit"),
        expiration=self._get_param("ExpirationDate"),
        description=self._get_param("Description"),
        default_instance_name=self._get_param("DefaultInstanceName"),
        tags=self._get_param("Tags"),
    )
    return _out({"ActivationId": act.id, "ActivationCode": act.code})


def _describe_activations(self: SimpleSystemManagerResponse) -> Any:
    state = ext(self.ssm_backend)
    items = [a for a in state.activations.values() if not a.deleted]
    for flt in self._get_param("Filters") or []:
        key, values = flt.get("FilterKey"), set(flt.get("FilterValues") or [])
        if key == "ActivationIds":
            items = [a for a in items if a.id in values]
        elif key == "DefaultInstanceName":
            items = [a for a in items if a.default_instance_name in values]
        elif key == "IamRole":
            items = [
                a
                for a in items
                if a.iam_role in values or any(v.endswith("/" + a.iam_role) for v in values)
            ]
        else:
            raise ValidationException(f"Invalid filter key {key}")
    items.sort(key=lambda a: a.created)
    page, token = paginate(
        items,
        self._get_param("NextToken"),
        self._get_param("MaxResults"),
        default=50,
        maximum=50,
        error=ValidationException,
    )
    out: dict[str, Any] = {"ActivationList": [a.render() for a in page]}
    if token:
        out["NextToken"] = token
    return _out(out)


def _delete_activation(self: SimpleSystemManagerResponse) -> Any:
    act = ext(self.ssm_backend).activations.get(self._get_param("ActivationId") or "")
    if act is None or act.deleted:
        raise InvalidActivationId()
    act.deleted = True
    return _out({})


def _describe_instance_information(self: SimpleSystemManagerResponse) -> Any:
    state = ext(self.ssm_backend)
    items = list(state.instances.values())
    filters: list[tuple[str, set[str]]] = []
    for flt in self._get_param("Filters") or []:
        filters.append((flt.get("Key"), set(flt.get("Values") or [])))
    for flt in self._get_param("InstanceInformationFilterList") or []:
        filters.append((flt.get("key"), set(flt.get("valueSet") or [])))
    for key, values in filters:
        attr = {
            "InstanceIds": "id",
            "ActivationIds": "activation_id",
            "PingStatus": "ping_status",
            "IamRole": "iam_role",
        }.get(key)
        if key == "ResourceType":
            items = items if "ManagedInstance" in values else []
            continue
        if key == "PlatformTypes":
            items = items if "Linux" in values else []
            continue
        if attr is None:
            raise JsonRESTError(
                "InvalidInstanceInformationFilterValue", f"Invalid filter key {key}"
            )
        items = [i for i in items if getattr(i, attr) in values]
    items.sort(key=lambda i: (i.registered, i.id))
    page, token = paginate(
        items,
        self._get_param("NextToken"),
        self._get_param("MaxResults"),
        default=50,
        maximum=50,
        error=ValidationException,
    )
    out: dict[str, Any] = {"InstanceInformationList": [i.render() for i in page]}
    if token:
        out["NextToken"] = token
    return _out(out)


def _deregister_managed_instance(self: SimpleSystemManagerResponse) -> Any:
    from sandbox import ecs_anywhere

    iid = self._get_param("InstanceId") or ""
    state = ext(self.ssm_backend)
    if iid not in state.instances:
        raise InvalidInstanceId()
    del state.instances[iid]
    ecs_anywhere.on_managed_instance_deregistered(self.region, iid)
    return _out({})


def apply() -> None:
    SimpleSystemManagerResponse.create_activation = _create_activation  # type: ignore[attr-defined]
    SimpleSystemManagerResponse.describe_activations = _describe_activations  # type: ignore[attr-defined]
    SimpleSystemManagerResponse.delete_activation = _delete_activation  # type: ignore[attr-defined]
    SimpleSystemManagerResponse.describe_instance_information = _describe_instance_information  # type: ignore[attr-defined]
    SimpleSystemManagerResponse.deregister_managed_instance = _deregister_managed_instance  # type: ignore[attr-defined]
