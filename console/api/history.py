"""/api/v1/services/<id>/history: the service's deployments as ECS's deployment history
has them (ListServiceDeployments, mirrored and kept past AWS's 90 days), newest first,
each with the revision it deployed (task definition and container images)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from deployments.models import Service, ServiceDeployment
from deployments.selectors import service_deployment_history

MAX_ROWS = 100


class ImageSerializer(serializers.Serializer[dict[str, Any]]):
    containerName = serializers.CharField()
    image = serializers.CharField()
    imageDigest = serializers.CharField(required=False, allow_blank=True)


class HistoryRowSerializer(serializers.ModelSerializer[ServiceDeployment]):
    task_definition = serializers.SerializerMethodField()
    container_images = serializers.SerializerMethodField()

    class Meta:
        model = ServiceDeployment
        fields = [
            "arn",
            "deployment_id",
            "status",
            "status_reason",
            "target_revision_arn",
            "task_definition",
            "container_images",
            "circuit_breaker",
            "rollback",
            "created_at_aws",
            "started_at",
            "finished_at",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="task definition ARN"))
    def get_task_definition(self, row: ServiceDeployment) -> str | None:
        target = getattr(row, "target", None)
        return target.task_definition_arn if target is not None else None

    @extend_schema_field(ImageSerializer(many=True))
    def get_container_images(self, row: ServiceDeployment) -> list[dict[str, Any]]:
        target = getattr(row, "target", None)
        return list(target.container_images) if target is not None else []


@extend_schema(
    tags=["services"],
    operation_id="service_history",
    parameters=[
        OpenApiParameter(
            "limit", OpenApiTypes.INT, description=f"rows, newest first (1-{MAX_ROWS}, default 20)"
        )
    ],
    responses={
        200: HistoryRowSerializer(many=True),
        400: OpenApiTypes.OBJECT,
        404: OpenApiTypes.OBJECT,
    },
)
@api_view(["GET"])
def service_history(request: Request, pk: int) -> Response:
    """The service's deployment history (docs/mirror.md#deployment-history)."""
    service = get_object_or_404(Service, pk=pk)
    raw = request.query_params.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_ROWS:
        raise ValidationError({"limit": [f"Give a whole number from 1 to {MAX_ROWS}."]})
    rows = service_deployment_history(service, limit=int(raw))
    return Response(HistoryRowSerializer(rows, many=True).data)
