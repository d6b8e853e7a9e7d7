from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from clusters.core.roles import user_role
from console.api.resources import RESOURCES, resource_description


@extend_schema(tags=["api"], responses={200: OpenApiTypes.OBJECT})
@api_view(["GET"])
def me(request: Request) -> Response:
    """Who the caller is and which role they hold."""
    return Response({"username": request.user.get_username(), "role": user_role(request.user)})


class ResourceSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField()
    url = serializers.URLField()
    description = serializers.CharField()
    filters = serializers.ListField(child=serializers.CharField())


class IndexSerializer(serializers.Serializer[dict[str, Any]]):
    resources = ResourceSerializer(many=True)
    schema = serializers.URLField(help_text="the OpenAPI 3 schema (JSON)")
    docs = serializers.URLField(help_text="the schema as browsable docs (Swagger UI)")
    me = serializers.URLField(help_text="who the caller is and which role they hold")


def _resource_filters(name: str) -> list[str]:
    filterset = getattr(RESOURCES[name], "filterset_class", None)
    return list(filterset.base_filters) if filterset else []


@extend_schema(tags=["api"], operation_id="index", responses={200: IndexSerializer})
@api_view(["GET"])
def index(request: Request) -> Response:
    """The API's resources (each a paginated list plus ``<resource>/<id>``), and
    where its schema and docs are."""

    def url(name: str) -> str:
        return request.build_absolute_uri(reverse(name))

    resources = [
        {
            "name": name,
            "url": url(f"api-{name}"),
            "description": resource_description(name),
            "filters": _resource_filters(name),
        }
        for name in RESOURCES
    ]
    return Response(
        {
            "resources": resources,
            "schema": url("api-schema"),
            "docs": url("api-docs"),
            "me": url("api-me"),
        }
    )


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI over /api/v1/schema, served from this origin (drf-spectacular-sidecar)
    so it works offline. The split view loads its start-up script from
    ``?script=`` instead of inline, so the site's CSP (script-src 'self') holds;
    the template keeps styles in a file for style-src 'self'."""

    template_name = "console/api_docs.html"

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        # A refusal (401/403) is the API's JSON error, not an HTML page.
        if getattr(response, "exception", False):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
