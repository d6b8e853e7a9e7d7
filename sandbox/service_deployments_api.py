"""The ECS service-deployment API on moto's response class.

ListServiceDeployments, DescribeServiceDeployments, DescribeServiceRevisions and
StopServiceDeployment, answered from :mod:`sandbox.service_deployments`'s
history; ``apply`` also wraps CreateService / UpdateService (to record the
first deployment and the revision's serviceRegistries / serviceConnect) and the
scheduler's ``new_deployment`` / ``reconcile`` / ``reset``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.ecs.exceptions import ServiceNotFoundException
from moto.ecs.responses import EC2ContainerServiceResponse

from sandbox import ecs_api, scheduler
from sandbox import service_deployments as sd_model
from sandbox.paging import InvalidParameterException, paginate
from sandbox.service_deployments import (
    BATCH_LIMIT,
    HISTORY,
    RETENTION_SECONDS,
    ConflictException,
    ServiceDeploymentNotFoundException,
    render,
    render_brief,
)
from sandbox.state import CLOCK

Handler = Callable[[EC2ContainerServiceResponse], Any]


def _json(body: dict[str, Any]) -> tuple[str, dict[str, str]]:
    return json.dumps(body), dict(ecs_api.JSON_HEADERS)


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        # moto parses the request's epoch number into a naive UTC datetime.
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float(value)


def _in_region(self: EC2ContainerServiceResponse, arn: str) -> bool:
    parts = arn.split(":")
    backend = self.ecs_backend
    return len(parts) >= 6 and parts[3] == backend.region_name and parts[4] == backend.account_id


def list_service_deployments(self: EC2ContainerServiceResponse) -> tuple[str, dict[str, str]]:
    """Newest first; 90 days kept; status and createdAt{before, after} filters."""
    backend = self.ecs_backend
    cluster = ecs_api._cluster(backend, self._get_param("cluster"))
    svc = ecs_api.find_service(backend, cluster.name, self._get_param("service") or "")
    if svc is None:
        raise ServiceNotFoundException()
    statuses = self._get_param("status") or []
    window = self._get_param("createdAt") or {}
    after, before = _epoch(window.get("after")), _epoch(window.get("before"))
    oldest = CLOCK.timestamp() - RETENTION_SECONDS
    found = [
        sd
        for sd in sorted(HISTORY.of_service(svc), key=lambda s: -s.created_at)
        if sd.created_at >= oldest
        and (not statuses or sd.status in statuses)
        and (after is None or sd.created_at >= after)
        and (before is None or sd.created_at <= before)
    ]
    page, token = paginate(
        found, self._get_param("nextToken"), self._get_param("maxResults"), default=20, maximum=100
    )
    body: dict[str, Any] = {"serviceDeployments": [render_brief(sd) for sd in page]}
    if token:
        body["nextToken"] = token
    return _json(body)


def _arns(self: EC2ContainerServiceResponse, key: str) -> list[str]:
    arns = self._get_param(key) or []
    if not arns:
        raise InvalidParameterException(f"{key} cannot be empty.")
    if len(arns) > BATCH_LIMIT:
        raise InvalidParameterException(f"{key} cannot have more than {BATCH_LIMIT} elements")
    return list(arns)


def describe_service_deployments(self: EC2ContainerServiceResponse) -> tuple[str, dict[str, str]]:
    found, failures = [], []
    for arn in _arns(self, "serviceDeploymentArns"):
        sd = HISTORY.deployments.get(arn)
        if sd is None or not _in_region(self, arn):
            failures.append({"arn": arn, "reason": "MISSING"})
        else:
            found.append(render(sd))
    return _json({"serviceDeployments": found, "failures": failures})


def describe_service_revisions(self: EC2ContainerServiceResponse) -> tuple[str, dict[str, str]]:
    found, failures = [], []
    for arn in _arns(self, "serviceRevisionArns"):
        rev = HISTORY.revisions.get(arn)
        if rev is None or not _in_region(self, arn):
            failures.append({"arn": arn, "reason": "MISSING"})
        else:
            found.append(rev.render())
    return _json({"serviceRevisions": found, "failures": failures})


def stop_service_deployment(self: EC2ContainerServiceResponse) -> tuple[str, dict[str, str]]:
    """ROLLBACK from PENDING / IN_PROGRESS; a rollback already asked for goes on."""
    arn = self._get_param("serviceDeploymentArn") or ""
    stop_type = self._get_param("stopType") or "ROLLBACK"
    if stop_type != "ROLLBACK":
        raise InvalidParameterException("The valid values for stopType are ROLLBACK.")
    sd = HISTORY.deployments.get(arn)
    if sd is None or not _in_region(self, arn):
        raise ServiceDeploymentNotFoundException()
    if sd.status in sd_model.IN_FLIGHT:
        sd.move("ROLLBACK_REQUESTED", sd_model.MANUAL_ROLLBACK)
    elif sd.status not in sd_model.ROLLING_BACK:
        raise ConflictException(
            f"The service deployment is {sd.status} and can no longer be stopped."
        )
    return _json({"serviceDeploymentArn": sd.arn})


# --- CreateService / UpdateService: what a revision copies from the request ----


def _remember_request(self: EC2ContainerServiceResponse, svc: Any) -> None:
    registries = self._get_param("serviceRegistries")
    if registries is not None or not hasattr(svc, "service_registries"):
        svc.service_registries = registries or []
    connect = self._get_param("serviceConnectConfiguration")
    if connect is not None or not hasattr(svc, "service_connect"):
        svc.service_connect = connect


def _wrap_create(original: Handler) -> Handler:
    def create_service(self: EC2ContainerServiceResponse) -> Any:
        answer = original(self)
        backend = self.ecs_backend
        cluster = ecs_api._cluster(backend, self._get_param("cluster"))
        svc = ecs_api.find_service(backend, cluster.name, self._get_param("serviceName"))
        if svc is not None:
            _remember_request(self, svc)
            sd_model.adopt(svc)
        return answer

    return create_service


def _wrap_update(original: Handler) -> Handler:
    def update_service(self: EC2ContainerServiceResponse) -> Any:
        backend = self.ecs_backend
        cluster = ecs_api._cluster(backend, self._get_param("cluster"))
        svc = ecs_api.find_service(backend, cluster.name, self._get_param("service") or "")
        if svc is not None:
            _remember_request(self, svc)
        return original(self)

    return update_service


HANDLERS: dict[str, Handler] = {
    "list_service_deployments": list_service_deployments,
    "describe_service_deployments": describe_service_deployments,
    "describe_service_revisions": describe_service_revisions,
    "stop_service_deployment": stop_service_deployment,
}

_applied = False


def apply() -> None:
    """After ``ecs_api.apply()``: add the handlers and wrap what records history."""
    global _applied
    if _applied:
        return
    ecs_api.apply()
    for name, fn in HANDLERS.items():
        setattr(EC2ContainerServiceResponse, name, fn)
    cls = EC2ContainerServiceResponse
    cls.create_service = _wrap_create(cls.create_service)  # type: ignore[method-assign,assignment]
    cls.update_service = _wrap_update(cls.update_service)  # type: ignore[method-assign,assignment]
    scheduler.new_deployment = sd_model.new_deployment  # type: ignore[assignment]
    scheduler.reconcile = sd_model.reconcile  # type: ignore[assignment]
    scheduler.reset = sd_model.reset
    _applied = True
