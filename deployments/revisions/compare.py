"""The two sides of ``/services/<id>/compare?from=&to=`` (page and API).

A side is named as AWS names it: a deployment id of this service
(``ecs-svc/1234...``), a task definition ARN, or ``family:revision`` (looked up in
the service's account and region). Without ``to``: the service's newest deployment;
without ``from``: the deployment before ``to``. Bad input is a ``CompareError``
naming the parameter, never a 500."""

from __future__ import annotations

import re
from dataclasses import dataclass

from deployments.models import Deployment, Service, TaskDefinition
from deployments.revisions.diff import Change, Line, revision_diff, revision_lines
from deployments.revisions.fields import Revision
from deployments.revisions.selectors import with_previous

# Printable ASCII only: anything else (NUL, control characters) is refused, not queried.
DEPLOYMENT_ID = re.compile(r"ecs-svc/[0-9A-Za-z]{1,64}")
ARN = re.compile(r"arn:[!-~]{1,2043}")
FAMILY_REVISION = re.compile(r"[A-Za-z0-9_-]{1,255}:[0-9]{1,9}")


class CompareError(ValueError):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


@dataclass(frozen=True)
class Side:
    ref: str
    task_definition: TaskDefinition
    deployment: Deployment | None = None


@dataclass(frozen=True)
class Comparison:
    before: Side
    after: Side
    lines: list[Line]
    changes: list[Change]

    @property
    def changed_count(self) -> int:
        return sum(1 for x in self.lines if x.state == "changed")

    @property
    def unknown_count(self) -> int:
        return sum(1 for x in self.lines if x.state == "unknown")


def _arn_prefix(service: Service) -> str:
    """``arn:aws:ecs:<region>:<account>:`` of the service, for ``family:revision``."""
    return ":".join(service.arn.split(":")[:5]) + ":"


def _deployment_side(service: Service, param: str, ref: str) -> Side:
    d = (
        with_previous(Deployment.objects.filter(service=service, deployment_id=ref))
        .select_related("task_definition")
        .first()
    )
    if d is None:
        raise CompareError(param, f"{param}: {ref} is not a deployment of this service.")
    if d.task_definition is None:
        raise CompareError(param, f"{param}: the task definition of {ref} is not mirrored.")
    return Side(ref=ref, task_definition=d.task_definition, deployment=d)


def side_resolve(service: Service, param: str, raw: str) -> Side:
    ref = raw.strip()
    if DEPLOYMENT_ID.fullmatch(ref):
        return _deployment_side(service, param, ref)
    if ARN.fullmatch(ref):
        arn = ref
    elif FAMILY_REVISION.fullmatch(ref):
        arn = f"{_arn_prefix(service)}task-definition/{ref}"
    else:
        raise CompareError(
            param,
            f"{param} must be a deployment id (ecs-svc/...), a task definition ARN "
            "or family:revision.",
        )
    td = TaskDefinition.objects.filter(arn=arn).first()
    if td is None:
        raise CompareError(param, f"{param}: no task definition {ref} is mirrored.")
    return Side(ref=ref, task_definition=td)


def _newest(service: Service) -> Side:
    d = Deployment.objects.filter(service=service).values_list("deployment_id", flat=True).first()
    if d is None:
        raise CompareError("to", "to is required: this service has no deployment mirrored.")
    return _deployment_side(service, "to", d)


def _before(service: Service, after: Side) -> Side:
    prev = getattr(after.deployment, "previous_pk", None)
    if prev is None:
        raise CompareError("from", "from is required: no deployment before the one compared.")
    ref = Deployment.objects.values_list("deployment_id", flat=True).get(pk=prev)
    return _deployment_side(service, "from", ref)


def comparison_build(service: Service, *, from_ref: str, to_ref: str) -> Comparison:
    after = side_resolve(service, "to", to_ref) if to_ref.strip() else _newest(service)
    if from_ref.strip():
        before = side_resolve(service, "from", from_ref)
    else:
        before = _before(service, after)
    rb, ra = Revision.of(before.task_definition), Revision.of(after.task_definition)
    return Comparison(before, after, revision_lines(rb, ra), revision_diff(rb, ra))
