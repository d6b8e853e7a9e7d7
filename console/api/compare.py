"""/api/v1/services/<id>/compare?from=&to=: what changed between two revisions of a
service, as the compare page shows it (deployments.revisions)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from console.api.mirror import ChangeSerializer
from deployments.models import Service
from deployments.revisions.compare import CompareError, Side, comparison_build

REF_HELP = (
    "a deployment id of this service (ecs-svc/...), a task definition ARN, or "
    "family:revision (in the service's account and region)"
)


class SideSerializer(serializers.Serializer[dict[str, Any]]):
    ref = serializers.CharField()
    task_definition = serializers.CharField(help_text="task definition ARN")
    deployment_id = serializers.CharField(allow_null=True)


class LineSerializer(ChangeSerializer):
    state = serializers.ChoiceField(choices=["same", "changed", "unknown"])


class ComparisonSerializer(serializers.Serializer[dict[str, Any]]):
    service = serializers.CharField(help_text="service ARN")
    from_ = SideSerializer()  # "from" in the JSON (a Python keyword here)
    to = SideSerializer()
    changes = ChangeSerializer(many=True)
    lines = LineSerializer(many=True, help_text="every field of both sides, in order")

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


def _side(side: Side) -> dict[str, Any]:
    return {
        "ref": side.ref,
        "task_definition": side.task_definition.arn,
        "deployment_id": side.deployment.deployment_id if side.deployment else None,
    }


@extend_schema(
    tags=["services"],
    operation_id="service_compare",
    parameters=[
        OpenApiParameter(
            "from", OpenApiTypes.STR, description=REF_HELP + "; default: the deployment before `to`"
        ),
        OpenApiParameter(
            "to",
            OpenApiTypes.STR,
            description=REF_HELP + "; default: the service's newest deployment",
        ),
    ],
    responses={200: ComparisonSerializer, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
)
@api_view(["GET"])
def service_compare(request: Request, pk: int) -> Response:
    """What changed between two revisions of a service: ``changes`` (only what
    differs, or is "not recorded") and ``lines`` (both sides, every field)."""
    service = get_object_or_404(Service, pk=pk)
    try:
        comparison = comparison_build(
            service,
            from_ref=request.query_params.get("from", ""),
            to_ref=request.query_params.get("to", ""),
        )
    except CompareError as exc:
        raise ValidationError({exc.param: [exc.message]}) from exc
    lines = [
        {"field": x.field, "before": x.before, "after": x.after, "state": x.state}
        for x in comparison.lines
    ]
    return Response(
        {
            "service": service.arn,
            "from": _side(comparison.before),
            "to": _side(comparison.after),
            "changes": [c.as_dict() for c in comparison.changes],
            "lines": lines,
        }
    )
