"""/api/v1/tasks/<id>/logs?container=NAME&limit=N: a task container's newest log
lines (deployments.logs). Like every page, the API makes no AWS or Docker call in
the request: it answers from the cache a worker fills, or with the container's kept
last words, and queues a fetch; with neither it answers 202 with Retry-After."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from deployments.logs import logs_may_read, logs_read
from deployments.models import Task, TaskContainer

MAX_LIMIT = 1000
RETRY_AFTER = 2


class LogLineSerializer(serializers.Serializer[dict[str, Any]]):
    at = serializers.DateTimeField(allow_null=True)
    stream = serializers.CharField(help_text="stdout or stderr where the source tells them apart")
    message = serializers.CharField(help_text="redacted (docs/logs.md)")


class TaskLogsSerializer(serializers.Serializer[dict[str, Any]]):
    task = serializers.CharField(help_text="task ARN")
    container = serializers.CharField()
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=["cloudwatch", "docker", "kept", ""]
    )
    lines = LogLineSerializer(many=True, help_text="oldest first")
    fetched_at = serializers.DateTimeField(allow_null=True)
    live = serializers.BooleanField(help_text="the task runs: newer lines may come")
    pending = serializers.BooleanField(help_text="a fetch is queued; ask again after Retry-After")
    error = serializers.CharField(help_text="why no (fresh) lines could be read; empty if none")


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValidationError({"limit": [f"limit must be a whole number from 1 to {MAX_LIMIT}."]})
    return int(raw)


@extend_schema(
    tags=["tasks"],
    operation_id="task_logs",
    parameters=[
        OpenApiParameter(
            "container",
            {"type": "string", "minLength": 1},
            required=True,
            description="container name",
        ),
        OpenApiParameter(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            description=f"lines, 1-{MAX_LIMIT}; default 100",
        ),
    ],
    responses={
        200: TaskLogsSerializer,
        202: TaskLogsSerializer,
        400: OpenApiTypes.OBJECT,
        403: OpenApiTypes.OBJECT,
        404: OpenApiTypes.OBJECT,
    },
)
@api_view(["GET"])
def task_logs(request: Request, pk: int) -> Response:
    """A container's newest lines with timestamps and where they came from
    (``cloudwatch``, ``docker``, or ``kept`` last words). 202 with ``Retry-After``
    while a worker reads them for the first time."""
    if not logs_may_read(request.user):
        raise PermissionDenied("Reading container logs needs a higher role.")
    name = request.query_params.get("container", "")
    if not name:
        raise ValidationError({"container": ["container is required (a container name)."]})
    limit = _limit(request)
    task = get_object_or_404(Task.objects.select_related("cluster", "task_definition"), pk=pk)
    container = get_object_or_404(TaskContainer, task=task, name=name)
    container.task = task
    view = logs_read(container=container, mode="tail", limit=limit)
    pending = view.loading and not view.lines
    body = {
        "task": task.arn,
        "container": name,
        "source": view.source,
        "lines": view.lines[-limit:],
        "fetched_at": view.fetched_at,
        "live": view.live,
        "pending": view.loading,
        "error": view.error,
    }
    headers = {"Retry-After": str(RETRY_AFTER)} if view.loading else None
    return Response(body, status=202 if pending else 200, headers=headers)
