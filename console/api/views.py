from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from clusters.core.roles import user_role


@extend_schema(responses={200: OpenApiTypes.OBJECT})
@api_view(["GET"])
def me(request: Request) -> Response:
    """Who the caller is and which role they hold."""
    return Response({"username": request.user.get_username(), "role": user_role(request.user)})
